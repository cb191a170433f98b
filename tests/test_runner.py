import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import toy
from bench import MethodSpec, hookimpl, registry
from bench.data.store import DataStore
from bench.progress import Progress
from bench.records import SCHEMA_VERSION, ResultStore, check_record
from bench.runner import run_specs
from bench.suite import load_suite
from fakedist import install_distribution
from runs import run_suite

TOY_SOURCE = (Path(__file__).parent / "toy.py").read_text()


def test_a_run_writes_a_complete_record(tmp_path, reg):
    suite, store, outcome = run_suite(
        tmp_path, reg, "seeds: [3]\nruns: [{datasets: toy, methods: toy-linear, protocol: classify}]\n"
    )
    assert outcome.exit_code == 0 and len(outcome.ran) == 1
    record = store.read(suite.runs[0])
    assert record.schema_version == SCHEMA_VERSION and record.status == "ok"
    assert record.spec["seed"] == 3 and record.spec["budget"] == {"epochs": 4}
    assert set(record.metrics) >= {"test_accuracy"} and record.throughput and record.details  # the protocol's
    assert record.environment["libraries"]["torch"] and record.environment["device"]["type"] == "cpu"
    assert record.environment["lock"]["packages"]["torch"] == record.environment["libraries"]["torch"]
    assert set(record.environment["load_average"]) == {"start", "end"}
    assert record.code["bench"] and record.plugins["method"]["plugin"] == "toy"


def test_same_seed_same_result(tmp_path, reg):
    text = "seeds: [0]\nruns: [{datasets: toy, methods: toy-linear, protocol: classify}]\n"
    a = run_suite(tmp_path, reg, text, "a")
    b = run_suite(tmp_path, reg, text, "b")
    ra, rb = a[1].read(a[0].runs[0]), b[1].read(b[0].runs[0])
    assert ra.metrics == rb.metrics
    assert [c.get("loss") for c in ra.details["curves"]] == [c.get("loss") for c in rb.details["curves"]]


def test_a_failing_plugin_fails_its_own_run_not_the_suite(tmp_path, reg):
    suite, store, outcome = run_suite(
        tmp_path, reg, "runs: [{datasets: toy, methods: [toy-crash, toy-linear], protocol: classify}]\n"
    )
    assert outcome.exit_code == 1
    assert len(outcome.failed) == 1 and len(outcome.ran) == 1
    crash = store.read([s for s in suite.runs if s.method == "toy-crash"][0])
    assert crash.status == "failed"
    assert crash.error.message == "toy-crash always fails"
    assert "Traceback" in crash.error.traceback and "fit_crash" in crash.error.traceback


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
    site = install_distribution(
        monkeypatch, tmp_path, "bench-toy", "1.0", {"bench_toy": TOY_SOURCE}, {"toy": "bench_toy"}
    )
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
        TOY_RUN_LOG=str(tmp_path / "runs.log"),
        BENCH_PLUGINS="toy",
    )
    return env


def bench(*args):
    return [sys.executable, "-m", "bench", *args]


@pytest.mark.slow
def test_killing_a_suite_midway_then_rerunning_redoes_only_unfinished_runs(tmp_path, toy_env):
    suite = tmp_path / "slow.yaml"
    suite.write_text(
        "seeds: [0, 1, 2, 3]\nruns: [{datasets: toy, methods: {name: toy-linear, params: {sleep: 0.02}}, protocol: classify}]\n"
    )
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
    suite.write_text(
        "seeds: [0, 1, 2, 3, 4, 5]\nruns: [{datasets: toy, methods: {name: toy-linear, params: {sleep: 0.005}}, protocol: classify}]\n"
    )
    results = tmp_path / "results"
    procs = [
        subprocess.Popen(bench("run", str(suite), "--results-dir", str(results), "--quiet"), env=toy_env)
        for _ in range(2)
    ]
    assert [p.wait() for p in procs] == [0, 0]
    keys = [line.split()[0] for line in Path(toy_env["TOY_RUN_LOG"]).read_text().splitlines()]
    assert sorted(keys) == sorted(set(keys)) and len(keys) == 6
    records = [json.loads(p.read_text()) for p in results.rglob("*.json")]
    assert len(records) == 6 and all(r["status"] == "ok" for r in records)


# -- what a run cannot do: report a non-finite number, end the suite -------------------------------


def strict_json(path: Path) -> dict:
    def refuse(constant):
        raise AssertionError(f"{path.name} holds {constant}, which is not JSON")

    return json.loads(path.read_text(), parse_constant=refuse)


