"""What the task entrypoints share: config-file reading, and a user error as one clear line + exit 1.

`evaluate_main` / `extract_main` are the whole `python -m <task>.evaluate` / `<task>.extract`
programs of a language-model task; `train_main` is its training program given how the task's
flags resolve to a config.

Importing this loads no framework, and the programs check their flags, config file, data and
run folder before they import Keras (`RunKind.task()`): a bad input is refused in about a
second, not after TensorFlow's import (8 s on a 2-core machine).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import sys

from absl import flags

from common.errors import ConfigError, DataError, GroupFileError, NonFiniteLossError, RestoreError
from common.run_folder import check_resumable, read_run_config

FLAGS = flags.FLAGS


USER_ERRORS = (DataError, ConfigError, RestoreError, GroupFileError, NonFiniteLossError)


def read_json_object(path: str) -> dict:
    """A config file's JSON object, or a ConfigError that says what is wrong with the file."""
    if not os.path.isfile(path):
        raise ConfigError(f"config file not found: {path}")
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except json.JSONDecodeError as e:
        raise ConfigError(f"{path}: malformed JSON: {e}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object")
    return data


def config_from_flags(presets: dict, apply_config_file, overrides, **fixed):
    """presets[--model], then --config_file (if given), then the flags in `overrides` that were set, then `fixed`."""
    config = presets[FLAGS.model]
    if FLAGS.config_file:
        config = apply_config_file(config, FLAGS.config_file)
    changes = {key: getattr(FLAGS, key) for key in overrides if getattr(FLAGS, key) is not None}
    return dataclasses.replace(config, **changes, **fixed)


def exit_on_user_error(program: str):
    """Decorate main(): a user error prints 'program: error: message' on stderr and exits 1."""

    def wrap(main):
        @functools.wraps(main)
        def run(argv):
            try:
                return main(argv)
            except USER_ERRORS as e:
                print(f"{program}: error: {e}", file=sys.stderr)
                sys.exit(1)

        return run

    return wrap


def _define_run_flags(restore_help: str, data: bool = False, output: bool = False) -> None:
    flags.DEFINE_string("restore_path", None, restore_help, required=True)
    if data:
        flags.DEFINE_string("data_path", None, "Directory with ptb.train.txt, ptb.valid.txt, ptb.test.txt.", required=True)
    if output:
        flags.DEFINE_string("output", None, "Directory for the compact model (a run folder + model.keras).", required=True)


def evaluate_main(program: str, kind):
    """main() of `python -m <task>.evaluate`: valid and test perplexity of a run folder (kind: a RunKind)."""
    _define_run_flags("A train save_path or an extract output.", data=True)

    @exit_on_user_error(program)
    def main(argv):
        del argv
        read_run_config(kind, FLAGS.restore_path)  # a wrong folder or data is refused before Keras loads
        data = kind.load_data(FLAGS.data_path)
        from common import experiment

        result = experiment.evaluate_run(kind.task(), FLAGS.restore_path, FLAGS.data_path, data=data)
        print(f"Valid Perplexity: {result['valid_ppl']:.3f}")
        print(f"Test Perplexity: {result['test_ppl']:.3f}")

    return main


def extract_main(program: str, kind):
    """main() of `python -m <task>.extract`: the compact dense model of a sparse run (kind: a RunKind)."""
    _define_run_flags("A train save_path.", output=True)

    @exit_on_user_error(program)
    def main(argv):
        del argv
        read_run_config(kind, FLAGS.restore_path)
        from common import experiment

        result = experiment.extract_run(kind.task(), FLAGS.restore_path, FLAGS.output)
        print(f"Hidden sizes: {result['hidden_sizes']}")
        print("Kept widths: " + ", ".join(f"{g} {w}" for g, w in zip(result["groups"], result["widths"])))
        print(f"Weights: {result['weights']} (sparse model: {result['sparse_weights']}); "
              f"non-zero: {result['nonzero_weights']}")

    return main


def define_distribute_flags() -> None:
    flags.DEFINE_bool("distribute", False, "Data-parallel training over every local device: each batch is split "
                      "across them (JAX: keras.distribution.DataParallel; TensorFlow: tf.distribute.MirroredStrategy).")
    flags.DEFINE_integer("host_devices", 0, "Split the host CPU into this many devices (0: leave it whole); for "
                         "trying --distribute on a machine without accelerators.", lower_bound=0)


def use_host_devices_flag() -> None:
    """Apply --host_devices; must run before the backend has computed anything."""
    if FLAGS.host_devices:
        from common import distribute

        distribute.use_host_devices(FLAGS.host_devices)


def check_run_folders(kind, config, save_path: str, restore_path: str | None, vocab_size: int | None = None) -> None:
    """Refuse, before Keras loads, a save_path holding another run and a restore_path that is not a run of this task.

    A checkpoint in save_path takes precedence (the run resumes), so restore_path is read only without one.
    """
    resuming = check_resumable(kind, save_path, config, vocab_size) is not None
    if restore_path and not resuming:
        read_run_config(kind, restore_path)


def train_main(program: str, kind, resolve_config, default_save_path: str):
    """main() of `python -m <task>.train`: resolve the config from the flags, train, report.

    Defines the flags every task's training has; the task defines --model and its own. The
    config, the data and the run folders are checked before the model's module (and Keras)
    is imported; kind: the task's RunKind.
    """
    flags.DEFINE_string("data_path", None, "Directory with ptb.train.txt, ptb.valid.txt, ptb.test.txt.", required=True)
    flags.DEFINE_string("save_path", default_save_path, "Output directory; a run found there is resumed.")
    flags.DEFINE_string("restore_path", None, "A previous save_path to start from (fine-tuning).")
    flags.DEFINE_integer("seed", 0, "Random seed (initialization, dropout).")
    flags.DEFINE_bool("display_weights", False, "Write weights.png, the sparsity pattern of each matrix.")
    flags.DEFINE_integer("verbose", 1, "Keras fit verbosity: 0 silent, 1 progress bar, 2 one line per epoch.")
    define_distribute_flags()

    @exit_on_user_error(program)
    def main(argv):
        del argv
        use_host_devices_flag()
        config = resolve_config()
        data = kind.load_data(FLAGS.data_path)
        check_run_folders(kind, config, FLAGS.save_path, FLAGS.restore_path, vocab_size=len(data[1]))
        from common import experiment

        experiment.train(kind.task(), config, FLAGS.data_path, FLAGS.save_path, FLAGS.restore_path,
                         seed=FLAGS.seed, display_weights=FLAGS.display_weights, verbose=FLAGS.verbose,
                         command=" ".join(sys.argv), model_name=FLAGS.model, distribute=FLAGS.distribute, data=data)

    return main
