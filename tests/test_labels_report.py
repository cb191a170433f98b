"""Label budgets in `bench table` (one row per budget, folds merged, a labels column) and the
report's label-efficiency plot, looked at in a real browser too."""

import os
import re

import pytest

import browser
import toy
from bench import registry
from bench.data.store import DataStore
from bench.html import build
from bench.progress import Progress
from bench.records import ResultStore
from bench.report import leaderboard, load_groups, render, row_keys
from bench.runner import run_specs
from bench.suite import load_suite

SUITE = """
name: labels
seeds: [0]
runs:
  - {datasets: toy, methods: toy-linear, protocol: {name: classify, labels: 10, holdout: 0.0}, budget: {epochs: 2}}
  - {datasets: toy, methods: toy-linear, protocol: {name: classify, labels: 10, holdout: 0.0, split_seed: 1}, budget: {epochs: 2}}
  - {datasets: toy, methods: toy-linear, protocol: {name: classify, labels: 2, holdout: 0.0}, budget: {epochs: 2}}
  - {datasets: toy, methods: toy-linear, protocol: {name: classify, labels: 2, holdout: 0.0, split_seed: 1}, budget: {epochs: 2}}
  - {datasets: toy, methods: toy-linear, protocol: {name: classify, holdout: 0.0}, budget: {epochs: 2}}
"""


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    root = tmp_path_factory.mktemp("labels") / "results"
    reg = registry.load(extra_plugins=[("toy", toy)])
    path = root.parent / "labels.yaml"
    path.write_text(SUITE)
    suite = load_suite(path, reg)
    assert (
        run_specs(suite.runs, reg, ResultStore(root), DataStore(root.parent / "data"), Progress(quiet=True)).exit_code
        == 0
    )
    return root


@pytest.fixture(scope="module")
def site(results):
    return build(results, results.parent / "site")


def test_one_row_per_budget_its_folds_merged_fewest_labels_first(results):
    groups = load_groups(results)
    rows = leaderboard(groups)
    assert [(r["labels"], r["metrics"]["test_accuracy"]["n"]) for r in rows] == [
        ("2/class", 2),
        ("10/class", 2),
        ("all", 1),
    ]
    text = render(rows)
    header = next(line for line in text.splitlines() if line.startswith("method"))
    assert header.split()[:3] == ["method", "labels", "budget"]
    assert [line.split()[1] for line in text.splitlines() if line.startswith("toy-linear")] == [
        "2/class",
        "10/class",
        "all",
    ]
    assert len(set(row_keys(groups))) == 3  # bench compare tells the budgets apart
    assert render(rows, "csv").splitlines()[0].split(",")[6] == "labels"


def test_the_report_draws_accuracy_against_labels_per_class(site):
    html = site.index.read_text()
    (plot,) = [s for s in re.findall(r'<img src="([^"]+)"', html) if s.endswith("-labels.svg")]
    svg = (site.root / plot).read_text()
    assert "labelled images per class (log scale)" in svg and "toy-linear, all labels" in svg


@pytest.mark.slow
def test_the_label_efficiency_report_renders_in_chromium(site):
    reason = browser.missing_browser()
    if reason:
        if os.environ.get("BENCH_REQUIRE_BROWSER"):
            pytest.fail(f"BENCH_REQUIRE_BROWSER is set but {reason}")
        pytest.skip(reason)
    with browser.open_chromium() as driver, browser.serve(site.root) as url:
        assert browser.check_report(driver, url + "index.html", pictures=False) == []