def test_a_non_finite_metric_fails_the_run_naming_the_metric(tmp_path, reg, monkeypatch):
    import bench.protocols.classify as classify

    monkeypatch.setattr(classify, "accuracy", lambda *args, **kwargs: float("nan"))
    suite, store, outcome = run_suite(
        tmp_path, reg, "runs: [{datasets: toy, methods: toy-linear, protocol: classify}]\n"
    )
    assert outcome.exit_code == 1 and len(outcome.failed) == 1
    record = strict_json(store.path_for(suite.runs[0]))  # its metric is null: not in the schema, run again
    assert record["status"] == "failed" and record["error"]["type"] == "NonFiniteMetric"
    assert record["error"]["message"].startswith("metric 'test_accuracy' is nan, not a finite number")


def test_a_diverged_loss_is_recorded_as_null_and_the_record_is_strict_json(tmp_path, reg):
    text = "runs: [{datasets: toy, methods: {name: toy-linear, params: {lr: 1.0e+38}}, protocol: classify}]\n"
    suite, store, outcome = run_suite(tmp_path, reg, text)
    record = check_record(strict_json(store.path_for(suite.runs[0])))
    losses = [c["loss"] for c in record.details["curves"] if "loss" in c]
    assert None in losses, losses  # the loss diverged: no number, not a bare NaN
    assert record.status == "ok" and outcome.exit_code == 0  # its accuracy is a real (bad) result


def test_the_atomic_writer_refuses_nan(tmp_path):
    from bench.records import write_json_atomic

    with pytest.raises(ValueError):
        write_json_atomic(tmp_path / "r.json", {"x": float("inf")})
    assert not list(tmp_path.iterdir())  # neither a record nor its temporary file


class Escape(BaseException):
    """A BaseException of a method's own."""


class Rogue:
    """Methods that raise what a method should not: each must fail its own run only."""

    RAISES = {
        "toy-exit": SystemExit(3),
        "toy-ctrl-c": KeyboardInterrupt(),
        "toy-escape": Escape("out"),
        "toy-genexit": GeneratorExit(),
    }

    @hookimpl
    def bench_register_methods(self, register):
        for name, exc in self.RAISES.items():
            register(MethodSpec(name=name, kind="classifier", fit=self._raiser(exc), budget={"epochs": 1}))
        register(MethodSpec(name="toy-sigint", kind="classifier", fit=self._ctrl_c, budget={"epochs": 1}))

    @staticmethod
    def _raiser(exc):
        def fit(data, ctx):
            raise exc

        return fit

    @staticmethod
    def _ctrl_c(data, ctx):
        """A person presses Ctrl-C while this run trains."""
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)  # the signal's handler raises before this ends
        raise AssertionError("not interrupted")


def test_a_method_raising_systemexit_or_any_baseexception_fails_only_its_own_run(tmp_path):
    from bench.runner import stop_on_signals

    reg = registry.load(extra_plugins=[("toy", toy), ("rogue", Rogue())])
    text = "runs: [{datasets: toy, methods: [toy-exit, toy-ctrl-c, toy-escape, toy-genexit, toy-linear], protocol: classify}]\n"
    with stop_on_signals():  # as in `bench run`: only a real signal is a Ctrl-C
        suite, store, outcome = run_suite(tmp_path, reg, text)
    assert len(outcome.failed) == 4 and len(outcome.ran) == 1 and outcome.exit_code == 1
    errors = {s.method: store.read(s).error for s in suite.runs}
    assert errors["toy-linear"] is None
    assert errors["toy-exit"].type == "SystemExit" and "SystemExit('3')" in errors["toy-exit"].message
    assert errors["toy-ctrl-c"].type == "KeyboardInterrupt"
    assert errors["toy-escape"].type == "Escape" and errors["toy-genexit"].type == "GeneratorExit"
    assert "cannot end the suite" in errors["toy-escape"].message


def test_a_real_ctrl_c_stops_the_suite_and_keeps_what_finished(tmp_path, reg, monkeypatch):
    from bench.runner import Interrupted, stop_on_signals

    def ctrl_c(data, ctx):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)  # the signal arrives first
        raise AssertionError("not interrupted")

    monkeypatch.setattr(reg.methods["toy-flaky"], "fit", ctrl_c, raising=False) if False else None
    object.__setattr__(reg.methods["toy-crash"], "train", ctrl_c)
    text = "runs: [{datasets: toy, methods: [toy-linear, toy-crash, toy-flaky], protocol: classify}]\n"
    with pytest.raises(Interrupted) as stopped, stop_on_signals():
        run_suite(tmp_path, reg, text)
    assert stopped.value.exit_code == 130
    written = [json.loads(p.read_text())["spec"]["method"] for p in (tmp_path / "results").rglob("*.json")]
    assert written == ["toy-linear"]  # the interrupted run left no record; the next never started


