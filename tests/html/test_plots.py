"""bench.html.plots: the Pareto front, the quality-cost plot's axes and plain ticks, curves in %, label
efficiency, and each row's history across code versions (records made by real tiny runs, re-run
after their code "changed")."""

import json
import re
import shutil

import pytest

import browser
import report_toy
import toy
from bench import identity, registry
from bench.data.store import DataStore
from bench.history import history
from bench.html import build
from bench.html.collect import collect
from bench.html.plots import in_percent, pareto_front, quality_vs_cost, training_curves
from bench.progress import Progress
from bench.records import ResultStore, key_of, write_json_atomic
from bench.runner import run_specs
from bench.suite import load_suite


def test_the_plots_are_svg_files_beside_the_page(site):
    html = site.index.read_text()
    svgs = [s for s in re.findall(r'<img src="([^"]+)"', html) if s.endswith(".svg")]
    assert svgs and all((site.root / s).is_file() for s in svgs)
    assert any("pareto" in s for s in svgs) and any("seeds" in s for s in svgs)
    assert any("training" in s for s in svgs) and any("curve" in s for s in svgs)
    pareto = (site.root / next(s for s in svgs if "board" in s and "pareto" in s)).read_text()
    assert pareto.startswith("<?xml") and "Pareto front" in pareto


def test_pareto_front_keeps_the_points_nothing_beats_on_both_axes():
    points = [(10.0, 90.0), (100.0, 80.0), (50.0, 70.0), (5.0, 95.0), (100.0, 60.0)]
    assert sorted(pareto_front(points)) == [0, 1, 3]


def test_the_quality_cost_plot_offers_throughput_seconds_and_memory_with_plain_ticks(planted_site):
    html = planted_site.index.read_text()
    select = re.search(r'<select data-choice="[^"]+">(.*?)</select>', html).group(1)
    assert re.findall(r">(\w+)</option>", select) == ["throughput", "seconds", "memory"]
    for path in re.findall(r'<option value="([^"]+)"', select):
        svg = (planted_site.root / path).read_text()
        assert "$" not in svg and "mathdefault" not in svg  # no raw mathtext on the log axis
    assert "peak RSS+ MiB" in (planted_site.root / re.findall(r'<option value="([^"]+)"', select)[2]).read_text()


def test_log_axis_ticks_are_plain_numbers_over_a_narrow_range(tmp_path):
    """Rates 5,000-7,000: matplotlib labels minor log ticks as $\\mathdefault{6\\times10^{3}}$."""
    for i, rate in enumerate([5000.0, 6100.0, 7000.0]):
        spec = {
            "suite": "s",
            "dataset": "toy",
            "method": f"m{i}",
            "protocol": "classify",
            "protocol_options": {},
            "seed": 0,
            "params": {},
            "budget": {},
        }
        write_json_atomic(
            tmp_path / "r" / f"{i}.json",
            {
                "schema_version": 1,
                "key": key_of(spec),
                "spec": spec,
                "status": "ok",
                "metrics": {"test_accuracy": 90.0 + i},
                "throughput": {"train_images_per_s": {"items_per_s": rate}},
            },
        )
    report = collect(tmp_path / "r")
    plot = quality_vs_cost(report.tables[0], tmp_path / "site", "throughput")
    svg = (tmp_path / "site" / plot.path).read_text()
    assert "$" not in svg and "6,000" in svg


def test_accuracy_curves_are_drawn_in_percent_as_the_tables_show_them(tmp_path):
    assert in_percent("val_accuracy", [(1, 0.5), (2, 0.97)]) == ("val_accuracy %", [(1, 50.0), (2, 97.0)])
    assert in_percent("val_accuracy", [(1, 50.0)]) == ("val_accuracy", [(1, 50.0)])  # already in %
    assert in_percent("loss", [(1, 0.5)]) == ("loss", [(1, 0.5)])
    reg = registry.load(extra_plugins=[("toy", toy), ("report_toy", report_toy)])
    path = tmp_path / "s.yaml"
    path.write_text("name: s\nruns: [{datasets: toy, methods: toy-painter, protocol: classify, budget: {epochs: 2}}]\n")
    run_specs(
        load_suite(path, reg).runs, reg, ResultStore(tmp_path / "r"), DataStore(tmp_path / "d"), Progress(quiet=True)
    )
    plot = training_curves(collect(tmp_path / "r").tables[0], tmp_path / "site")
    svg = (tmp_path / "site" / plot.path).read_text()
    assert "val accuracy %" in svg


