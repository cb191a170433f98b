"""Executors: choosing one, records coming home exactly once, resume after a worker or the driver is
killed, and progress across workers. Ray runs as a real local cluster of two worker processes and
submitit's local executor runs the suite as subprocess jobs; both are skipped without the engine."""

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from io import StringIO
from pathlib import Path

import pytest

from bench import cli, registry
from bench.executors import Job, remote
from bench.progress import Progress
from bench.records import ResultStore, RunError, make_record
from bench.suite import load_suite
from fakedist import install_distribution

HERE = Path(__file__).resolve().parents[1]  # tests/, where the toy plugins live
SUITE = "seeds: [0, 1]\nruns: [{datasets: toy, methods: toy-linear, protocol: classify}]\n"


@pytest.fixture(scope="module")
def toy_site(tmp_path_factory):
    """The toy plugins installed as a distribution (modules bench_toy, bench_exec_toy), once per module
    so that a Ray cluster started for the module and the tests see the same plugins."""
    root = tmp_path_factory.mktemp("toy-site")
    with pytest.MonkeyPatch.context() as mp:
        site = install_distribution(
            mp,
            root,
            "bench-toy",
            "1.0",
            {"bench_toy": (HERE / "toy.py").read_text(), "bench_exec_toy": (HERE / "executor_toy.py").read_text()},
            {"toy": "bench_toy", "exec-toy": "bench_exec_toy"},
        )
    return site


def _plugin_env(mp, site):
    """Worker processes see the toy plugins (PYTHONPATH), only them, and log each finished run."""
    mp.syspath_prepend(str(site))
    mp.setenv("PYTHONPATH", os.pathsep.join(p for p in [str(site), os.environ.get("PYTHONPATH")] if p))
    mp.setenv("BENCH_PLUGINS", "toy,exec-toy")
    mp.setenv("TOY_RUN_LOG", str(site.parent / "runs.log"))


@pytest.fixture
def toy_env(monkeypatch, tmp_path, toy_site):
    """A test's folder, with the toy plugins visible to it and to its workers; an empty run log."""
    _plugin_env(monkeypatch, toy_site)
    (toy_site.parent / "runs.log").unlink(missing_ok=True)
    return tmp_path


@pytest.fixture(scope="module")
def ray_cluster(toy_site):
    """A real local Ray cluster with two worker processes (2 CPUs, 1 per run), shared by the module's
    Ray tests: the executor joins it as it would join any running cluster."""
    ray = pytest.importorskip("ray")
    with pytest.MonkeyPatch.context() as mp:
        _plugin_env(mp, toy_site)  # the cluster's workers inherit this environment
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="WARNING")
    yield ray
    ray.shutdown()


