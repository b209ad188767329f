"""Data-parallel training over every local device, behind one --distribute flag, on both backends.

JAX: `keras.distribution.DataParallel`. The compiled step sees the whole batch, sharded along
its first axis, so the model (and the carried RNN state) is built at the global batch size and
the maths are those of one device.

TensorFlow: `tf.distribute.MirroredStrategy`. Each replica runs the step on its own consecutive
slice of every batch, so the model is built at the per-replica batch size; replica r then always
receives rows r*B/n .. (r+1)*B/n - 1, i.e. the same parallel token streams, and its own copy of
the state variables carries exactly those streams. Three gaps of Keras' TensorFlow trainer are
closed here so that the result equals one device:
  - gradient clipping: Keras clips each replica's partial gradient before summing them; here the
    sum is clipped (`clip_after_all_reduce`);
  - the sparsity penalty added in `compute_loss` is scaled by 1/replicas like the data loss
    (`scale_for_replicas`), or its gradient would count n times;
  - dropout: every replica reads the same seed-generator state, so all replicas would draw the same
    masks; here each replica folds its id into the seed (`per_replica_seeds`).
"""

from __future__ import annotations

import contextlib
import dataclasses

import keras

from common.errors import ConfigError

_REPLICA_SEED_STRIDE = 1_000_003  # a prime offset between the seeds of two replicas


def use_host_devices(count: int) -> None:
    """Split the host CPU into `count` devices, for trying --distribute without accelerators.

    Call before the backend has run anything (TensorFlow: logical CPU devices; JAX: the
    jax_num_cpu_devices option, like XLA_FLAGS=--xla_force_host_platform_device_count).
    """
    if count < 1:
        raise ConfigError(f"--host_devices must be >= 1, got {count}")
    if keras.backend.backend() == "jax":
        import jax

        jax.config.update("jax_num_cpu_devices", count)
        return
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)
    except RuntimeError as e:
        raise ConfigError(f"--host_devices: TensorFlow is already initialized ({e})") from None


@dataclasses.dataclass
class Placement:
    """Where a training model lives: how many devices, the batch it is built at, the scope to build it in."""

    devices: int = 1
    model_batch_size: int | None = None  # None: the global batch size
    strategy: object = None  # TensorFlow's MirroredStrategy, when there is one

    def scope(self):
        """Build, compile, restore the training model and its optimizer inside this scope."""
        return self.strategy.scope() if self.strategy is not None else contextlib.nullcontext()

    def prepare(self, model) -> None:
        """After compile: the per-replica fixes of the TensorFlow path (no-op elsewhere)."""
        if self.strategy is not None:
            clip_after_all_reduce(model.optimizer)
            per_replica_seeds(model)

    def release(self) -> None:
        """Back to one device (the JAX distribution is global state)."""
        if keras.backend.backend() == "jax" and self.devices > 1:
            keras.distribution.set_distribution(None)


