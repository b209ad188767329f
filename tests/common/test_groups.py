import keras
import pytest

from common.groups import GroupSlice, ISSGroup, derive_iss_groups, find_variables
from tests.helpers import bidirectional_model, component_elements, stacked_lstm_model


def _shapes(model):
    return {v.path: tuple(v.shape) for v in model.weights}


def test_stacked_lstm_groups_have_gate_columns_recurrent_rows_and_consumer_rows():
    model = stacked_lstm_model(sizes=(5, 4))
    g0, g1 = derive_iss_groups(model)
    assert (g0.layer, g0.size, g1.size) == ("lstm0", 5, 4)
    roles = [s.role for s in g0.slices]
    assert roles.count("input_input_gate_columns") == 1
    assert sum(r.endswith("_columns") for r in roles) == 8  # 4 gates x (kernel, recurrent kernel)
    consumers = [s for s in g0.slices if s.role == "consumer_rows"]
    assert [(s.variable, s.axis, s.start, s.end) for s in consumers] == [("lstm1/lstm_cell/kernel", 1, 0, 5)]
    assert [s.variable for s in g1.slices if s.role == "consumer_rows"] == ["dense/kernel"]
    # gate columns of block g are g*H .. (g+1)*H
    cols = sorted((s.start, s.end) for s in g1.slices if s.variable == "lstm1/lstm_cell/kernel")
    assert cols == [(0, 4), (4, 8), (8, 12), (12, 16)]


def test_component_k_is_exactly_the_weights_that_produce_or_consume_h_k():
    """Built independently from the paper's definition (ISS Sec. 3), element by element."""
    model = stacked_lstm_model(input_dim=6, sizes=(5, 4), out=3)
    shapes = _shapes(model)
    g0 = derive_iss_groups(model)[0]
    H, k = 5, 2
    kx, kh, nxt = "lstm0/lstm_cell/kernel", "lstm0/lstm_cell/recurrent_kernel", "lstm1/lstm_cell/kernel"
    expected = {(kx, r, g * H + k) for r in range(6) for g in range(4)}
    expected |= {(kh, r, g * H + k) for r in range(H) for g in range(4)}
    expected |= {(kh, k, c) for c in range(4 * H)}
    expected |= {(nxt, k, c) for c in range(16)}
    assert component_elements(g0, k, shapes) == expected
    # Components overlap only where row j of W_h meets column k (W_h[j, gH+k] feeds h_j into unit k).
    c1 = component_elements(g0, 1, shapes)
    assert component_elements(g0, k, shapes) & c1 == {(kh, 1, g * H + k) for g in range(4)} | {(kh, k, g * H + 1) for g in range(4)}


def test_bidirectional_directions_own_their_half_of_the_consumer_rows():
    model = bidirectional_model(sizes=(5, 4))
    groups = derive_iss_groups(model)
    assert [g.name for g in groups] == ["bi0/forward", "bi0/backward", "bi1/forward", "bi1/backward"]
    fwd, bwd, fwd1, bwd1 = groups
    rows = lambda g: sorted((s.variable.split("/")[1], s.start, s.end) for s in g.slices if s.role == "consumer_rows")  # noqa: E731
    assert [r[1:] for r in rows(fwd)] == [(0, 5), (0, 5)]  # read by both directions of bi1
    assert [r[1:] for r in rows(bwd)] == [(5, 10), (5, 10)]
    readers = sorted(s.variable for s in fwd.slices if s.role == "consumer_rows")
    assert [v.split("/")[0] for v in readers] == ["bi1", "bi1"]
    assert [v.split("/")[1].split("_")[0] for v in readers] == ["backward", "forward"]
    assert [s.variable for s in bwd1.slices if s.role == "consumer_rows"] == ["dense/kernel"]
    assert [s.start for s in bwd1.slices if s.role == "consumer_rows"] == [4]
    assert (fwd.direction, bwd.direction, bwd.layer) == ("forward", "backward", "bi0")


@pytest.mark.parametrize("reader", [
    lambda: keras.layers.LayerNormalization(name="reader"),
    lambda: keras.layers.GlobalAveragePooling1D(data_format="channels_first", name="reader"),  # pools the features
])
def test_lstm_feeding_an_unsupported_layer_is_a_clear_error(reader):
    inp = keras.Input((3, 2))
    x = keras.layers.LSTM(4, return_sequences=True)(inp)
    model = keras.Model(inp, keras.layers.Dense(2)(reader()(x)))
    with pytest.raises(TypeError, match="'reader'.*LSTM, Bidirectional"):
        derive_iss_groups(model)


def test_lstm_as_model_output_cannot_lose_units():
    inp = keras.Input((3, 2))
    model = keras.Model(inp, keras.layers.LSTM(4)(inp))
    with pytest.raises(ValueError, match="model output"):
        derive_iss_groups(model)


def test_an_lstm_state_read_by_another_layer_is_a_clear_error_and_its_sequence_output_is_not():
    """Encoder-decoder: the encoder's h and c set the decoder's initial state, so its width cannot shrink alone."""
    encoder_in, decoder_in = keras.Input((6, 3)), keras.Input((5, 3))
    _, h, c = keras.layers.LSTM(4, return_state=True, name="enc")(encoder_in)
    decoded = keras.layers.LSTM(4, return_sequences=True, name="dec")(decoder_in, initial_state=[h, c])
    model = keras.Model([encoder_in, decoder_in], keras.layers.Dense(2)(decoded))
    with pytest.raises(TypeError, match="layer 'dec' reads the state of 'enc' \\(return_state\\)"):
        derive_iss_groups(model)
    inp = keras.Input((6, 3))
    sequence, _, _ = keras.layers.LSTM(4, return_sequences=True, return_state=True, name="lstm")(inp)
    (group,) = derive_iss_groups(keras.Model(inp, keras.layers.Dense(2, name="out")(sequence)))
    assert group.name == "lstm" and "out/kernel" in group.variables


def test_lstms_inside_a_nested_model_are_a_clear_error_not_left_out():
    inner = keras.Sequential([keras.Input((6, 3)), keras.layers.LSTM(4, return_sequences=True)], name="inner")
    inp = keras.Input((6, 3))
    model = keras.Model(inp, keras.layers.Dense(2)(inner(inp)))
    with pytest.raises(TypeError, match="LSTMs inside the nested model 'inner'"):
        derive_iss_groups(model)


def test_bad_group_definitions_are_rejected():
    with pytest.raises(ValueError, match="same number of components"):
        ISSGroup("g", (GroupSlice("a", 0, 0, 3), GroupSlice("b", 1, 0, 4)))
    with pytest.raises(ValueError, match="overlap"):
        ISSGroup("g", (GroupSlice("a", 0, 0, 3), GroupSlice("a", 0, 2, 5)))
    with pytest.raises(ValueError, match="axis must be 0 or 1"):
        GroupSlice("a", 2, 0, 3)
    with pytest.raises(ValueError, match="start < end"):
        GroupSlice("a", 1, 3, 3)


def test_unknown_variable_name_suggests_the_close_one():
    model = stacked_lstm_model()
    with pytest.raises(KeyError, match="did you mean lstm0/lstm_cell/kernel"):
        find_variables(model, ["lstm0/lstm_cel/kernel"])
