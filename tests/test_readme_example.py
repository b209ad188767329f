"""The README's library example must run as written (and its equivalence check must hold)."""

import os
import re

README = os.path.join(os.path.dirname(__file__), "..", "README.md")


def test_readme_example_runs(tmp_path, monkeypatch):
    text = open(README, encoding="utf-8").read()
    match = re.search(r"<!-- readme-example[^>]*-->\s*```python\n(.*?)```", text, re.S)
    assert match, "README lost its marked example"
    monkeypatch.chdir(tmp_path)
    namespace = {}
    exec(compile(match.group(1), "README.md", "exec"), namespace)
    report = namespace["report"]
    assert len(report) == 2
    assert (tmp_path / "weights.png").stat().st_size > 1000
    assert sum(len(r["kept"]) for r in report.values()) < 96  # the example does remove units
