"""bench.costs: what a row cost: time to quality from the learning curves (a classifier's epochs, a
restorer's PSNR by iteration), peak memory by how it was measured, a label budget's folds apart."""

import json

import pytest

import report_toy
import toy
from bench import cli, costs, registry
from bench.data.store import DataStore
from bench.progress import Progress
from bench.records import Record, ResultStore, key_of, write_json_atomic
from bench.report import leaderboard, load_groups, render
from bench.runner import run_specs
from bench.suite import load_suite
from planted import classify_record

CURVE = [
    {"epoch": 1, "val_accuracy": 0.80},
    {"epoch": 1, "loss": 1.0, "seconds": 2.0},
    {"epoch": 2, "val_accuracy": 0.95},
    {"epoch": 2, "loss": 0.5, "seconds": 3.0},
    {"epoch": 3, "val_accuracy": 0.97},
    {"epoch": 3, "loss": 0.4, "seconds": 4.0},
]


def test_time_to_quality_reads_the_learning_curve(tmp_path):
    classify_record(tmp_path, "a", 0, 97.0, curves=CURVE)
    (group,) = load_groups(tmp_path)
    record = group.ok[0]
    # 90% of 0.97 = 0.873: reached at epoch 2 (2 + 3 s); 99% = 0.9603: at epoch 3 (9 s)
    assert costs.time_to_quality(record, 0.9) == pytest.approx(5.0)
    assert costs.time_to_quality(record, 0.99) == pytest.approx(9.0)
    row = leaderboard([group])[0]
    assert row.metrics["time_to_90_s"].mean == 5.0 and row.metrics["run_seconds"].mean == 10.0


def test_time_to_quality_of_a_restorer_reads_its_psnr_curves():
    record = Record(
        key="k",
        spec={},
        status="ok",
        details={
            "curves": {
                "01": [
                    {"iteration": 10, "psnr": 20.0},
                    {"iteration": 20, "psnr": 27.5},
                    {"iteration": 30, "psnr": 28.0},
                ],
                "02": [{"iteration": 10, "psnr": 29.0}, {"iteration": 20, "psnr": 30.0}],
            },
            "per_image": [
                {"image": "01", "iterations": 30, "loop_seconds": 6.0},
                {"image": "02", "iterations": 20, "seconds": 2.0},
            ],
        },
    )
    # 01: 90% of 28 = 25.2 at iteration 20, 0.2 s/it -> 4 s; 02: 90% of 30 = 27 at 10, 0.1 s/it -> 1 s
    assert costs.time_to_quality(record, 0.9) == pytest.approx(5.0)
    assert costs.time_to_quality(Record("k", {}, "ok", details={"curves": [], "per_image": []}), 0.9) is None


def test_peak_memory_is_a_column_named_by_how_it_was_measured(tmp_path):
    cpu = {"bytes": 300 * 2**20, "kind": "cpu_peak_rss_increase", "how": "VmHWM"}
    for seed in range(3):
        classify_record(tmp_path, "a", seed, 90.0 + seed, memory={**cpu, "bytes": (300 + seed) * 2**20})
    row = leaderboard(load_groups(tmp_path))[0]
    assert row.metrics["peak_rss_mib"].values == (300.0, 301.0, 302.0)
    assert "peak_gpu_mib" not in row.metrics
    assert "peak RSS+ MiB" in render([row], "text") and "301 ± 1" in render([row], "text")


def test_costs_count_a_label_budgets_folds_apart_not_as_shards(tmp_path):
    for fold in (0, 1):
        spec = {
            "suite": "s",
            "dataset": "toy",
            "method": "a",
            "protocol": "classify",
            "protocol_options": {"labels": 4, "split_seed": fold},
            "params": {},
            "budget": {"epochs": 3},
            "seed": 0,
        }
        write_json_atomic(
            tmp_path / f"a-{fold}.json",
            {
                "schema_version": 1,
                "key": key_of(spec),
                "spec": spec,
                "status": "ok",
                "ended_at": "2026-01-01T00:00:00",
                "metrics": {"test_accuracy": 90.0 + fold},
                "timings": {"wall_seconds": 10.0 + fold},
                "details": {"curves": CURVE},
            },
        )
    row = leaderboard(load_groups(tmp_path))[0]
    assert row.metrics["run_seconds"].values == (10.0, 11.0)  # two folds, not one seed of 21 s
    assert row.metrics["time_to_90_s"].values == (5.0, 5.0)


def test_a_toy_run_records_its_peak_memory_and_its_table_shows_time_to_quality(tmp_path, capsys):
    reg = registry.load(extra_plugins=[("toy", toy), ("report_toy", report_toy)])
    path = tmp_path / "s.yaml"
    path.write_text("name: s\nruns: [{datasets: toy, methods: toy-painter, protocol: classify}]\n")
    store = ResultStore(tmp_path / "r")
    suite = load_suite(path, reg)
    run_specs(suite.runs, reg, store, DataStore(tmp_path / "d"), Progress(quiet=True))
    record = store.read(suite.runs[0])
    assert record.memory["kind"] == "cpu_peak_rss_increase" and record.memory["bytes"] >= 0
    assert "VmHWM" in record.memory["how"] or "ru_maxrss" in record.memory["how"]
    assert cli.main(["table", str(tmp_path / "r"), "--format", "json"]) == 0
    row = json.loads(capsys.readouterr().out)[0]
    assert {"peak_rss_mib", "time_to_90_s", "time_to_99_s", "run_seconds"} <= set(row["metrics"])
    assert 0 < row["metrics"]["time_to_90_s"]["mean"] <= row["metrics"]["time_to_99_s"]["mean"]
    assert row["metrics"]["time_to_99_s"]["mean"] <= record.timings["train_seconds"]
