"""bench.session: one way to run a suite. `bench run`, `bench check` and `bench gpu-check` run their
suites through it, and a script calling run_suite gets the records `bench run` writes."""

import json
import os
from pathlib import Path

import pytest

from bench import cli, devicecheck, registry, run_suite, session
from bench.progress import Progress
from bench.suite import load_suite
from fakedist import install_distribution

HERE = Path(__file__).parent
SUITE = "name: toy-suite\nseeds: [0, 1]\nruns: [{datasets: toy, methods: toy-linear, protocol: classify, budget: {epochs: 1}}]\n"
QUIET = Progress(quiet=True)


@pytest.fixture
def suite(monkeypatch, tmp_path) -> Path:
    """A two-run suite of the toy plugin, installed as a distribution (so `bench` commands see it)."""
    site = install_distribution(
        monkeypatch, tmp_path, "bench-toy", "1.0", {"bench_toy": (HERE / "toy.py").read_text()}, {"toy": "bench_toy"}
    )
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in [str(site), os.environ.get("PYTHONPATH")] if p))
    monkeypatch.setenv("BENCH_PLUGINS", "toy")
    path = tmp_path / "suite.yaml"
    path.write_text(SUITE)
    return path


def records(root: Path) -> dict:
    """Relative path -> (key, status, metrics) of every record under ``root``."""
    found = {}
    for path in sorted(root.rglob("seed*.json")):  # records, not the artifacts beside them
        record = json.loads(path.read_text())
        found[str(path.relative_to(root))] = (record["key"], record["status"], record["metrics"])
    return found


@pytest.fixture
def runs_seen(monkeypatch) -> list:
    """Every suite run through bench.session, as (suite name, results folder, labels run)."""
    seen = []
    original = session.SuiteRun.run

    def run(self, *args, **kwargs):
        seen.append((self.suite.name, self.store.root, [spec.label for spec in self.specs]))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(session.SuiteRun, "run", run)
    return seen


def test_run_suite_writes_the_records_bench_run_writes(suite, tmp_path, runs_seen):
    assert cli.main(["run", str(suite), "--results-dir", str(tmp_path / "cli"), "--quiet"]) == 0
    done = run_suite(suite, results_dir=tmp_path / "api", progress=QUIET)
    assert done.exit_code == 0 and len(done.outcome.ran) == 2
    by_cli, by_api = records(tmp_path / "cli"), records(tmp_path / "api")
    assert len(by_cli) == 2 and by_api == by_cli  # same files, keys, statuses and metrics
    assert [(name, root) for name, root, _ in runs_seen] == [
        ("toy-suite", tmp_path / "cli"),
        ("toy-suite", tmp_path / "api"),
    ]


def test_bench_check_and_the_device_check_run_through_the_session(suite, tmp_path, runs_seen, monkeypatch):
    assert cli.main(["check", "toy-linear"]) == 0
    assert runs_seen and {name for name, _, _ in runs_seen} == {"check"}
    assert all(labels[0].startswith("bench-check-images / toy-linear / classify") for _, _, labels in runs_seen)
    runs_seen.clear()

    one_row = tmp_path / "one-row.yaml"
    one_row.write_text(
        "name: one-row\nseeds: [0]\nruns: [{datasets: check-images, methods: degraded-input, "
        "protocol: {name: restore, task: denoise, sigma: 25.0, images: [rgb-64]}}]\n"
    )
    monkeypatch.delenv("BENCH_PLUGINS")  # the device check runs a built-in
    result = devicecheck.check("cpu", tmp_path / "check", tiny=True, quiet=True, suite=one_row)
    ((name, root, labels),) = runs_seen
    assert name == "one-row" and root == tmp_path / "check" / "eager"
    assert [row["label"] for row in result["runs"]] == labels and result["runs"][0]["status"] == "ok"
    ((_, status, metrics),) = records(root).values()  # the row is the record the session's store holds
    assert status == "ok" and metrics == result["runs"][0]["metrics"]


def test_a_finished_run_is_skipped_unless_the_caller_measures_afresh(suite, tmp_path):
    first = run_suite(suite, results_dir=tmp_path / "r", progress=QUIET)
    again = run_suite(suite, results_dir=tmp_path / "r", progress=QUIET)
    assert len(first.outcome.ran) == 2 and again.outcome.ran == [] and len(again.outcome.skipped) == 2
    assert again.states() == ["done", "done"]
    afresh = run_suite(suite, results_dir=tmp_path / "r", progress=QUIET, rerun="always", only=["seed 1"])
    assert afresh.outcome.ran == [afresh.specs[0].label] and afresh.specs[0].seed == 1


def test_plan_suite_lists_and_runs_nothing(suite, tmp_path):
    planned = session.plan_suite(suite, results_dir=tmp_path / "r", seeds=[3])
    assert [s.seed for s in planned.specs] == [3] and planned.executor_name == "local"
    assert planned.states() == ["to run"] and planned.outcome is None and not (tmp_path / "r").exists()


def test_run_suite_refuses_what_cannot_run_before_running_anything(suite, tmp_path):
    with pytest.raises(session.RunError, match="--only 'nothing' matches none of the suite's 2 runs"):
        run_suite(suite, results_dir=tmp_path / "r", only=["nothing"], progress=QUIET)
    loaded = load_suite(suite, registry.load())
    with pytest.raises(session.RunError, match="budget_scale: only with a suite file"):
        run_suite(loaded, results_dir=tmp_path / "r", budget_scale=0.5, progress=QUIET)
    with pytest.raises(session.RunError, match="rerun: expected one of stale, never, always"):
        run_suite(loaded, results_dir=tmp_path / "r", rerun="sometimes", progress=QUIET)
    with pytest.raises(session.RunError, match="unknown option 'partitions' of executor 'local'"):
        run_suite(loaded, results_dir=tmp_path / "r", executor_options=["partitions=gpu"], progress=QUIET)
    assert not (tmp_path / "r").exists()
