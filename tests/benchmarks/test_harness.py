"""The host's own cost per run: discovery, validation, data load from the process's cache, the
protocol around the method, record writing and tables, measured on suites whose methods cost
next to nothing (the toy plugin's linear model on 8x8 images; the quick suite with its methods'
training replaced by an untrained linear model). ``extra_info.host_ms_per_run`` is the figure:
the suite's wall time less the methods' own training seconds (from the records), per run."""

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import toy
from bench import registry
from bench.data.store import DataStore
from bench.progress import Progress
from bench.records import ResultStore
from bench.report import leaderboard, load_groups, render
from bench.runner import run_specs
from bench.suite import load_suite

RUNS = 8
SHARED_DATA = Path(os.environ.get("BENCH_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))


def suite_cost(
    run, benchmark, suite_file, tmp_path, *, runs: int, extra_plugins=(), data_dir=None, adapt=None, rounds=3
):
    """Benchmark discovery + validation + every run + the table; record the host's ms per run."""
    rounds_done = iter(range(1000))
    method_seconds = []

    def whole_suite():
        reg = registry.load(extra_plugins=list(extra_plugins))
        if adapt:
            adapt(reg)
        suite = load_suite(suite_file, reg)
        results = ResultStore(tmp_path / f"results{next(rounds_done)}")
        outcome = run_specs(suite.runs, reg, results, DataStore(data_dir or tmp_path / "data"), Progress(quiet=True))
        assert len(outcome.ran) == runs, outcome
        records = [json.loads(p.read_text()) for p in results.root.rglob("*.json") if p.parent.name != "artifacts"]
        method_seconds.append(sum(r.get("timings", {}).get("train_seconds", 0) for r in records if "key" in r))
        return render(leaderboard(load_groups(results.root)), "text")

    run(whole_suite, rounds=rounds, runs_per_round=runs)
    median_s = benchmark.stats.stats.median
    benchmark.extra_info["host_ms_per_run"] = round(
        1000 * (median_s - sorted(method_seconds)[len(method_seconds) // 2]) / runs, 2
    )


def toy_suite(tmp_path, seeds: int):
    path = tmp_path / f"trivial{seeds}.yaml"
    path.write_text(
        f"name: trivial\nseeds: {seeds}\nruns: [{{datasets: toy, methods: toy-linear, "
        "protocol: {name: classify, eval_batch_size: 200}, budget: {epochs: 1}}]\n"
    )
    return path


def test_harness_overhead_per_run(run, benchmark, tmp_path):
    suite_cost(run, benchmark, toy_suite(tmp_path, RUNS), tmp_path, runs=RUNS, extra_plugins=[("toy", toy)])


def test_harness_overhead_per_run_100_runs(run, benchmark, tmp_path):
    suite_cost(run, benchmark, toy_suite(tmp_path, 100), tmp_path, runs=100, extra_plugins=[("toy", toy)], rounds=2)


def untrained_linear(data, ctx):
    """The quick suite's methods with their training taken out: what is left is the host's."""
    _, c, h, w = data.train.images.shape
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(c * h * w, data.num_classes)).to(ctx.device)


def test_harness_overhead_on_the_quick_suite(run, benchmark, tmp_path):
    if not (SHARED_DATA / "mnist").is_dir():
        pytest.skip("the quick suite needs the real MNIST copy (../shared/data)")

    def adapt(reg):
        for name in ("small-cnn", "mlp"):
            reg.methods[name] = dataclasses.replace(reg.methods[name], fit=untrained_linear)

    suite_cost(run, benchmark, "suites/quick.yaml", tmp_path, runs=6, data_dir=SHARED_DATA, adapt=adapt)


def test_discovery_and_validation(run, tmp_path):
    def discover_and_validate():
        reg = registry.load()
        return load_suite("suites/cifar10.yaml", reg)

    run(discover_and_validate, rounds=10)


def test_bench_help_start_up(run):
    """`bench --help` in a fresh interpreter: the import time a user waits for (keep < 0.5 s)."""
    run(lambda: subprocess.run([sys.executable, "-m", "bench", "--help"], check=True, capture_output=True), rounds=5)
