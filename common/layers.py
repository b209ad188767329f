"""Layers that fix a backend gap of stock Keras for the tasks here.

`LSTM`: keras.layers.LSTM(stateful=True) keeps its carried state in variables that
Keras creates untracked. TensorFlow updates them in place, but the JAX trainer threads only
tracked variables through its compiled steps, so on JAX the state is read as a constant and every
batch starts from zero: the state is not carried. Here the state is a tracked non-trainable
weight, so fit / evaluate / predict carry it on both backends. It is left out of saved weights
(a checkpoint holds no batch-shaped state, exactly as with the stock layer), and the layer is
otherwise the stock one (same cuDNN path, same config). It keeps the class name `LSTM` on
purpose: Keras keys saved weights by class name, so checkpoints stay interchangeable with models
built from keras.layers.LSTM.
"""

from __future__ import annotations

import keras

STATE_PREFIX = "rnn_state"  # the name of every carried-state variable of the layers here


@keras.saving.register_keras_serializable(package="iss_rnns")
class LSTM(keras.layers.LSTM):
    """Drop-in keras.layers.LSTM whose stateful state is carried on the JAX backend too."""

    def _create_state_variables(self, batch_size):
        self.states = [
            self.add_weight(shape=tuple(v.shape), initializer="zeros", trainable=False, name=f"{STATE_PREFIX}_{i}")
            for i, v in enumerate(self.get_initial_state(batch_size))
        ]

    def save_own_variables(self, store):
        pass  # the carried state is run-time, not a weight

    def load_own_variables(self, store):
        pass


def rnn_state_variables(model) -> set[int]:
    """ids of the carried-state variables of every stateful RNN in the model (ours: tracked, named rnn_state*)."""
    return {id(v) for v in model.weights if not v.trainable and v.name.startswith(STATE_PREFIX)}
