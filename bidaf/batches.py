"""Training batches of pre-processed SQuAD for Keras' fit (bidaf.data builds them)."""

from __future__ import annotations

import keras
import numpy as np

from bidaf.data import SquadArrays, bucketed_batches, padded_to_multiple


class SquadBatches(keras.utils.PyDataset):
    """Training batches of a split: (inputs, {"start", "end"}), re-bucketed with a new shuffle every epoch.

    multiple > 1 (data-parallel training): every batch is padded to a multiple of that many rows
    and comes with loss weights that leave the mean loss unchanged (`padded_to_multiple`).
    """

    def __init__(self, data: SquadArrays, examples, batch_size: int, max_context_len: int, seed: int = 0,
                 multiple: int = 1):
        super().__init__()
        self.data, self.examples = data, np.asarray(examples)
        self.batch_size, self.max_context_len, self.seed, self.multiple = batch_size, max_context_len, seed, multiple
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        """Plan the batches of `epoch` (a resumed run continues the same sequence of shuffles)."""
        self.epoch = epoch
        rng = np.random.default_rng(self.seed + self.epoch)
        lengths = np.minimum(self.data.example_context_lengths(self.examples), self.max_context_len)
        self.plan = [self.examples[b] for b in bucketed_batches(lengths, self.batch_size, rng)]

    def __len__(self):
        return len(self.plan)

    def __getitem__(self, i):
        if self.multiple == 1:
            return self.data.batch(self.plan[i], self.max_context_len)
        indices, weights = padded_to_multiple(self.plan[i], self.multiple)
        inputs, targets = self.data.batch(indices, self.max_context_len)
        return inputs, targets, weights  # one array: the same weights for both outputs

    def on_epoch_end(self):
        self.set_epoch(self.epoch + 1)
