"""The Docker recipes cannot rot silently: parsed here, and the CPU image's install steps run in a fresh venv.

No Docker engine runs on the CI machines, so the test does what `docker build` would: copy the
build context (what git tracks) to a folder standing for WORKDIR, then run each RUN command there
with a fresh venv's python and pip first on PATH. The venv sees the CI venv's packages
(--system-site-packages), so pip resolves the dependencies without downloading TensorFlow again
and builds and installs this package exactly as the Dockerfile says.
"""

import os
import shlex
import shutil
import subprocess
import sys
import venv

import pytest

from tests.helpers import ROOT

KNOWN = {"FROM", "ARG", "ENV", "WORKDIR", "COPY", "RUN", "CMD"}


def parse(path):
    """[(INSTRUCTION, argument text)] with continuation lines joined and comments dropped."""
    steps, pending = [], ""
    with open(path, encoding="utf-8") as f:
        for raw in f:
            line = raw.rstrip("\n")
            if not pending and (not line.strip() or line.lstrip().startswith("#")):
                continue
            if line.endswith("\\"):
                pending += line[:-1] + " "
                continue
            line, pending = pending + line, ""
            instruction, _, argument = line.strip().partition(" ")
            steps.append((instruction.upper(), argument.strip()))
    return steps


def _env_assignments(argument):
    return dict(part.split("=", 1) for part in shlex.split(argument))


@pytest.mark.parametrize("name", ["Dockerfile", "Dockerfile.gpu"])
def test_recipe_is_well_formed(name):
    steps = parse(os.path.join(ROOT, name))
    assert steps[0][0] == "FROM" and steps[0][1].startswith("python:3.1")
    assert {s for s, _ in steps} <= KNOWN, {s for s, _ in steps} - KNOWN
    assert ("COPY", ". /app") in steps and ("WORKDIR", "/app") in steps
    runs = [a for s, a in steps if s == "RUN"]
    assert any("pip install" in r and '-e ".[test' in r for r in runs)
    cmd = [a for s, a in steps if s == "CMD"][-1]
    assert cmd.startswith('["python", "-m", "ptb.train"') and "--model=small" in cmd and "/data/ptb" in cmd


@pytest.mark.slow
def test_cpu_image_install_steps_run_in_a_fresh_venv(tmp_path):
    steps = parse(os.path.join(ROOT, "Dockerfile"))
    app = tmp_path / "app"
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    if not files:
        pytest.skip("not a git checkout: the build context is unknown")
    for rel in files:  # COPY . /app (the build context, as .dockerignore leaves it: tracked files)
        if os.path.exists(os.path.join(ROOT, rel)):
            (app / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(os.path.join(ROOT, rel), app / rel)
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(system_site_packages=True, with_pip=True).create(env_dir)
    env = {**os.environ, "PATH": f"{env_dir / 'bin'}{os.pathsep}{os.environ['PATH']}", "VIRTUAL_ENV": str(env_dir)}
    env.pop("PYTHONPATH", None)
    for instruction, argument in steps:
        if instruction == "ENV":
            env.update(_env_assignments(argument))
        elif instruction == "RUN":
            proc = subprocess.run(argument, shell=True, cwd=app, env=env, capture_output=True, text=True, timeout=900)
            assert proc.returncode == 0, f"RUN {argument} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    # the image's default program starts (absl prints its flags for --helpshort, exit code 1, before any data)
    check = subprocess.run([str(env_dir / "bin" / "python"), "-m", "ptb.train", "--helpshort"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=300)
    out = check.stdout + check.stderr
    assert "--data_path" in out and "--method" in out and "Traceback" not in out, out[-2000:]
    located = subprocess.run([str(env_dir / "bin" / "python"), "-c", "import ptb; print(ptb.__file__)"], cwd=tmp_path,
                             env=env, capture_output=True, text=True, timeout=300)
    assert located.stdout.strip().startswith(str(app)), located.stdout  # installed from the copied context
    assert sys.executable != str(env_dir / "bin" / "python")