@pytest.mark.slow  # two `bench run` processes each: ~10 s of CPU per case
@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_sigterm_or_ctrl_c_stops_a_suite_cleanly_and_a_rerun_resumes(tmp_path, toy_env, sig, code):
    suite = tmp_path / "slow.yaml"
    suite.write_text(
        "seeds: [0, 1, 2, 3]\nruns: [{datasets: toy, methods: {name: toy-linear, params: {sleep: 0.02}}, protocol: classify}]\n"
    )
    results = tmp_path / "results"
    proc = subprocess.Popen(
        bench("run", str(suite), "--results-dir", str(results), "--quiet"),
        env=toy_env,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 120
    while not list(results.rglob("*.json")) and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert f"interrupted by {signal.Signals(sig).name}: finished runs are saved" in err
    assert "Traceback" not in err
    finished = {p: p.stat().st_mtime_ns for p in results.rglob("*.json")}
    assert 1 <= len(finished) < 4, "the signal should land midway through the suite"

    assert (
        subprocess.run(bench("run", str(suite), "--results-dir", str(results), "--quiet"), env=toy_env).returncode == 0
    )
    assert len(list(results.rglob("*.json"))) == 4
    assert all(path.stat().st_mtime_ns == mtime for path, mtime in finished.items()), "a finished run was redone"
    keys = [line.split()[0] for line in Path(toy_env["TOY_RUN_LOG"]).read_text().splitlines()]
    assert len(keys) == len(set(keys)) == 4


def test_a_signal_while_a_record_is_written_stops_the_suite_once_the_plugins_are_told(tmp_path, reg, monkeypatch):
    """Ctrl-C between the record's write and bench_run_finished would leave a record the plugins
    never heard of (seen under load in CI): the signal waits for the step to end."""
    from bench.interrupt import Interrupted
    from bench.runner import DatasetCache, execute, stop_on_signals

    told = []
    monkeypatch.setattr(type(reg), "call_run_finished", lambda self, record: told.append(record["key"]) or [])
    path = tmp_path / "suite.yaml"
    path.write_text("seeds: [0]\nruns: [{datasets: toy, methods: toy-linear, protocol: classify}]\n")
    suite = load_suite(path, reg)
    store = ResultStore(tmp_path / "results")
    write = store.write

    def write_then_signal(spec, record):
        write(spec, record)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.05)  # the handler would run here, were the signal not deferred

    monkeypatch.setattr(store, "write", write_then_signal)
    cache = DatasetCache(DataStore(tmp_path / "data"))
    with pytest.raises(Interrupted), stop_on_signals():
        execute(suite.runs[0], reg, store, cache, Progress(quiet=True), "run")
    assert told == [suite.runs[0].key] and store.finished(suite.runs[0]) is not None
    assert signal.getsignal(signal.SIGTERM) is not None


def test_orphan_temporary_files_of_a_killed_write_are_removed_at_the_next_run(tmp_path, monkeypatch, capsys):
    from filelock import FileLock

    from bench import cli

    install_distribution(monkeypatch, tmp_path, "bench-toy", "1.0", {"bench_toy": TOY_SOURCE}, {"toy": "bench_toy"})
    monkeypatch.setenv("BENCH_PLUGINS", "toy")
    suite = tmp_path / "toy.yaml"
    suite.write_text("runs: [{datasets: toy, methods: toy-linear, protocol: classify}]\n")
    folder = tmp_path / "results" / "other" / "toy" / "toy-linear"
    folder.mkdir(parents=True)
    orphan = folder / ".seed0-0123456789abcdef.json.k2x_9q.tmp"  # as write_json_atomic names them
    orphan.write_text('{"half": ')
    writing = folder / ".seed1-0123456789abcdef.json.a8b_1z.tmp"  # another process is writing it now
    writing.write_text('{"half": ')
    with FileLock(str(folder / "seed1-0123456789abcdef.lock"), timeout=0):
        assert cli.main(["run", str(suite), "--results-dir", str(tmp_path / "results")]) == 0
    assert not orphan.exists() and writing.exists()
    assert "removed 1 unfinished record writes (*.tmp) left by a killed run" in capsys.readouterr().err


def test_execute_under_the_lock_runs_a_stale_record_again_unless_the_store_judged_it(tmp_path, reg):
    """A plain store (an executor's worker): a record of other code runs again. A store with its
    own ``stale`` (bench run's) has the last word and the record is read once."""
    from dataclasses import replace

    from bench.runner import DatasetCache, execute

    suite, store, _ = run_suite(
        tmp_path, reg, "seeds: [0]\nruns: [{datasets: toy, methods: toy-linear, protocol: classify}]\n"
    )
    spec = suite.runs[0]
    record = store.read(spec)
    store.write(spec, replace(record, code_identity=None))  # made before identity
    cache, progress = DatasetCache(DataStore(tmp_path / "data")), Progress(quiet=True)
    reads = []
    judging = ResultStore(store.root, stale=lambda s, r: reads.append(r.key))  # says: not stale
    assert execute(spec, reg, judging, cache, progress, "x")[0] == "skipped" and len(reads) == 1
    assert execute(spec, reg, store, cache, progress, "x")[0] == "ran"
    assert store.read(spec).code_identity is not None
