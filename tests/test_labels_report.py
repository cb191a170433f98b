"""Label budgets in `bench table` (one row per budget, folds merged, a labels column) and the
report's label-efficiency plot, looked at in a real browser too."""

import re

import pytest

import browser
import toy
from bench import registry
from bench.data.store import DataStore
from bench.html import build
from bench.progress import Progress
from bench.records import ResultStore
from bench.report import leaderboard, load_groups, one_seed, render, row_keys
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
    assert [(r.labels, r.metrics["test_accuracy"].n) for r in rows] == [
        ("2/class", 2),
        ("10/class", 2),
        ("all", 1),
    ]
    text = render(rows)
    header = next(line for line in text.splitlines() if "method" in line and "budget" in line).split()
    assert header[header.index("method") : header.index("method") + 3] == ["method", "labels", "budget"]
    lines = [line.split() for line in text.splitlines() if "toy-linear" in line]
    assert [line[line.index("toy-linear") + 1] for line in lines] == ["2/class", "10/class", "all"]
    assert len(set(row_keys(groups))) == 3  # bench compare tells the budgets apart
    assert "labels" in render(rows, "csv").splitlines()[0].split(",")
    # One seed, two folds: the cells have a spread, so the title must not say there is none.
    assert not one_seed(rows) and "no spread" not in text


def test_the_report_draws_accuracy_against_labels_per_class(site):
    html = site.index.read_text()
    (plot,) = [s for s in re.findall(r'<img src="([^"]+)"', html) if s.endswith("-labels.svg")]
    svg = (site.root / plot).read_text()
    assert "labelled images per class (log scale)" in svg and "toy-linear, all labels" in svg
    assert "$" not in svg  # plain tick labels, no raw mathtext (bench.html.plots._plain_ticks)


def test_the_report_leaderboard_has_a_labels_column_sorted_by_labels_per_class(site):
    html = site.index.read_text()
    board = html[html.index('<table class="sortable leaderboard"') : html.index("</table>")]
    heads = re.findall(r"<th[^>]*>([^<]*)</th>", board)
    assert heads[:4] == ["rank", "method", "labels", "budget"]  # where bench table puts it
    assert re.search(r'<th data-type="number"[^>]*>labels</th>', board)  # sorted as numbers, not as text
    cells = re.findall(r'<td class="num" data-value="([^"]*)">(\d+/class|all|[\d.]+%)</td>', board)
    assert cells == [("2.0", "2/class"), ("10.0", "10/class"), ("Infinity", "all")]  # all labels last


@pytest.mark.slow
def test_the_label_efficiency_report_renders_in_chromium(site):
    browser.require_browser()
    with browser.open_chromium() as driver, browser.serve(site.root) as url:
        assert browser.check_report(driver, url + "index.html", pictures=False) == []
        problems, shown = browser.check_sorting_by(driver, url + "index.html", "labels")
        assert problems == [] and shown == [["2/class", "10/class", "all"], ["all", "10/class", "2/class"]]
