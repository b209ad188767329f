import pytest

from common.groups import derive_iss_groups
from common.plotting import plot_weight_sparsity
from tests.helpers import stacked_lstm_model, zero_components


def test_plot_writes_a_png_with_one_panel_per_grouped_matrix(tmp_path):
    import matplotlib.image

    model = stacked_lstm_model(sizes=(5, 4))
    groups = derive_iss_groups(model)
    zero_components(model, groups[0], [1, 2])
    path = plot_weight_sparsity(model, groups, str(tmp_path / "w.png"))
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 5 * 200  # 5 matrices stacked vertically
    # removed components are drawn in red
    red = (image[..., 0] > 0.8) & (image[..., 1] < 0.6) & (image[..., 2] < 0.6)
    assert red.sum() > 100


def test_no_groups_is_a_clear_error_not_a_matplotlib_one(tmp_path):
    with pytest.raises(ValueError, match="draws the matrices of ISS groups; it was given none"):
        plot_weight_sparsity(stacked_lstm_model(sizes=(5, 4)), [], str(tmp_path / "w.png"))
    assert not (tmp_path / "w.png").exists()
