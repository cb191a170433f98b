"""`bench report` draws each row's history across code versions (`bench history`): a sparkline
beside a row that older code also made records of, a plot and a table on its page, the detected
steps marked; a row made by one code version gets none. Records made by real (tiny) runs, re-run
after their code "changed"; looked at in a real browser too."""

import json
import re

import pytest

import browser
import report_toy
import toy
from bench import identity, registry
from bench.data.store import DataStore
from bench.history import history
from bench.html import build
from bench.progress import Progress
from bench.records import ResultStore, write_json_atomic
from bench.runner import run_specs
from bench.suite import load_suite

SUITE = """
name: hist
seeds: [0, 1, 2]
runs:
  - {datasets: toy, methods: [toy-linear, toy-painter], protocol: classify, budget: {epochs: 2}}
"""

#: (commit, when it ended, points added to its accuracy) of each older code version of toy-linear:
#: the first two were 20 points worse, so the third starts a step; the current code makes the fifth.
OLDER = [
    ("1111111111", "2026-01-01T00:00:00+00:00", -20.0),
    ("2222222222", "2026-01-02T00:00:00+00:00", -20.0),
    ("3333333333", "2026-01-03T00:00:00+00:00", 0.0),
    ("4444444444", "2026-01-04T00:00:00+00:00", 0.0),
]


def age(results, method: str, commit: str, ended: str, shift: float) -> None:
    """Make the current records of ``method`` look made by other, older code (another host source,
    commit and end time), its accuracy moved by ``shift``: the next `bench run` finds them stale,
    runs them again and keeps them under ``superseded/``."""
    for path in (results / "hist" / "toy" / method).glob("seed*.json"):
        record = json.loads(path.read_text())
        host = record["code_identity"]["host"]
        host["source"], host["modules"]["bench.protocols.classify"] = commit[:1] * 16, commit[:1] * 12
        record["code"] = {**(record.get("code") or {}), "git_commit": commit, "git_dirty": False}
        record["ended_at"] = ended
        record["metrics"]["test_accuracy"] += shift
        write_json_atomic(path, record)


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    root = tmp_path_factory.mktemp("history") / "results"
    reg = registry.load(extra_plugins=[("toy", toy), ("report_toy", report_toy)])
    path = root.parent / "hist.yaml"
    path.write_text(SUITE)
    suite = load_suite(path, reg)
    store = ResultStore(root, stale=identity.against(reg))  # as `bench run`: stale records run again
    data = DataStore(root.parent / "data")
    assert run_specs(suite.runs, reg, store, data, Progress(quiet=True)).exit_code == 0
    for commit, ended, shift in OLDER:
        age(root, "toy-linear", commit, ended, shift)
        outcome = run_specs(suite.runs, reg, store, data, Progress(quiet=True))
        assert outcome.exit_code == 0 and len(outcome.ran) == 3 and len(outcome.skipped) == 3
    return root


@pytest.fixture(scope="module")
def site(results):
    return build(results, results.parent / "site")


def rows_of(site) -> dict:
    return {row.label: row for table in site.report.tables for row in table.rows}


def test_a_row_with_superseded_records_has_its_history_drawn_and_a_row_without_has_none(site, results):
    assert len(list(results.rglob("superseded/*.json"))) == 12  # four older versions x three seeds
    rows = rows_of(site)
    linear, painter = rows["toy-linear"], rows["toy-painter"]
    assert painter.history is None
    trend = linear.history
    labels = [v.label for v in trend.versions]
    assert len(labels) == 5 and labels[:4] == [c[:9] for c, _, _ in OLDER]  # bench history's order
    assert trend.series.metric == "test_accuracy" and trend.series.steps == [2]  # the planted step
    (found,) = [r for r in history(results) if "toy-linear" in r.name]
    assert trend.series.values == next(s for s in found.series if s.metric == "test_accuracy").values

    html = site.index.read_text()
    assert ">labels</th>" not in html  # no label budget on this board: no labels column
    sparks = re.findall(r'<img src="(plots/[^"]+-history-spark\.svg)" class="spark"', html)
    assert sparks == [trend.plots[0].path]  # one row has a history, the other none
    assert "toy-linear" in sparks[0] and not any("painter" in p.name for p in (site.root / "plots").glob("*history*"))
    assert re.search(r'href="records/[^"]*toy-linear[^"]*\.html#history"', html)
    spark = (site.root / sparks[0]).read_text()
    assert spark.startswith("<?xml") and spark.count("#d62728") >= 1  # the step's point, in red

    page = (site.root / "records" / f"{linear.slug}.html").read_text()
    assert '<section id="history">' in page
    (plot,) = re.findall(r'<img src="\.\./(plots/[^"]+-history\.svg)"', page)
    svg = (site.root / plot).read_text()
    for text in (*labels, "step fit", "mean over seeds", "one seed"):
        assert text in svg
    steps = re.findall(r'<tr class="step"><td>(\w+)</td>', page)
    assert steps == ["333333333"]
    assert "steps at: 333333333" in page
    assert '<section id="history">' not in (site.root / "records" / f"{painter.slug}.html").read_text()


def test_a_results_folder_without_superseded_records_draws_no_history(tmp_path, results):
    import shutil

    copy = tmp_path / "results"
    shutil.copytree(results, copy, ignore=shutil.ignore_patterns("superseded"))
    built = build(copy, tmp_path / "site")
    assert all(row.history is None for row in rows_of(built).values())
    assert 'class="spark"' not in built.index.read_text() and "#history" not in built.index.read_text()
    assert not any('<section id="history">' in page.read_text() for page in built.pages)
    assert not list((tmp_path / "site" / "plots").glob("*history*"))


@pytest.mark.slow
def test_the_history_sparkline_and_plot_render_in_chromium(site):
    browser.require_browser()
    with browser.open_chromium() as driver, browser.serve(site.root) as url:
        assert browser.check_report(driver, url + "index.html", pictures=False) == []
        assert browser.check_history(driver, url + "index.html") == []
