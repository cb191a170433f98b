"""bench.metric_table: one entry per metric, what every protocol writes and every reader shows."""

import dataclasses

import pytest

import repr_toy
import restoration_toy
import toy
from bench import metric_table, rate, registry
from bench.context import bookkeeping
from bench.data.store import DataStore
from bench.html import collect, page
from bench.progress import Progress
from bench.records import ResultStore
from bench.report import leaderboard, load_groups, render
from bench.runner import run_specs
from bench.suite import load_suite
from planted import record
from runs import make_context

#: One run of each built-in protocol, as small as each allows.
EVERY_PROTOCOL = """
seeds: [0]
runs:
  - {datasets: toy, methods: toy-linear, protocol: classify}
  - {datasets: blobs, methods: raw-pixels, protocol: {name: linear-probe, holdout: 0.0, lrs: [0.05], weight_decays: [0.0], epochs: 5}}
  - {datasets: blobs, methods: raw-pixels, protocol: knn}
  - {datasets: tiny-restore, methods: bicubic, protocol: {name: restore, task: sr, scale: 2}}
  - {datasets: tiny-restore, methods: degraded-input, protocol: {name: restore, task: denoise, sigma: 25.0}}
"""


def test_every_metric_a_builtin_protocol_writes_is_in_the_table(tmp_path):
    reg = registry.load(extra_plugins=[("toy", toy), ("repr_toy", repr_toy), ("restoration_toy", restoration_toy)])
    (tmp_path / "suite.yaml").write_text(EVERY_PROTOCOL)
    suite = load_suite(tmp_path / "suite.yaml", reg)
    store = ResultStore(tmp_path / "results")
    run_specs(suite.runs, reg, store, DataStore(tmp_path / "data"), Progress(quiet=True))
    records = [store.read(spec) for spec in suite.runs]
    assert [r.status for r in records] == ["ok"] * len(records), [r.error for r in records]
    assert {r.spec["protocol"] for r in records} == {"classify", "linear-probe", "knn", "restore"}
    for r in records:
        assert set(r.metrics) <= set(metric_table.METRICS), r.spec["protocol"]
        assert set(r.throughput) <= set(metric_table.METRICS), r.spec["protocol"]
        for name, info in r.metric_info.items():  # direction, unit and kind are the table's
            table = metric_table.METRICS[name].info(
                info["convention"], **{k: info[k] for k in ("protocol",) if k in info}
            )
            assert list(info.items()) == list(table.items())
    rows = leaderboard(load_groups(tmp_path / "results"))  # the costs and timings a row adds
    assert {m for row in rows for m in row.metrics} <= set(metric_table.METRICS)
    assert {"train_seconds", "run_seconds", "psnr", "input_psnr", "feature_images_per_s"} <= {
        m for row in rows for m in row.metrics
    }


def test_restore_metric_info_is_what_the_protocol_wrote_before_the_table():
    """The record's metric_info keeps its content (entries written literally before the table)."""
    assert metric_table.METRICS["seconds_per_image"].info("c") == {
        "higher_is_better": False,
        "unit": "s",
        "kind": "throughput",
        "convention": "c",
    }
    assert metric_table.METRICS["ssim"].info("c") == {
        "higher_is_better": True,
        "unit": "",
        "kind": "quality",
        "convention": "c",
    }
    assert metric_table.METRICS["iterations_per_s"].info("c")["unit"] == "it/s"
    assert metric_table.METRICS["test_accuracy"].info("c", protocol="knn") == {
        "higher_is_better": True,
        "unit": "%",
        "kind": "quality",
        "protocol": "knn",
        "convention": "c",
    }


@pytest.fixture
def two_methods(tmp_path):
    root = tmp_path / "results"
    for seed, acc in enumerate([90.0, 90.5, 91.0]):
        record(root, "cnn", seed, acc)
        record(root, "mlp", seed, acc - 10.0)
    return root


def test_the_tables_read_labels_digits_and_direction_from_the_metric_table(two_methods, monkeypatch):
    before = render(leaderboard(load_groups(two_methods)))
    assert "test acc %" in before and "90.50 ± 0.50" in before
    assert before.index("cnn") < before.index("mlp")  # higher is better: cnn first
    entry = metric_table.METRICS["test_accuracy"]
    changed = dataclasses.replace(entry, label="error %", digits=3, higher_is_better=False)
    monkeypatch.setitem(metric_table.METRICS, "test_accuracy", changed)
    after = render(leaderboard(load_groups(two_methods)))
    assert "error %" in after and "test acc %" not in after
    assert "90.500 ± 0.500" in after
    assert after.index("mlp") < after.index("cnn")  # lower is better now: mlp first, ranked 1


def test_the_report_reads_labels_digits_and_direction_from_the_metric_table(two_methods, monkeypatch):
    def board() -> str:
        (table,) = collect.collect(two_methods).tables
        return str(page.board(table, [], []))

    before = board()
    assert "test acc %" in before and "higher is better" in before and "90.50 ± 0.50" in before
    changed = dataclasses.replace(metric_table.METRICS["test_accuracy"], label="error %", digits=1)
    monkeypatch.setitem(metric_table.METRICS, "test_accuracy", dataclasses.replace(changed, higher_is_better=False))
    after = board()
    assert "error %" in after and "lower is better" in after and "90.5 ± 0.5" in after
    assert 'data-better="lower" title="lower is better' in after


def test_a_method_declares_its_own_rate_through_the_table():
    render_rate = rate("render_images_per_s", label="render img/s")
    assert render_rate.kind == metric_table.THROUGHPUT and render_rate.higher_is_better and render_rate.digits is None
    ctx = make_context()
    ctx.measure(render_rate, lambda: None, items=4)
    figure = bookkeeping(ctx).throughputs["render_images_per_s"]
    assert figure["label"] == "render img/s" and figure["unit"] == "images/s" and figure["items_per_s"] > 0
    with pytest.raises(ValueError, match="_per_s"):
        rate("render_images", label="render")
    with pytest.raises(ValueError, match="host's own"):
        rate("train_images_per_s", label="mine")
    with pytest.raises(ValueError, match="declared with bench.rate"):
        ctx.measure(render_rate, lambda: None, items=1, label="other")


def test_a_name_the_table_does_not_know_is_described_by_its_records():
    assert metric_table.metric("synthesis_images_per_s", label="synth img/s").label == "synth img/s"
    assert metric_table.metric("synthesis_images_per_s").kind == metric_table.THROUGHPUT
    odd = metric_table.metric("lpips", {"higher_is_better": False, "unit": "", "kind": "quality"})
    assert odd.label == "lpips" and not odd.higher_is_better and odd.digits == 2
    assert metric_table.ordered(["lpips", "ssim", "psnr"]) == ["psnr", "ssim", "lpips"]
    assert metric_table.ranking(["ssim", "val_accuracy", "psnr"]) == "psnr"
