"""Every `python -m <program> --flag ...` that the README, the results pages, the GPU scripts and
the Docker images give is a command a user copies: its program must exist and define each flag it
passes; a literal value of a flag with fixed choices (`--model=sparselarge`) must be one of them, and
a config file of the repository (`--config_file=ptb/configs/...`) must exist.
The GPU launchers' lines (`$S start <run> --flag ...`) count as `<task>.train` commands."""

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
FLAG = re.compile(r"(?<![\w-])--(\w+)(?:=([^\s\]\"'),]*))?")  # (name, value or None)
LITERAL = re.compile(r"[\w.-]*")  # a value, not a placeholder such as <preset>, $N or a list
COMMAND_END = re.compile(r"`|&&|\|\||\s\|\s|;|\s#")

# One process imports each program in turn and lists the absl flags it defines, with the choices
# of each enum flag (else null); a program's flags are dropped before the next one is imported,
# since several define the same names.
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
    choices = {name: getattr(flags.FLAGS[name].parser, "enum_values", None) for name in added | before}
    found[module] = choices if added else None  # None: not an absl program
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
        used = [m.groups() for m in FLAG.finditer(_arguments(text, end))]  # value None without "="
        yield program, used, text.count("\n", 0, start) + 1


def flag_problems(used, defined: dict) -> list[str]:
    """One command's flags that its program does not define, and literal values outside a flag's choices."""
    problems = []
    for name, value in used:
        flag = name if name in defined else name[2:] if name.startswith("no") and name[2:] in defined else None
        if flag is None:
            problems.append(f"--{name}: no such flag")
        elif value is not None and defined[flag] and LITERAL.fullmatch(value) and value not in defined[flag]:
            problems.append(f"--{name}={value}: not one of {defined[flag]}")
    return problems


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
    dockerfile = [("model", "small"), ("data_path", "/data/ptb"), ("save_path", "/runs/small"), ("verbose", "2")]
    assert ("Dockerfile", "ptb.train", dockerfile) in [c[:3] for c in commands]


def test_every_documented_flag_is_defined_by_its_program(commands):
    programs = sorted({program for _, program, _, _ in commands})
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": ROOT}
    proc = subprocess.run([sys.executable, "-c", LIST_FLAGS, *programs], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    defined = json.loads(proc.stdout.strip().splitlines()[-1])
    missing = {program: why for program, why in defined.items() if isinstance(why, str)}
    assert not missing, f"the documents name programs that do not exist: {missing}"
    assert "sparselarge" in defined["ptb.train"]["model"] and "helpfull" in defined["ptb.train"]
    checked = [(name, line, program, flag_problems(flags, defined[program]))
               for name, program, flags, line in commands if defined[program] is not None]
    wrong = [f"{name}:{line}: python -m {program}: {'; '.join(problems)}" for name, line, program, problems in checked if problems]
    assert not wrong, "documented commands that their programs would refuse:\n" + "\n".join(wrong)


def test_every_documented_config_file_of_the_repository_exists(commands):
    files = [(name, line, value) for name, _, flags, line in commands for flag, value in flags
             if flag == "config_file" and value and value.startswith(("ptb/", "rhns/", "bidaf/"))]
    assert len(files) > 10
    missing = [f"{name}:{line}: {value}" for name, line, value in files if not os.path.isfile(os.path.join(ROOT, value))]
    assert not missing, "documented config files that are not in the repository:\n" + "\n".join(missing)


def test_a_renamed_flag_would_be_found():
    text = ("run `python -m ptb.train --model=small --nodisplay_weights --data_dir=x` then\n"
            "python -m ptb.evaluate --restore_path=r \\\n    --data_path=d  # --not_a_flag\n\n"
            "export TASK=rhns && S=device_parallel.sh &&\n  $S start a --model=x && python -m bidaf.prepro --y=1\n")
    commands = list(documented_commands(text))
    assert commands == [("ptb.train", [("model", "small"), ("nodisplay_weights", None), ("data_dir", "x")], 1),
                        ("ptb.evaluate", [("restore_path", "r"), ("data_path", "d")], 2),
                        ("rhns.train", [("model", "x")], 6), ("bidaf.prepro", [("y", "1")], 6)]
    defined = {"model": ["small", "large"], "display_weights": None, "data_path": None}
    assert flag_problems(commands[0][1], defined) == ["--data_dir: no such flag"]
    assert flag_problems([("model", "smal"), ("model", "<preset>"), ("model", "$M"), ("data_path", "y")], defined) == [
        "--model=smal: not one of ['small', 'large']"]
    assert list(documented_commands("python -m ptb.train --a=1 \\")) == [("ptb.train", [("a", "1")], 1)]  # a last, continued line
