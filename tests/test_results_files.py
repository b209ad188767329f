"""The published result pages quote the run files they cite: a number edited by hand, or a run
re-done without updating its page, fails here; so does a link to a log or run file that is gone."""

from __future__ import annotations

import json
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
RESULTS = ROOT / "results"
PAGES = [ROOT / "README.md", *sorted(RESULTS.glob("*.md"))]
RUN_FILES = sorted(RESULTS.rglob("*results.json"))
TIMING_FILES = [p for p in sorted(RESULTS.rglob("*.json")) if "speedup" in json.loads(p.read_text())]


def page_of(run_file: pathlib.Path) -> str:
    """A file under results/<task>/ is reported in results/<task>.md."""
    task = run_file.relative_to(RESULTS).parts[0]
    return (RESULTS / f"{task}.md").read_text()


def quoted(value: float, page: str) -> bool:
    """The page rounds perplexities to 2 or 3 decimals."""
    return f"{value:.2f}" in page or f"{value:.3f}" in page


def test_there_are_run_and_timing_files():
    assert len(RUN_FILES) >= 10, RUN_FILES
    assert len(TIMING_FILES) >= 10, TIMING_FILES


@pytest.mark.parametrize("run_file", RUN_FILES, ids=lambda p: str(p.relative_to(RESULTS)))
def test_page_quotes_the_run_perplexities(run_file):
    """Perplexities of the language models, dev EM / F1 of BiDAF."""
    run = json.loads(run_file.read_text())
    page = page_of(run_file)
    keys = ("dev_em", "dev_f1") if run.get("task") == "bidaf" else ("valid_ppl", "test_ppl")
    for key in keys:
        assert quoted(run[key], page), f"{run_file.name}: {key} {run[key]:.3f} is not on the page"


@pytest.mark.parametrize(
    "run_file",
    [p for p in RUN_FILES if "model" in json.loads(p.read_text()).get("structure", {})],
    ids=lambda p: str(p.relative_to(RESULTS)),
)
def test_page_quotes_the_evaluation_time_nonzeros(run_file):
    """Bayesian runs: the compression on the page is the evaluation-time model's non-zeros."""
    model = json.loads(run_file.read_text())["structure"]["model"]
    assert f"{model['weights']:,} of {model['weights_total']:,}" in page_of(run_file)


@pytest.mark.parametrize("timing_file", TIMING_FILES, ids=lambda p: str(p.relative_to(RESULTS)))
def test_page_quotes_the_measured_speedup(timing_file):
    """benchmarks.inference output: its speedup, as the pages write it (2 decimals and an x)."""
    speedup = json.loads(timing_file.read_text())["speedup"]
    assert f"{speedup:.2f}x" in page_of(timing_file), f"{timing_file.name}: {speedup:.2f}x is not on the page"


def readme_result_rows() -> list[tuple[str, str, list[str]]]:
    """(task cell, "ours" cell, linked results pages) of each README results-table row that links one."""
    rows = []
    for line in (ROOT / "README.md").read_text().splitlines():
        pages = re.findall(r"\((results/[\w./-]+\.md)\)", line)
        if line.startswith("| ") and pages:
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows.append((cells[0], cells[1], pages))
    return rows


README_ROWS = readme_result_rows()


def test_readme_has_result_rows():
    assert len(README_ROWS) >= 6


@pytest.mark.parametrize("task, ours, pages", README_ROWS, ids=[re.sub(r"\W+", "_", row[0])[:40] for row in README_ROWS])
def test_readme_numbers_come_from_the_linked_page(task, ours, pages):
    """Every decimal (perplexity, ratio) and large count in a row's "ours" cell is on the page it links."""
    text = "".join((ROOT / page).read_text() for page in pages)
    numbers = re.findall(r"\d[\d,]*\.\d+x?|\d[\d,]{4,}", ours)
    assert numbers, task
    missing = [n for n in numbers if n not in text]
    assert not missing, f"README row {task!r}: {missing} not in {pages}"


def test_quoted_detects_a_changed_number():
    assert quoted(133.59027, "test 133.59 at 47.5x")
    assert not quoted(133.59027, "test 133.60 at 47.5x")


def relative_links(text: str) -> list[tuple[int, str]]:
    """(line, target) of each markdown link to a file of the repository (no URL, no bare #anchor)."""
    return [(text.count("\n", 0, m.start()) + 1, m.group(1).split("#")[0]) for m in re.finditer(r"\]\(([^)\s]+)\)", text)
            if not re.match(r"[a-z]+:|#", m.group(1))]


def test_every_link_of_the_readme_and_the_results_pages_resolves():
    """A page cites its logs and run files by link; a renamed or deleted file would leave a dead one."""
    links = [(page, line, target) for page in PAGES for line, target in relative_links(page.read_text())]
    assert len(links) > 50
    dead = [f"{page.relative_to(ROOT)}:{line}: {target}" for page, line, target in links if not (page.parent / target).exists()]
    assert not dead, "links to files that do not exist:\n" + "\n".join(dead)
    assert relative_links("[a](x/y.log), [b](https://e.org/z), [c](#top), [d](p.md#s)\n[e](../f.txt)") == [
        (1, "x/y.log"), (1, "p.md"), (2, "../f.txt")]


def cited_tests(text: str) -> list[tuple[int, str, str]]:
    """(line, test file, test name) of each `tests/...py::name` a page cites as evidence."""
    return [(number, *m.groups()) for number, line in enumerate(text.splitlines(), 1)
            for m in re.finditer(r"(tests/[\w/]+\.py)::(\w+)", line)]


def test_every_test_a_page_cites_exists():
    """A page that says a behaviour is tested names the test; a renamed or merged test would leave it pointing nowhere."""
    cited = [(page, *c) for page in PAGES for c in cited_tests(page.read_text())]
    assert len(cited) >= 10
    missing = [f"{page.relative_to(ROOT)}:{line}: {path}::{name}" for page, line, path, name in cited
               if not (ROOT / path).is_file() or not re.search(rf"^def {name}\(", (ROOT / path).read_text(), re.M)]
    assert not missing, "cited tests that do not exist:\n" + "\n".join(missing)
    assert cited_tests("see `tests/a/test_b.py::test_c[x]` and tests/d.py::e\nnot tests/f.py") == [
        (1, "tests/a/test_b.py", "test_c"), (1, "tests/d.py", "e")]


DELIMITER_ROW = re.compile(r"\|(\s*:?-+:?\s*\|)+")


def mismatched_tables(text: str) -> list[str]:
    """Header rows whose delimiter row has another number of cells: Markdown then shows no table, only pipes."""
    lines = [line.strip() for line in text.splitlines()]
    return [header for header, delimiter in zip(lines, lines[1:]) if DELIMITER_ROW.fullmatch(delimiter)
            and header.strip("|").count("|") != delimiter.strip("|").count("|")]


def test_every_table_of_the_readme_and_the_results_pages_has_a_delimiter_row_as_wide_as_its_header():
    assert mismatched_tables("| a | b |\n|---|\n| 1 | 2 |") == ["| a | b |"]  # the check can fail
    assert {page.name: mismatched_tables(page.read_text()) for page in PAGES} == {page.name: [] for page in PAGES}
