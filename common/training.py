"""Training pieces: a Keras model whose loss includes the sparsity penalty, and `sparsify`,
which turns a user's functional LSTM model into one that learns ISS.

The penalty is added in an overridden `compute_loss` (so it is part of the compiled step on
every backend) and the zero threshold is a constraint on each weight (applied right after the
optimizer update). Neither needs a custom train_step, so stock LSTMs keep their cuDNN path.
"""

from __future__ import annotations

import keras

from common.distribute import scale_for_replicas
from common.groups import derive_iss_groups
from common.pruning import attach_zero_threshold, zero_threshold_for
from common.regularizers import L1, SparsityPenalty, StructureGroupLasso


class SparseModel(keras.Model):
    """A functional model trained with `penalty` added to its loss.

    Build it like a functional model: SparseModel(inputs, outputs, penalty=...). The reported
    `loss` includes the penalty; compile a cross-entropy metric to see the data term alone.
    """

    def __init__(self, *args, penalty=None, iss_groups=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.penalty = (penalty or SparsityPenalty()).bind(self)
        self.iss_groups = list(iss_groups)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        loss = super().compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=training)
        if self.penalty.terms:  # every replica adds it; Keras has scaled the data loss by 1/replicas, so scale it too
            loss = loss + scale_for_replicas(self.penalty())
        return loss

    def penalty_value(self) -> float:
        return float(keras.ops.convert_to_numpy(self.penalty())) if self.penalty.terms else 0.0


def sparsify(model, group_lasso: float = 0.0, l1: float = 0.0, zero_threshold: float = 0.0,
             groups=None, l1_variables=None, freeze_zeros: bool = False) -> SparseModel:
    """Wrap a built functional/Sequential model so that training learns ISS.

    group_lasso: ISS strength (lambda); groups default to `derive_iss_groups(model)`.
    l1: L1 strength on `l1_variables` (default: every trainable matrix except embeddings).
    zero_threshold: weights below max(zero_threshold, 2 * l1) are zeroed after each step.
    The returned model shares the layers (and so the weights) of `model`.
    """
    groups = derive_iss_groups(model) if groups is None else list(groups)
    if group_lasso and not groups:  # training would run without the group Lasso it was asked for
        recurrent = [f"{type(layer).__name__} {layer.name!r}" for layer in model.layers
                     if isinstance(layer, (keras.layers.RNN, keras.layers.Bidirectional))]
        found = f" (it has {', '.join(recurrent)}: ISS groups are derived for LSTMs only)" if recurrent else ""
        raise ValueError(f"group_lasso={group_lasso} but model {model.name!r} has no LSTM to form ISS groups from"
                         f"{found}; pass groups= built by hand (see lstm_iss_group)")
    if l1_variables is None:
        embeddings = {v.path for layer in model.layers if isinstance(layer, keras.layers.Embedding) for v in layer.weights}
        l1_variables = [v.path for v in model.trainable_weights if len(v.shape) >= 2 and v.path not in embeddings]
    penalty = SparsityPenalty([StructureGroupLasso(groups, group_lasso), L1(l1_variables, l1)])
    # The model's own input structure (one tensor, list or dict), not the flat `inputs` list: Keras warns
    # when a one-input model built on [x] is fed x. A Sequential has one of each and no `input` until called.
    sequential = isinstance(model, keras.Sequential)
    inputs, outputs = (model.inputs[0], model.outputs[0]) if sequential else (model.input, model.output)
    sparse = SparseModel(inputs=inputs, outputs=outputs, penalty=penalty, iss_groups=groups, name=model.name)
    threshold = zero_threshold_for(zero_threshold, l1)
    if threshold > 0 or freeze_zeros:
        attach_zero_threshold(sparse, threshold, freeze_zeros=freeze_zeros)
    return sparse
