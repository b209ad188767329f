"""Export a (compact) Keras model for deployment, and check every export against Keras.

Formats: `.keras` (Keras 3), TensorFlow SavedModel (`model.export`), TFLite float32 and, as an
option, TFLite with dynamic-range int8 weights. The TFLite converter cannot lower the LSTM's
dynamic loop (TensorList ops), so export a model built with `unroll=True` for a fixed window. Each export is reloaded and run on the same input;
the report gives the largest absolute output difference from the Keras model.
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
        for name, quantize in variants if "tflite" in formats else []:
            content = to_tflite(path, int8=quantize)
            file = os.path.join(output_dir, f"model{'_int8' if quantize else ''}.tflite")
            with open(file, "wb") as f:
                f.write(content)
            got = tflite_runner(content, np.shape(sample))(sample)
            report[name] = {"path": file, "bytes": len(content), "max_abs_diff": float(np.abs(got - expected).max())}
    return report
