"""bench.isolation: a run in a forked child; a method that exits the interpreter fails only its own
run, with its exit code, and one that ignores signals leaves them to the suite."""

import json
from pathlib import Path

from bench import registry
from bench.records import ResultStore
from bench.suite import load_suite
from installed import run, suite_file


def records_by_method(results: Path) -> dict:
    return {r["spec"]["method"]: r for r in (json.loads(p.read_text()) for p in results.rglob("*.json"))}


def test_a_method_that_exits_the_interpreter_fails_only_its_own_run_with_its_exit_code(plugins, capsys):
    text = "runs: [{datasets: toy, methods: [toy-exit, toy-linear], protocol: classify, budget: {epochs: 1}}]\n"
    assert run(plugins, text, "-X", "isolate=true") == 1  # not 7: the suite went on and says a run failed
    records = records_by_method(plugins / "results")
    assert records["toy-linear"]["status"] == "ok"
    died = records["toy-exit"]
    assert died["status"] == "failed" and died["exit_code"] == 7 and died["error"]["type"] == "ProcessDied"
    assert "ended with exit code 7 before it wrote a record" in died["error"]["message"]


def test_a_method_that_ignores_signals_leaves_them_to_the_suite(plugins, monkeypatch):
    import signal

    from bench.data.store import DataStore
    from bench.progress import Progress
    from bench.runner import run_specs, stop_on_signals

    reg = registry.load()
    text = "runs: [{datasets: toy, methods: [toy-ignore-signals], protocol: classify, budget: {epochs: 1}}]\n"
    suite = load_suite(suite_file(plugins, text), reg)
    store = ResultStore(plugins / "results")
    for isolate in (False, True):
        with stop_on_signals():
            handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
            run_specs(suite.runs, reg, store, DataStore(plugins / "data"), Progress(quiet=True), isolate=isolate)
            assert {sig: signal.getsignal(sig) for sig in handlers} == handlers, f"isolate={isolate}"
        for path in (plugins / "results").rglob("*.json"):
            path.unlink()
