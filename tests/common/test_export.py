import keras
import numpy as np
import pytest

from common.errors import ConfigError
from common.export import export_model


def test_every_export_gives_the_keras_outputs(tmp_path):
    pytest.importorskip("tensorflow")
    if keras.backend.backend() != "tensorflow":
        pytest.skip("SavedModel/TFLite export is exercised on the TensorFlow backend")
    inp = keras.Input((6,), dtype="int32")
    x = keras.layers.Embedding(200, 64)(inp)  # matrices above the converter's 1024-element floor
    x = keras.layers.LSTM(64, return_sequences=True, unroll=True)(x)
    model = keras.Model(inp, keras.layers.Dense(200)(x))
    sample = np.random.randint(0, 200, size=(3, 6)).astype("int32")
    report = export_model(model, str(tmp_path), sample, int8=True)
    assert set(report) == {"keras", "saved_model", "tflite", "tflite_int8"}
    assert report["keras"]["max_abs_diff"] == 0 and report["saved_model"]["max_abs_diff"] < 1e-6
    assert report["tflite"]["max_abs_diff"] < 1e-5 and report["tflite_int8"]["max_abs_diff"] < 0.05
    assert report["tflite_int8"]["bytes"] < report["tflite"]["bytes"]


def test_tflite_on_another_backend_is_refused_with_the_way_out(tmp_path):
    if keras.backend.backend() == "tensorflow":
        pytest.skip("the refusal is for the other backends")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    with pytest.raises(ConfigError, match="KERAS_BACKEND=tensorflow"):
        export_model(model, str(tmp_path), np.zeros((1, 3), "float32"))


def test_a_rolled_lstm_converts_to_tflite_through_an_unrolled_copy_and_a_free_time_axis_is_refused(tmp_path):
    """A user's compact model is usually built with the default unroll=False, which TFLite cannot lower."""
    pytest.importorskip("tensorflow")
    if keras.backend.backend() != "tensorflow":
        pytest.skip("SavedModel/TFLite export is exercised on the TensorFlow backend")
    inp = keras.Input((5, 3))
    x = keras.layers.LSTM(4, return_sequences=True)(inp)
    x = keras.layers.Bidirectional(keras.layers.LSTM(3, return_sequences=True))(x)
    model = keras.Model(inp, keras.layers.Dense(2)(x))
    sample = np.random.default_rng(0).normal(size=(2, 5, 3)).astype("float32")
    report = export_model(model, str(tmp_path / "fixed"), sample, formats=("tflite",))
    assert report["tflite"]["max_abs_diff"] < 1e-5 and not model.get_layer(index=1).unroll  # the model is unchanged
    inp = keras.Input((None, 3))
    free = keras.Model(inp, keras.layers.Dense(2)(keras.layers.LSTM(4, return_sequences=True, name="free")(inp)))
    with pytest.raises(ConfigError, match="unrolls 'free', which needs a fixed number of steps"):
        export_model(free, str(tmp_path / "free"), sample)
    assert not (tmp_path / "free").exists()  # refused before anything was written
