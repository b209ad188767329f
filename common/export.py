"""Export a (compact) Keras model for deployment, and check every export against Keras.

Formats: `.keras` (Keras 3), TensorFlow SavedModel (`model.export`), TFLite float32 and, as an
option, TFLite with dynamic-range int8 weights. The TFLite converter cannot lower an RNN's
dynamic loop (TensorList ops), so TFLite is converted from an unrolled copy of the model
(`unrolled_copy`: same weights, a fixed window). Each export is reloaded and run on the same
input; the report gives the largest absolute output difference from the Keras model.
"""

from __future__ import annotations

import os

import keras
import numpy as np

from common.errors import ConfigError


def _tensorflow():
    try:
        import tensorflow as tf
    except ImportError as e:  # the JAX-only GPU image
        raise RuntimeError("SavedModel and TFLite export need tensorflow installed") from e
    return tf


def tflite_runner(model_content: bytes, input_shape):
    """A callable x -> outputs on the TFLite interpreter, sized for inputs of `input_shape`."""
    tf = _tensorflow()
    interpreter = tf.lite.Interpreter(model_content=model_content)
    inp = interpreter.get_input_details()[0]
    interpreter.resize_tensor_input(inp["index"], list(input_shape))
    interpreter.allocate_tensors()
    inp = interpreter.get_input_details()[0]
    out = interpreter.get_output_details()[0]

    def run(x):
        interpreter.set_tensor(inp["index"], np.asarray(x, dtype=inp["dtype"]))
        interpreter.invoke()
        return interpreter.get_tensor(out["index"])

    return run


def _rolled_rnns(model) -> list:
    """The layers of `model` that run an RNN's dynamic loop (an RNN, or a Bidirectional one)."""
    def rolled(layer):
        if isinstance(layer, keras.layers.Bidirectional):
            return rolled(layer.forward_layer) or rolled(layer.backward_layer)
        return isinstance(layer, keras.layers.RNN) and not layer.unroll

    return [layer for layer in model.layers if rolled(layer)]


def unrolled_copy(model):
    """`model` with every RNN unrolled and the same weights: what the TFLite converter can lower.

    Unrolling needs a fixed number of steps, so the model's inputs must have a static time axis.
    """
    def unroll(config):
        if "unroll" in config:
            config["unroll"] = True
        for key in ("layer", "backward_layer"):  # Bidirectional's directions
            if isinstance(config.get(key), dict):
                unroll(config[key]["config"])
        return config

    for rnn in _rolled_rnns(model):
        if any(node.input_tensors[0].shape[1] is None for node in rnn._inbound_nodes):
            raise ConfigError(f"TFLite export unrolls {rnn.name!r}, which needs a fixed number of steps: build the "
                              "model with a static time axis, e.g. keras.Input((steps, features))")
    copy = keras.models.clone_model(model, clone_function=lambda l: l.__class__.from_config(unroll(l.get_config())))
    copy.set_weights(model.get_weights())
    return copy


def to_tflite(saved_model_dir: str, int8: bool = False) -> bytes:
    """Convert a SavedModel to TFLite; int8=True quantizes the weights (dynamic range)."""
    tf = _tensorflow()
    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir)
    if int8:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    return converter.convert()


def export_model(model, output_dir: str, sample, formats=("keras", "saved_model", "tflite"), int8: bool = False) -> dict:
    """Write the model in each format to output_dir; returns {format: {"path", "max_abs_diff"}}.

    TFLite needs the TensorFlow backend: a JAX-backend SavedModel carries the layers' random-seed
    state as uint32 variables, which the converter refuses. The weights are the same on both
    backends, so export with KERAS_BACKEND=tensorflow.
    """
    if "tflite" in formats and keras.backend.backend() != "tensorflow":
        raise ConfigError(f"TFLite export runs on the TensorFlow backend, not {keras.backend.backend()!r}: "
                          "run with KERAS_BACKEND=tensorflow (the model's weights are the same)")
    # before anything is written: a model whose time axis is not fixed cannot be unrolled
    unrolled = unrolled_copy(model) if "tflite" in formats and _rolled_rnns(model) else None
    os.makedirs(output_dir, exist_ok=True)
    expected = np.asarray(model.predict_on_batch(sample))
    report = {}
    if "keras" in formats:
        path = os.path.join(output_dir, "model.keras")
        model.save(path)
        got = keras.models.load_model(path).predict_on_batch(sample)
        report["keras"] = {"path": path, "max_abs_diff": float(np.abs(np.asarray(got) - expected).max())}
    if "saved_model" in formats or "tflite" in formats:
        tf = _tensorflow()
        path = os.path.join(output_dir, "saved_model")
        model.export(path, format="tf_saved_model", verbose=False)
        reloaded = tf.saved_model.load(path)
        got = reloaded.serve(tf.constant(sample))
        report["saved_model"] = {"path": path, "max_abs_diff": float(np.abs(np.asarray(got) - expected).max())}
        variants = [("tflite", False)] + ([("tflite_int8", True)] if int8 else [])
        tflite_source = path
        if unrolled is not None:  # converted from the unrolled copy, checked against `model`
            tflite_source = os.path.join(output_dir, "saved_model_unrolled")
            unrolled.export(tflite_source, format="tf_saved_model", verbose=False)
        for name, quantize in variants if "tflite" in formats else []:
            content = to_tflite(tflite_source, int8=quantize)
            file = os.path.join(output_dir, f"model{'_int8' if quantize else ''}.tflite")
            with open(file, "wb") as f:
                f.write(content)
            got = tflite_runner(content, np.shape(sample))(sample)
            report[name] = {"path": file, "bytes": len(content), "max_abs_diff": float(np.abs(got - expected).max())}
    return report
