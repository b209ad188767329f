import numpy as np

from common.metrics import TokenCrossEntropy


def test_token_cross_entropy_is_the_weighted_mean_over_tokens():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 5, size=(3, 4))
    logits = rng.normal(size=(3, 4, 5)).astype("float32")
    w = np.array([[1, 1, 1, 1], [1, 1, 0, 0], [1, 0, 0, 0]], "float32")
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    ce = -np.take_along_axis(logp, y[..., None], -1)[..., 0]
    metric = TokenCrossEntropy()
    metric.update_state(y, logits, sample_weight=w)
    np.testing.assert_allclose(float(metric.result()), (ce * w).sum() / w.sum(), rtol=1e-5)
    metric.update_state(y, logits)
    np.testing.assert_allclose(float(metric.result()), ((ce * w).sum() + ce.sum()) / (w.sum() + 12), rtol=1e-5)
    metric.reset_state()
    assert float(metric.result()) == 0.0
