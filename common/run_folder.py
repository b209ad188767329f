"""What a run folder holds and whether a run may continue in it, read without loading Keras.

    save_path/config.json                  the task, its resolved config, the vocabulary size
    save_path/checkpoint/latest.json       names the committed checkpoint folder <n>
    save_path/checkpoint/<n>/state.json    the finished epoch (and loop state) of that checkpoint

The programs check a --restore_path or --save_path with these before importing their model,
so a wrong folder is refused at once rather than after TensorFlow has loaded.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
from typing import Callable

from common.errors import RestoreError

CONFIG_FILE = "config.json"
CHECKPOINT_DIR = "checkpoint"
WEIGHTS_FILE = "weights.weights.h5"
STATE_FILE = "state.json"
LOOP_STATE_FILE = "loop_state.npz"  # optimizer variables and random-generator states
LATEST_FILE = "latest.json"  # names the committed checkpoint folder


@dataclasses.dataclass(frozen=True)
class RunKind:
    """A task as its run folders know it: the name in config.json and the config type.

    load_data (data_path -> ({split: ids}, vocabulary)) and module (which defines TASK, the task's
    `common.experiment.LanguageModelTask`) are set for the language-model tasks, whose programs
    read the data before they import the model.
    """

    name: str
    config_type: type
    load_data: Callable | None = None
    module: str | None = None

    def task(self):
        """The task's LanguageModelTask: imports its model module, and with it Keras."""
        return importlib.import_module(self.module).TASK


def latest_dir(folder: str) -> str | None:
    """The committed checkpoint folder (or, for runs saved before latest.json, the folder itself)."""
    pointer = os.path.join(folder, LATEST_FILE)
    if os.path.isfile(pointer):
        with open(pointer, encoding="utf-8") as f:
            return os.path.join(folder, json.load(f)["checkpoint"])
    if os.path.isfile(os.path.join(folder, STATE_FILE)):
        return folder
    return None


def latest_checkpoint(save_path: str):
    """(state dict, weights path) of the last complete checkpoint in save_path, or None."""
    latest = latest_dir(os.path.join(save_path or "", CHECKPOINT_DIR))
    if latest is None:
        return None
    state_path, weights = os.path.join(latest, STATE_FILE), os.path.join(latest, WEIGHTS_FILE)
    if not (os.path.isfile(state_path) and os.path.isfile(weights)):
        return None
    with open(state_path, encoding="utf-8") as f:
        return json.load(f), weights


def read_run_config(kind, run_path: str):
    """(config, the whole config.json) of a run folder; kind: a RunKind or a task (its name and config_type)."""
    path = os.path.join(run_path, CONFIG_FILE)
    if not os.path.isfile(path):
        raise RestoreError(f"no {CONFIG_FILE} in {run_path}: not a {kind.name} run folder")
    with open(path, encoding="utf-8") as f:
        saved = json.load(f)
    if saved.get("task", kind.name) != kind.name:
        raise RestoreError(f"{run_path} holds a {saved['task']} run, not a {kind.name} run")
    return kind.config_type.from_json(saved["config"]), saved


def check_resumable(kind, save_path: str, config, vocab_size: int | None = None):
    """The checkpoint state a run with `config` resumes from in save_path (None: it starts afresh there).

    Only the number of epochs may differ from the saved run's config (a longer run continues it);
    anything else is a RestoreError, raised before any file in save_path is touched.
    """
    found = latest_checkpoint(save_path)
    if found is None:
        return None
    saved_config, saved = read_run_config(kind, save_path)
    extended = dataclasses.replace(saved_config, max_max_epoch=config.max_max_epoch)
    if extended != config or (vocab_size is not None and saved.get("vocab_size") != vocab_size):
        raise RestoreError(
            f"{save_path} holds a run with a different config or data; resume with the same "
            "flags, or choose another --save_path"
        )
    return found[0]
