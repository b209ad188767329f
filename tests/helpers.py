"""Test helpers: tiny models, and a numpy reference for ISS groups built from explicit element sets."""

import numpy as np
import keras


def stacked_lstm_model(input_dim=6, sizes=(5, 4), out=3, steps=7, batch=None):
    inp = keras.Input((steps, input_dim), batch_size=batch)
    x = inp
    for i, h in enumerate(sizes):
        x = keras.layers.LSTM(h, return_sequences=True, name=f"lstm{i}")(x)
        x = keras.layers.Dropout(0.1, name=f"drop{i}")(x)
    return keras.Model(inp, keras.layers.Dense(out, name="dense")(x))


def bidirectional_model(input_dim=6, sizes=(5, 4), out=3, steps=7):
    inp = keras.Input((steps, input_dim))
    x = keras.layers.Bidirectional(keras.layers.LSTM(sizes[0], return_sequences=True), name="bi0")(inp)
    x = keras.layers.Bidirectional(keras.layers.LSTM(sizes[1], return_sequences=True), name="bi1")(x)
    return keras.Model(inp, keras.layers.Dense(out, name="dense")(x))


def component_elements(group, k, shapes):
    """Explicit set of (path, row, col) in component k, straight from the slice definition."""
    elements = set()
    for s in group.slices:
        rows, cols = shapes[s.variable]
        if s.axis == 1:  # a row
            elements.update((s.variable, s.start + k, c) for c in range(cols))
        else:  # a column
            elements.update((s.variable, r, s.start + k) for r in range(rows))
    return elements


def numpy_group_sumsq(group, values):
    shapes = {p: v.shape for p, v in values.items()}
    return np.array(
        [sum(float(values[p][r, c]) ** 2 for p, r, c in component_elements(group, k, shapes)) for k in range(group.size)]
    )


def zero_components(model, group, components):
    """Set every weight of the given components of `group` to exactly zero."""
    by_path = {v.path: v for v in model.weights}
    for s in group.slices:
        w = np.array(by_path[s.variable].numpy())
        idx = [s.start + k for k in components]
        if s.axis == 1:
            w[idx, :] = 0
        else:
            w[:, idx] = 0
        by_path[s.variable].assign(w)
