"""The host's own cost per run: discovery, validation, record writing and tables, measured on a
suite of trivial methods (the toy plugin: a linear model on 8x8 images, one epoch)."""

import toy
from bench import registry
from bench.data.store import DataStore
from bench.progress import Progress
from bench.records import ResultStore
from bench.report import leaderboard, load_groups, render
from bench.runner import run_specs
from bench.suite import load_suite

RUNS = 8


def test_harness_overhead_per_run(run, tmp_path):
    suite_file = tmp_path / "trivial.yaml"
    suite_file.write_text(f"name: trivial\nseeds: {RUNS}\nruns: [{{datasets: toy, methods: toy-linear, "
                          "protocol: {name: classify, eval_batch_size: 200}, budget: {epochs: 1}}]\n")
    rounds = iter(range(1000))

    def whole_suite():
        reg = registry.load(extra_plugins=[("toy", toy)])
        suite = load_suite(suite_file, reg)
        results = ResultStore(tmp_path / f"results{next(rounds)}")
        outcome = run_specs(suite.runs, reg, results, DataStore(tmp_path / "data"), Progress(quiet=True))
        assert len(outcome.ran) == RUNS
        return render(leaderboard(load_groups(results.root)), "text")

    result = run(whole_suite, rounds=3, runs_per_round=RUNS)
    del result


def test_discovery_and_validation(run, tmp_path):
    def discover_and_validate():
        reg = registry.load()
        return load_suite("suites/cifar10.yaml", reg)

    run(discover_and_validate, rounds=10)