def data_parallel(batch_size: int) -> Placement:
    """Data-parallel placement over every local accelerator (or every host device when there is none)."""
    if keras.backend.backend() == "jax":
        devices = keras.distribution.list_devices()
        _check_split(batch_size, len(devices))
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
        return Placement(len(devices))
    if keras.backend.backend() != "tensorflow":
        raise ConfigError(f"--distribute supports the jax and tensorflow backends, not {keras.backend.backend()}")
    import tensorflow as tf

    names = [d.name for d in tf.config.list_logical_devices("GPU")] or [
        d.name for d in tf.config.list_logical_devices("CPU")]
    _check_split(batch_size, len(names))
    strategy = tf.distribute.MirroredStrategy(names)
    return Placement(len(names), batch_size // len(names), strategy)


def _check_split(batch_size: int, devices: int) -> None:
    if batch_size % devices:
        raise ConfigError(f"--distribute: batch size {batch_size} does not split over {devices} devices")


def replicas_in_sync() -> int:
    """Replicas that each compute a share of the current step (1 outside TensorFlow's replica context)."""
    if keras.backend.backend() != "tensorflow":
        return 1
    import tensorflow as tf

    return tf.distribute.get_strategy().num_replicas_in_sync


def scale_for_replicas(value):
    """A loss term computed identically on every replica, scaled so that the summed gradients count it once."""
    n = replicas_in_sync()
    return value if n == 1 else value * (1.0 / n)


def clip_after_all_reduce(optimizer) -> None:
    """Make the optimizer clip by the global norm of the replicas' summed gradient, as one device does.

    Keras' TensorFlow optimizer clips before it all-reduces, i.e. each replica by the norm of its
    own part. Here the clip step computes the norm one device would see: dense gradients are
    summed over the replicas first; a sparse (embedding) gradient counts the squares of its slices,
    which is what Keras' global_norm does with the concatenated slices of one device. Each replica
    then hands on its share of the clipped gradient (dense: the clipped sum / n), so the optimizer's
    own all-reduce yields exactly the clipped sum. It replaces the instance's `_clip_gradients`
    (private to Keras, but the only step between the gradients and the update without a custom
    train_step); tests/test_distribute.py checks the result against one device.
    """
    if optimizer.clipnorm or optimizer.clipvalue:
        raise ConfigError("--distribute on TensorFlow supports global_clipnorm, not clipnorm / clipvalue")
    if not optimizer.global_clipnorm:
        return
    import tensorflow as tf

    clip_norm = float(optimizer.global_clipnorm)

    def clip_summed(grads):
        context = tf.distribute.get_replica_context()
        n = context.num_replicas_in_sync if context is not None else 1
        if n == 1:
            return type(optimizer)._clip_gradients(optimizer, grads)
        dense = [i for i, g in enumerate(grads) if g is not None and not isinstance(g, tf.IndexedSlices)]
        sparse = [i for i, g in enumerate(grads) if isinstance(g, tf.IndexedSlices)]
        summed = context.all_reduce(tf.distribute.ReduceOp.SUM, [grads[i] for i in dense]) if dense else []
        squares = tf.add_n([tf.reduce_sum(tf.square(g)) for g in summed] + [tf.constant(0.0)])
        if sparse:
            local = tf.add_n([tf.reduce_sum(tf.square(grads[i].values)) for i in sparse])
            squares += context.all_reduce(tf.distribute.ReduceOp.SUM, local)
        norm = tf.sqrt(squares)
        scale = clip_norm * tf.minimum(1.0 / norm, 1.0 / clip_norm) + (norm - norm)  # NaN/inf stay visible
        out = list(grads)
        for i, g in zip(dense, summed):
            out[i] = g * (scale / n)
        for i in sparse:
            out[i] = tf.IndexedSlices(grads[i].values * scale, grads[i].indices, grads[i].dense_shape)
        return out

    optimizer._clip_gradients = clip_summed


class _ReplicaSeedGenerator(keras.random.SeedGenerator):
    """A SeedGenerator whose seeds differ per replica (same state variable, same checkpoints)."""

    def next(self, ordered=True):
        seed = super().next(ordered)
        import tensorflow as tf

        context = tf.distribute.get_replica_context()
        if context is None or context.num_replicas_in_sync == 1:
            return seed
        replica = tf.cast(context.replica_id_in_sync_group, seed.dtype)
        return seed + tf.stack([replica * _REPLICA_SEED_STRIDE, tf.zeros_like(replica)])


def per_replica_seeds(model) -> int:
    """Give every seed generator of the model's layers per-replica seeds; returns how many."""
    count = 0
    for layer in model._flatten_layers(include_self=True):  # Keras tracks each layer's generators privately
        for generator in getattr(layer, "_seed_generators", []):
            if type(generator) is keras.random.SeedGenerator:
                generator.__class__ = _ReplicaSeedGenerator
                count += 1
    return count
