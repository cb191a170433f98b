import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import toy
from bench import registry
from bench.data.store import DataStore
from bench.progress import Progress
from bench.records import ResultStore
from bench.runner import run_specs
from bench.suite import load_suite
from fakedist import install_distribution

TOY_SOURCE = (Path(__file__).parent / "toy.py").read_text()


@pytest.fixture
def reg():
    return registry.load(extra_plugins=[("toy", toy)])


def run_suite(tmp_path, reg, text, results="results"):
    path = tmp_path / "suite.yaml"
    path.write_text(text)
    suite = load_suite(path, reg)
    store = ResultStore(tmp_path / results)
    return suite, store, run_specs(suite.runs, reg, store, DataStore(tmp_path / "data"), Progress(quiet=True))


def test_a_run_writes_a_complete_record(tmp_path, reg):
    suite, store, outcome = run_suite(tmp_path, reg, "seeds: [3]\nruns: [{datasets: toy, methods: toy-linear, protocol: classify}]\n")
    assert outcome.exit_code == 0 and len(outcome.ran) == 1
    record = store.read(suite.runs[0])
    assert record["schema_version"] == 1 and record["status"] == "ok"
    assert record["spec"]["seed"] == 3 and record["spec"]["budget"] == {"epochs": 4}
    assert record["metrics"]["test_accuracy"] > 90 and "val_accuracy" in record["metrics"]
    assert record["metric_info"]["test_accuracy"]["convention"].startswith("top-1 accuracy")
    assert record["throughput"]["train_images_per_s"]["items_per_s"] > 0
    assert record["throughput"]["train_images_per_s"]["warm"] is True  # first epoch excluded
    assert record["throughput"]["inference_images_per_s"]["repeats"] == 5
    assert record["details"]["split"] == {"train": 360, "val": 40, "test": 200, "holdout": 0.1, "split_seed": 0}
    assert [c["epoch"] for c in record["details"]["curves"] if "loss" in c] == [1, 2, 3, 4]
    assert record["environment"]["libraries"]["torch"] and record["environment"]["device"]["type"] == "cpu"
    assert record["code"]["bench"] and record["plugins"]["method"]["plugin"] == "toy"
    assert record["timings"]["train_seconds"] > 0


def test_same_seed_same_result(tmp_path, reg):
    text = "seeds: [0]\nruns: [{datasets: toy, methods: toy-linear, protocol: classify}]\n"
    a = run_suite(tmp_path, reg, text, "a")
    b = run_suite(tmp_path, reg, text, "b")
    ra, rb = a[1].read(a[0].runs[0]), b[1].read(b[0].runs[0])
    assert ra["metrics"] == rb["metrics"]
    assert [c.get("loss") for c in ra["details"]["curves"]] == [c.get("loss") for c in rb["details"]["curves"]]


def test_a_failing_plugin_fails_its_own_run_not_the_suite(tmp_path, reg):
    suite, store, outcome = run_suite(tmp_path, reg, "runs: [{datasets: toy, methods: [toy-crash, toy-linear], protocol: classify}]\n")
    assert outcome.exit_code == 1
    assert len(outcome.failed) == 1 and len(outcome.ran) == 1
    crash = store.read([s for s in suite.runs if s.method == "toy-crash"][0])
    assert crash["status"] == "failed"
    assert crash["error"]["message"] == "toy-crash always fails"
    assert "Traceback" in crash["error"]["traceback"] and "fit_crash" in crash["error"]["traceback"]


def test_finished_runs_are_skipped_and_failed_runs_retried(tmp_path, reg, monkeypatch):
    text = "seeds: [0, 1]\nruns: [{datasets: toy, methods: toy-flaky, protocol: classify}]\n"
    monkeypatch.setitem(toy.FAIL_FLAG, "crash", True)
    _, _, first = run_suite(tmp_path, reg, text)
    assert len(first.failed) == 2
    monkeypatch.setitem(toy.FAIL_FLAG, "crash", False)
    suite, store, second = run_suite(tmp_path, reg, text)
    assert len(second.ran) == 2 and not second.skipped  # failures are never cached as done
    _, _, third = run_suite(tmp_path, reg, text)
    assert not third.ran and len(third.skipped) == 2


