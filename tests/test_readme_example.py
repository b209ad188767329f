"""The README's library examples must run as written (and their own checks must hold)."""

import os
import re

README = os.path.join(os.path.dirname(__file__), "..", "README.md")


def readme_examples() -> list[str]:
    text = open(README, encoding="utf-8").read()
    return re.findall(r"<!-- readme-example[^>]*-->\s*```python\n(.*?)```", text, re.S)


def run_example(code: str, folder, monkeypatch) -> dict:
    monkeypatch.chdir(folder)
    namespace = {}
    exec(compile(code, "README.md", "exec"), namespace)
    return namespace


def test_readme_has_both_examples():
    assert len(readme_examples()) == 2, "README lost a marked example"


def test_iss_example_runs(tmp_path, monkeypatch):
    report = run_example(readme_examples()[0], tmp_path, monkeypatch)["report"]
    assert len(report) == 2
    assert (tmp_path / "weights.png").stat().st_size > 1000
    assert sum(len(r["kept"]) for r in report.values()) < 96  # the example does remove units


def test_other_methods_example_runs(tmp_path, monkeypatch):
    namespace = run_example(readme_examples()[1], tmp_path, monkeypatch)
    assert max(namespace["densities"].values()) < 0.6  # SET masked the kernels
    structure = namespace["structure"]
    assert structure["weights"] < structure["weights_total"] / 3, structure  # the KL removed most weights
    assert min(structure["gates"].values()) < structure["units"], structure  # and made some gates constant
