"""Every `python -m <program> --flag ...` that the README, the results pages, the GPU scripts and
the Docker images give is a command a user copies: its program must exist and define each flag it
passes. The GPU launchers' lines (`$S start <run> --flag ...`) count as `<task>.train` commands."""

import glob
import json
import os
import re
import subprocess
import sys

import pytest

from tests.helpers import ROOT

DOCUMENTS = ["README.md", *sorted(glob.glob("results/*.md", root_dir=ROOT)), *sorted(glob.glob("benchmarks/*.sh", root_dir=ROOT)),
             "Dockerfile", "Dockerfile.gpu"]
PROGRAM = re.compile(r"python3? -m ((?:ptb|rhns|bidaf|benchmarks)\.\w+)")
# the GPU launchers pass what follows the run's name to $TASK.train (default ptb)
LAUNCHER = re.compile(r"(?:\$S start|device_parallel\.sh start|device_run\.sh) \w+")
TASK = re.compile(r"\bTASK=(\w+)")
FLAG = re.compile(r"(?<![\w-])--(\w+)")
COMMAND_END = re.compile(r"`|&&|\|\||\s\|\s|;|\s#")

# One process imports each program in turn and lists the absl flags it defines; a program's
# flags are dropped before the next one is imported, since several define the same names.
LIST_FLAGS = """
import importlib, json, sys
from absl import app, flags, logging  # absl's own flags (--v, --helpfull ...) stay defined throughout
app.define_help_flags()
found = {}
for module in sys.argv[1:]:
    before = set(flags.FLAGS)
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as e:
        found[module] = f"cannot be imported: {e}"
        continue
    added = set(flags.FLAGS) - before
    found[module] = sorted(added | before) if added else None  # None: not an absl program
    for name in added:
        delattr(flags.FLAGS, name)
print(json.dumps(found))
"""


def _arguments(text: str, start: int) -> str:
    """The command's text from `start` to its end: the line's end (after any backslash
    continuations), a closing backtick, `&&`, a pipe, `;` or a comment."""
    command = ""
    for line in text[start:].split("\n"):
        end = COMMAND_END.search(line)
        command += " " + (line[: end.start()] if end else line)
        if end or not line.rstrip().endswith("\\"):
            return command
    return command  # the text ended inside a continued line


def documented_commands(text: str):
    """(program, flags, line number) of each command in text."""
    found = [(m.start(), m.group(1), m.end()) for m in PROGRAM.finditer(text)]
    for m in LAUNCHER.finditer(text):
        paragraph = text[text.rfind("\n\n", 0, m.start()) + 1 : m.end()]
        tasks = TASK.findall(paragraph)
        found.append((m.start(), f"{tasks[-1] if tasks else 'ptb'}.train", m.end()))
    for start, program, end in sorted(found):
        yield program, FLAG.findall(_arguments(text, end)), text.count("\n", 0, start) + 1


def unknown_flags(used, defined) -> list[str]:
    return [f for f in used if f not in defined and not (f.startswith("no") and f[2:] in defined)]


@pytest.fixture(scope="module")
def commands():
    found = []
    for name in DOCUMENTS:
        with open(os.path.join(ROOT, name), encoding="utf-8") as f:
            text = f.read()
        if name.startswith("Dockerfile"):
            text = re.sub(r'",\s*"', " ", text)  # CMD ["python", "-m", ...] as the shell line it runs
        found += [(name, *command) for command in documented_commands(text)]
    return found


def test_the_documents_name_programs_with_flags(commands):
    """Guards the scan itself: the pages hold many commands, most with flags."""
    assert len(commands) > 100 and sum(bool(flags) for _, _, flags, _ in commands) > 80
    assert {"ptb.train", "rhns.train", "bidaf.train", "bidaf.prepro", "benchmarks.inference"} <= {c[1] for c in commands}
    assert ("Dockerfile", "ptb.train", ["model", "data_path", "save_path", "verbose"]) in [c[:3] for c in commands]


def test_every_documented_flag_is_defined_by_its_program(commands):
    programs = sorted({program for _, program, _, _ in commands})
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": ROOT}
    proc = subprocess.run([sys.executable, "-c", LIST_FLAGS, *programs], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    defined = json.loads(proc.stdout.strip().splitlines()[-1])
    missing = {program: why for program, why in defined.items() if isinstance(why, str)}
    assert not missing, f"the documents name programs that do not exist: {missing}"
    assert defined["ptb.train"] and "model" in defined["ptb.train"] and "helpfull" in defined["ptb.train"]
    wrong = [f"{name}:{line}: python -m {program}: {unknown_flags(flags, defined[program])}"
             for name, program, flags, line in commands
             if defined[program] is not None and unknown_flags(flags, defined[program])]
    assert not wrong, "documented flags that the program does not define:\n" + "\n".join(wrong)


def test_a_renamed_flag_would_be_found():
    text = ("run `python -m ptb.train --model=small --nodisplay_weights --data_dir=x` then\n"
            "python -m ptb.evaluate --restore_path=r \\\n    --data_path=d  # --not_a_flag\n\n"
            "export TASK=rhns && S=device_parallel.sh &&\n  $S start a --model=x && python -m bidaf.prepro --y=1\n")
    commands = list(documented_commands(text))
    assert commands == [("ptb.train", ["model", "nodisplay_weights", "data_dir"], 1),
                        ("ptb.evaluate", ["restore_path", "data_path"], 2),
                        ("rhns.train", ["model"], 6), ("bidaf.prepro", ["y"], 6)]
    assert unknown_flags(commands[0][1], {"model", "display_weights", "data_path"}) == ["data_dir"]
    assert list(documented_commands("python -m ptb.train --a=1 \\")) == [("ptb.train", ["a"], 1)]  # a last, continued line