def test_a_spec_claimed_by_another_process_is_not_run(tmp_path, reg):
    path = tmp_path / "suite.yaml"
    path.write_text("runs: [{datasets: toy, methods: toy-linear, protocol: classify}]\n")
    suite = load_suite(path, reg)
    store = ResultStore(tmp_path / "results")
    held = store.claim(suite.runs[0])
    try:
        outcome = run_specs(suite.runs, reg, store, DataStore(tmp_path / "data"), Progress(quiet=True))
    finally:
        held.release()
    assert outcome.busy == [suite.runs[0].label] and not outcome.ran
    assert store.read(suite.runs[0]) is None


# -- real processes --------------------------------------------------------------------------------


@pytest.fixture
def toy_env(monkeypatch, tmp_path):
    """Environment for `bench run` subprocesses that see the toy plugin as an installed distribution."""
    site = install_distribution(monkeypatch, tmp_path, "bench-toy", "1.0", {"bench_toy": TOY_SOURCE}, {"toy": "bench_toy"})
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
               TOY_RUN_LOG=str(tmp_path / "runs.log"), BENCH_PLUGINS="toy")
    return env


def bench(*args):
    return [sys.executable, "-m", "bench", *args]


@pytest.mark.slow
def test_killing_a_suite_midway_then_rerunning_redoes_only_unfinished_runs(tmp_path, toy_env):
    suite = tmp_path / "slow.yaml"
    suite.write_text("seeds: [0, 1, 2, 3]\nruns: [{datasets: toy, methods: {name: toy-linear, params: {sleep: 0.02}}, protocol: classify}]\n")
    results = tmp_path / "results"
    proc = subprocess.Popen(bench("run", str(suite), "--results-dir", str(results), "--quiet"), env=toy_env)
    deadline = time.time() + 120
    while not list(results.rglob("*.json")) and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished = {p: p.stat().st_mtime_ns for p in results.rglob("*.json")}
    assert 1 <= len(finished) < 4, "the kill should land midway through the suite"

    rerun = subprocess.run(bench("run", str(suite), "--results-dir", str(results), "--quiet"), env=toy_env)
    assert rerun.returncode == 0
    records = list(results.rglob("*.json"))
    assert len(records) == 4
    for path, mtime in finished.items():
        assert path.stat().st_mtime_ns == mtime, "a finished run was redone"
    runs = Path(toy_env["TOY_RUN_LOG"]).read_text().split("\n")
    keys = [line.split()[0] for line in runs if line]
    assert len(keys) == len(set(keys)) == 4  # each spec ran exactly once over both invocations


@pytest.mark.slow
def test_two_processes_sharing_a_results_folder_never_run_a_spec_twice(tmp_path, toy_env):
    suite = tmp_path / "shared.yaml"
    suite.write_text("seeds: [0, 1, 2, 3, 4, 5]\nruns: [{datasets: toy, methods: {name: toy-linear, params: {sleep: 0.005}}, protocol: classify}]\n")
    results = tmp_path / "results"
    procs = [subprocess.Popen(bench("run", str(suite), "--results-dir", str(results), "--quiet"), env=toy_env)
             for _ in range(2)]
    assert [p.wait() for p in procs] == [0, 0]
    keys = [line.split()[0] for line in Path(toy_env["TOY_RUN_LOG"]).read_text().splitlines()]
    assert sorted(keys) == sorted(set(keys)) and len(keys) == 6
    records = [json.loads(p.read_text()) for p in results.rglob("*.json")]
    assert len(records) == 6 and all(r["status"] == "ok" for r in records)
