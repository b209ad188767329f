import csv

import keras
import numpy as np

from common.groups import derive_iss_groups
from common.stats import SparsityLogger, sparsity_stats
from tests.helpers import stacked_lstm_model, zero_components


def test_stats_against_hand_counted_zeros():
    model = stacked_lstm_model(input_dim=6, sizes=(5, 4))
    g0, g1 = derive_iss_groups(model)
    zero_components(model, g0, [0, 3])
    stats = sparsity_stats(model, [g0, g1])
    assert stats["groups"] == {"lstm0": {"size": 5, "live": 3}, "lstm1": {"size": 4, "live": 4}}
    rec = stats["variables"]["lstm0/lstm_cell/recurrent_kernel"]
    w = model.get_layer("lstm0").cell.recurrent_kernel.numpy()
    assert rec["zero_fraction"] == float((w == 0).mean())
    assert rec["zero_rows"] == 2 / 5 and rec["zero_columns"] == 8 / 20
    nxt = stats["variables"]["lstm1/lstm_cell/kernel"]
    assert nxt["zero_rows"] == 2 / 5 and nxt["zero_columns"] == 0
    total = sum(int(np.prod(v.shape)) for v in model.trainable_weights)
    zeros = sum(int((v.numpy() == 0).sum()) for v in model.trainable_weights)
    assert stats["total_weights"] == total
    np.testing.assert_allclose(stats["zero_fraction"], zeros / total)


def test_logger_feeds_csv_logger_each_epoch(tmp_path):
    model = stacked_lstm_model(sizes=(5, 4))
    groups = derive_iss_groups(model)
    zero_components(model, groups[1], [1])
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse")
    path = tmp_path / "log.csv"
    logger = SparsityLogger(groups, csv_path=str(tmp_path / "sparsity.csv"))
    x = np.random.normal(size=(4, 7, 6)).astype("float32")
    model.fit(x, np.zeros((4, 7, 3), "float32"), epochs=2, verbose=0, callbacks=[logger, keras.callbacks.CSVLogger(str(path))])
    rows = list(csv.DictReader(open(path)))
    assert len(rows) == 2
    assert rows[-1]["live/lstm1"] == "3" and rows[-1]["live/lstm0"] == "5"
    detail = list(csv.DictReader(open(tmp_path / "sparsity.csv")))
    assert len(detail) == 2 and float(detail[-1]["zero_rows/dense/kernel"]) == 1 / 4
    assert float(rows[-1]["sparsity"]) == logger.latest["zero_fraction"] > 0
    assert logger.latest["groups"]["lstm1"]["live"] == 3