def test_the_report_draws_accuracy_against_labels_per_class(label_site):
    html = label_site.index.read_text()
    (plot,) = [s for s in re.findall(r'<img src="([^"]+)"', html) if s.endswith("-labels.svg")]
    svg = (label_site.root / plot).read_text()
    assert "labelled images per class (log scale)" in svg and "toy-linear, all labels" in svg
    assert "$" not in svg  # plain tick labels, no raw mathtext (bench.html.plots._plain_ticks)


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
def history_results(tmp_path_factory):
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
def history_site(history_results):
    return build(history_results, history_results.parent / "site")


def rows_of(site) -> dict:
    return {row.label: row for table in site.report.tables for row in table.rows}


def test_a_row_with_superseded_records_has_its_history_drawn_and_a_row_without_has_none(history_site, history_results):
    assert len(list(history_results.rglob("superseded/*.json"))) == 12  # four older versions x three seeds
    rows = rows_of(history_site)
    linear, painter = rows["toy-linear"], rows["toy-painter"]
    assert painter.history is None
    trend = linear.history
    labels = [v.label for v in trend.versions]
    assert len(labels) == 5 and labels[:4] == [c[:9] for c, _, _ in OLDER]  # bench history's order
    assert trend.series.metric == "test_accuracy" and trend.series.steps == [2]  # the planted step
    (found,) = [r for r in history(history_results) if "toy-linear" in r.name]
    assert trend.series.values == next(s for s in found.series if s.metric == "test_accuracy").values

    html = history_site.index.read_text()
    assert ">labels</th>" not in html  # no label budget on this board: no labels column
    sparks = re.findall(r'<img src="(plots/[^"]+-history-spark\.svg)" class="spark"', html)
    assert sparks == [trend.plots[0].path]  # one row has a history, the other none
    assert "toy-linear" in sparks[0] and not any(
        "painter" in p.name for p in (history_site.root / "plots").glob("*history*")
    )
    assert re.search(r'href="records/[^"]*toy-linear[^"]*\.html#history"', html)
    spark = (history_site.root / sparks[0]).read_text()
    assert spark.startswith("<?xml") and spark.count("#d62728") >= 1  # the step's point, in red

    page = (history_site.root / "records" / f"{linear.slug}.html").read_text()
    assert '<section id="history">' in page
    (plot,) = re.findall(r'<img src="\.\./(plots/[^"]+-history\.svg)"', page)
    svg = (history_site.root / plot).read_text()
    for text in (*labels, "step fit", "mean over seeds", "one seed"):
        assert text in svg
    steps = re.findall(r'<tr class="step"><td>(\w+)</td>', page)
    assert steps == ["333333333"]
    assert "steps at: 333333333" in page
    assert '<section id="history">' not in (history_site.root / "records" / f"{painter.slug}.html").read_text()


def test_a_results_folder_without_superseded_records_draws_no_history(tmp_path, history_results):

    copy = tmp_path / "results"
    shutil.copytree(history_results, copy, ignore=shutil.ignore_patterns("superseded"))
    built = build(copy, tmp_path / "site")
    assert all(row.history is None for row in rows_of(built).values())
    assert 'class="spark"' not in built.index.read_text() and "#history" not in built.index.read_text()
    assert not any('<section id="history">' in page.read_text() for page in built.pages)
    assert not list((tmp_path / "site" / "plots").glob("*history*"))


@pytest.mark.slow
def test_the_history_sparkline_and_plot_render_in_chromium(history_site, chromium):
    with browser.serve(history_site.root) as url:
        assert browser.check_report(chromium, url + "index.html", pictures=False) == []
        assert browser.check_history(chromium, url + "index.html") == []