def suite_file(tmp_path, text=SUITE, name="suite.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def bench_run(suite, results, *args):
    return cli.main(["run", str(suite), "--results-dir", str(results), *args])


def records(results) -> dict:
    """key -> record, for every record under ``results``."""
    return {r["key"]: r for r in (json.loads(p.read_text()) for p in Path(results).rglob("*.json"))}


def run_log() -> Counter:
    """(key, status) -> how many times a worker or the driver announced it (bench_run_finished)."""
    path = Path(os.environ["TOY_RUN_LOG"])
    return Counter(tuple(line.split()) for line in path.read_text().splitlines()) if path.exists() else Counter()


# -- choosing an executor -------------------------------------------------------------------------


def test_an_unknown_executor_is_refused_naming_the_known_ones(toy_env, capsys):
    assert bench_run(suite_file(toy_env), toy_env / "results", "--executor", "dask") == 2
    err = capsys.readouterr().err
    assert "unknown executor 'dask'; known executors: local, ray, slurm" in err
    assert not (toy_env / "results").exists()


def test_a_missing_engine_is_one_error_with_the_install_command_and_nothing_runs(toy_env, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if ray were not installed
    assert bench_run(suite_file(toy_env), toy_env / "results", "--executor", "ray") == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: executor 'ray' needs ray, which is not installed: pip install 'bench[ray]'"
    assert not (toy_env / "results").exists()


def test_executor_options_are_checked_by_name_and_type(toy_env, capsys):
    suite = suite_file(toy_env)
    assert bench_run(suite, toy_env / "r", "--executor", "ray", "-X", "num_gpus=1", "--dry-run") == 2
    assert "unknown option 'num_gpus' of executor 'ray'; expected one of: address, num_cpus" in capsys.readouterr().err
    assert bench_run(suite, toy_env / "r", "--executor", "ray", "-X", "num_cpus=two", "--dry-run") == 2
    assert "option 'num_cpus': expected an integer >= 0, got str 'two'" in capsys.readouterr().err


def test_a_suite_names_its_executor_and_the_command_line_wins(toy_env, capsys):
    suite = suite_file(toy_env, "executor: {name: slurm, partition: gpu, timeout_min: 30}\n" + SUITE)
    assert load_suite(suite, registry.load()).executor == {
        "name": "slurm",
        "options": {"partition": "gpu", "timeout_min": 30},
    }
    assert bench_run(suite, toy_env / "r", "--dry-run") == 0
    assert capsys.readouterr().out.strip().endswith("executor: slurm")
    assert bench_run(suite, toy_env / "r", "--dry-run", "--executor", "local") == 0
    assert capsys.readouterr().out.strip().endswith("executor: local")
    bad = suite_file(toy_env, "executor: {name: slurm, partitions: gpu}\n" + SUITE, "bad.yaml")
    assert bench_run(bad, toy_env / "r", "--dry-run") == 2
    assert "bad.yaml: executor: unknown option 'partitions' of executor 'slurm'" in capsys.readouterr().err


def test_slurm_without_sbatch_says_what_to_do_and_runs_nothing(toy_env, monkeypatch, capsys):
    pytest.importorskip("submitit")
    monkeypatch.setenv("PATH", str(toy_env))  # no sbatch on it
    assert bench_run(suite_file(toy_env), toy_env / "results", "--executor", "slurm") == 2
    assert (
        "sbatch not found; run on a Slurm login node, or try the suite here with -X cluster=local"
        in capsys.readouterr().err
    )
    assert not list((toy_env / "results").rglob("*.json"))


def test_bench_plugins_lists_the_executors(toy_env, capsys):
    assert cli.main(["plugins", "--json"]) == 0
    listed = {p["name"]: p for p in json.loads(capsys.readouterr().out)["plugins"] if p["kind"] == "executor"}
    assert set(listed) >= {"local", "ray", "slurm"}
    assert listed["ray"]["distribution"] == "bench" and "address" in listed["ray"]["options"]


# -- records come home (no engine needed) -------------------------------------------------------


def job_for(tmp_path, text=SUITE):
    reg = registry.load()
    suite = load_suite(suite_file(tmp_path, text), reg)
    store = ResultStore(tmp_path / "results")
    stream = StringIO()
    job = Job(suite.name, suite.runs, reg, store, tmp_path / "data", True, Progress(stream=stream))
    return job, stream


def test_a_record_the_driver_cannot_see_is_written_once_and_one_it_sees_is_left_alone(toy_env):
    job, _ = job_for(toy_env)
    board, todo = remote.start(job, "test")
    spec, other = todo
    record = make_record(
        spec,
        "ok",
        {"started_at": "t0", "ended_at": "t1", "timings": {"wall_seconds": 1.0}, "metrics": {"test_accuracy": 90.0}},
    )
    remote.settle(job, board, spec, {"state": "ran", "record": record})  # worker on another filesystem
    assert job.store.read(spec) == record
    mtime = job.store.path_for(spec).stat().st_mtime_ns
    remote.settle(job, board, spec, {"state": "ran", "record": record})  # already there: not rewritten
    assert job.store.path_for(spec).stat().st_mtime_ns == mtime
    remote.lost(job, board, spec, RuntimeError("late report of a dead worker"))  # never overwrites "ok"
    assert job.store.read(spec).status == "ok"
    remote.lost(job, board, other, RuntimeError("worker died\nmore"), where="ray")
    lost = job.store.read(other)
    assert lost.status == "failed" and lost.error.message == "worker died (ray)"
    assert board.outcome.ran == [spec.label] and board.outcome.failed == [other.label]


def test_the_board_shows_queued_running_done_and_failed_and_which(toy_env):
    job, stream = job_for(toy_env, SUITE.replace("[0, 1]", "[0, 1, 2]"))
    board, (a, b, c) = remote.start(job, "ray")
    board.started(a, "node-1:42")
    board.started(b)
    board.finished(a, make_record(a, "ok", {"metrics": {"test_accuracy": 91.5}, "timings": {"wall_seconds": 2.0}}))
    board.finished(b, make_record(b, "failed", {}, RunError(message="worker died")))
    lines = stream.getvalue().splitlines()
    assert lines[0] == "ray: 3 queued, 0 running, 0 done, 0 failed"
    assert lines[1] == f"{a.label}: started on node-1:42"
    assert lines[4] == f"ray: 1 queued, 2 running, 0 done, 0 failed | running: {a.label}; {b.label}"
    assert f"{a.label}: ok  test_accuracy 91.50  2.0 s" in lines
    assert f"{b.label}: FAILED: worker died" in lines
    assert lines[-1] == "ray: 1 queued, 0 running, 1 done, 1 failed"
    assert board.which("queued") == [c.label]


# -- Ray: a real local cluster of two worker processes ------------------------------------------


@pytest.mark.slow
def test_ray_runs_the_suite_with_the_same_records_as_the_local_executor(ray_cluster, toy_env, capsys):
    marker = toy_env / "marker"
    marker.touch()  # toy-die trains like toy-linear once its marker exists
    suite = suite_file(
        toy_env, SUITE.replace("toy-linear", f"[toy-linear, {{name: toy-die, params: {{marker: {marker}}}}}]")
    )
    assert bench_run(suite, toy_env / "local") == 0
    capsys.readouterr()
    assert bench_run(suite, toy_env / "ray", "--executor", "ray", "-X", "num_cpus=2") == 0
    err = capsys.readouterr().err
    local, ray = records(toy_env / "local"), records(toy_env / "ray")
    assert len(local) == 4 and set(local) == set(ray)
    for key, record in local.items():
        assert ray[key]["status"] == record["status"] == "ok"
        assert ray[key]["metrics"] == record["metrics"], f"{record['spec']['method']} seed {record['spec']['seed']}"
    threads = {r["environment"]["torch_threads"] for r in ray.values()}
    assert threads == {1}  # Ray gives each run one CPU: torch runs one thread per worker
    assert "ray: 4 queued, 0 running, 0 done, 0 failed" in err
    assert "ray: 0 queued, 2 running, " in err  # two workers at once
    assert "ray: 0 queued, 0 running, 4 done, 0 failed" in err
    assert run_log() == {(key, "ok"): 2 for key in local}  # once by each executor


@pytest.mark.slow
def test_ray_a_killed_worker_is_recorded_failed_and_a_rerun_completes_without_redoing(ray_cluster, toy_env, capsys):
    marker = toy_env / "marker"
    suite = suite_file(
        toy_env,
        "seeds: [0, 1]\nruns:\n  - {datasets: toy, methods: toy-linear, protocol: classify}\n"
        f"  - {{datasets: toy, methods: {{name: toy-die, params: {{marker: {marker}}}}}, protocol: classify, seeds: [0]}}\n",
    )
    results = toy_env / "results"
    assert bench_run(suite, results, "--executor", "ray", "-X", "num_cpus=2") == 1
    assert marker.exists(), "toy-die should have killed its worker"
    first = records(results)
    (died,) = [r for r in first.values() if r["spec"]["method"] == "toy-die"]
    assert len(first) == 3 and died["status"] == "failed"
    assert died["error"]["type"] == "WorkerCrashedError" and "worker died" in died["error"]["message"]
    assert all(r["status"] == "ok" for r in first.values() if r["spec"]["method"] == "toy-linear")
    assert "ray: 0 queued, 0 running, 2 done, 1 failed" in capsys.readouterr().err

    assert bench_run(suite, results, "--executor", "ray", "-X", "num_cpus=2") == 0
    second = records(results)
    assert all(r["status"] == "ok" for r in second.values())
    for key, record in first.items():
        if record["status"] == "ok":
            assert second[key] == record, "a finished run was redone"
    ok = Counter(key for (key, status), n in run_log().items() for _ in range(n) if status == "ok")
    assert sorted(ok.values()) == [1, 1, 1]  # every run finished exactly once


@pytest.mark.slow
def test_ray_killing_the_driver_midway_loses_nothing_and_a_rerun_redoes_only_unfinished_runs(ray_cluster, toy_env):
    suite = suite_file(
        toy_env,
        "seeds: [0, 1, 2, 3, 4, 5]\n"
        "runs: [{datasets: toy, methods: {name: toy-linear, params: {sleep: 0.05}}, protocol: classify}]\n",
    )
    results = toy_env / "results"
    cmd = [
        sys.executable,
        "-m",
        "bench",
        "run",
        str(suite),
        "--results-dir",
        str(results),
        "--quiet",
        "--executor",
        "ray",
        "-X",
        "num_cpus=2",
    ]
    # The driver starts its own local Ray; in its own process group, so the kill takes Ray's helpers too.
    driver = subprocess.Popen(cmd, start_new_session=True)
    try:
        deadline = time.time() + 240
        while len(records(results)) < 2 and time.time() < deadline and driver.poll() is None:
            time.sleep(0.1)
    finally:
        os.killpg(driver.pid, signal.SIGKILL)
        driver.wait()
    finished = {p: p.stat().st_mtime_ns for p in results.rglob("*.json")}
    assert 2 <= len(finished) < 6, "the kill should land midway through the suite"
    _wait_for_locks(results, load_suite(suite, registry.load()).runs)

    assert bench_run(suite, results, "--executor", "ray", "-X", "num_cpus=2", "--quiet") == 0
    assert len(records(results)) == 6 and all(r["status"] == "ok" for r in records(results).values())
    for path, mtime in finished.items():
        assert path.stat().st_mtime_ns == mtime, "a finished run was redone"
    ok = Counter(key for (key, status), n in run_log().items() for _ in range(n) if status == "ok")
    assert len(ok) == 6 and set(ok.values()) == {1}  # each run finished exactly once over both drivers


@pytest.mark.slow
def test_ray_refuses_a_run_bigger_than_the_cluster(ray_cluster, toy_env, capsys):
    assert bench_run(suite_file(toy_env), toy_env / "results", "--executor", "ray", "-X", "cpus_per_run=3") == 2
    assert "cpus_per_run 3 is more than the cluster's 2 CPUs" in capsys.readouterr().err
    assert not list((toy_env / "results").rglob("*.json"))


def _wait_for_locks(results, specs, timeout=60.0):
    """Workers of the killed driver die with it (Ray's fate sharing); wait until their locks are gone."""
    store = ResultStore(results)
    deadline = time.time() + timeout
    for spec in specs:
        while (lock := store.claim(spec)) is None:
            assert time.time() < deadline, f"{spec.label} is still locked by a worker of the killed driver"
            time.sleep(0.2)
        lock.release()


# -- Slurm through submitit: its local executor runs the array as subprocess jobs -------------------


@pytest.mark.slow
def test_slurm_local_runs_the_suite_as_subprocess_jobs_records_a_dead_job_and_resumes(toy_env, capsys):
    pytest.importorskip("submitit")
    marker = toy_env / "marker"
    suite = suite_file(
        toy_env,
        "seeds: [0, 1]\nruns:\n  - {datasets: toy, methods: toy-linear, protocol: classify}\n"
        f"  - {{datasets: toy, methods: {{name: toy-die, params: {{marker: {marker}}}}}, protocol: classify, seeds: [0]}}\n",
    )
    results, slurm = toy_env / "slurm", ["--executor", "slurm", "-X", "cluster=local", "-X", "cpus_per_run=1"]
    assert bench_run(suite, results, *slurm) == 1
    err = capsys.readouterr().err
    assert "slurm: submitted 3 runs as job array" in err and "slurm: 0 queued, 0 running, 2 done, 1 failed" in err
    first = records(results)
    (died,) = [r for r in first.values() if r["spec"]["method"] == "toy-die"]
    assert died["status"] == "failed" and "slurm job" in died["error"]["message"] and marker.exists()
    logs = list((results / ".submitit").rglob("*_log.err"))
    assert any("toy-linear" in p.read_text() for p in logs)  # each job logs its run's progress

    assert bench_run(suite, results, *slurm) == 0  # resume: only the dead job's run is submitted
    assert "slurm: submitted 1 runs as job array" in capsys.readouterr().err
    second = records(results)
    for key, record in first.items():
        if record["status"] == "ok":
            assert second[key] == record, "a finished run was redone"
    assert bench_run(suite, toy_env / "local") == 0  # toy-die's marker exists: it trains in this process
    local = records(toy_env / "local")
    assert set(local) == set(second) and len(local) == 3
    for key, record in local.items():
        assert second[key]["status"] == "ok" and second[key]["metrics"] == record["metrics"]
