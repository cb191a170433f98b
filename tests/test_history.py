"""`bench history`: superseded records kept, rows across code versions, steps beyond the noise."""

import json
import random

from bench import cli
from bench.history import detect_steps, history, noise
from bench.records import ResultStore, check_record, iter_records, read_record, write_json_atomic
from planted import record


def noisy(levels: list[float], sigma: float, seed: int) -> list[float]:
    rng = random.Random(seed)
    return [level + rng.gauss(0, sigma) for level in levels]


def test_a_planted_step_in_a_noisy_series_is_found_and_a_flat_series_has_none():
    for seed in range(20):
        assert detect_steps(noisy([10.0] * 10 + [14.0] * 10, 1.0, seed), 1.0) == [10], seed
        assert detect_steps(noisy([10.0] * 20, 1.0, seed), 1.0) == [], seed
    assert detect_steps(noisy([10.0] * 6 + [20.0] * 6 + [10.0] * 6, 1.0, 0), 1.0) == [6, 12]
    assert detect_steps([1.0, 1.0], 1.0) == [] and detect_steps([1.0, 9.0], 1.0) == [1]  # 8 noise units
    # The noise comes from the series itself when no version has several seeds.
    series = noisy([10.0] * 10 + [14.0] * 10, 1.0, 0)
    assert detect_steps(series, noise([[v] for v in series])) == [10]
    flat = noisy([10.0] * 20, 1.0, 0)
    assert detect_steps(flat, noise([[v] for v in flat])) == []


def version(root, code: str, ended: str, accs: list[float], superseded: bool, rate=1000.0):
    """A row's records made by code ``code``: current, or kept as a re-run left them."""
    for seed, acc in enumerate(accs):
        record(root, "cnn", seed, acc, train_rate=rate)
        path = root / f"cnn-{seed}-3.json"
        data = json.loads(path.read_text())
        data |= {"ended_at": ended, "code": {"git_commit": code * 8, "git_dirty": False}}
        data["code_identity"] = {"host": {"version": "0.1.0", "source": code, "modules": {"bench.context": code}}}
        if superseded:
            path.unlink()
            path = root / "superseded" / f"cnn-{seed}-3@{ended.replace('-', '')}.json"
        write_json_atomic(path, data)


def test_history_orders_versions_and_marks_the_step(tmp_path, capsys):
    results = tmp_path / "results"
    for i, code in enumerate("abcd"):
        accs = [98.0, 98.2, 98.4] if code in "ab" else [96.0, 96.2, 96.4]
        version(results, code, f"2026-01-0{i + 1}", accs, superseded=code != "d")
    assert len(list(iter_records(results))) == 3  # tables read the current records only
    rows = history(results)
    assert [v.label for v in rows[0].versions] == ["aaaaaaaa", "bbbbbbbb", "cccccccc", "dddddddd"]
    accuracy = next(s for s in rows[0].series if s.metric == "test_accuracy")
    assert accuracy.steps == [2] and accuracy.values[0] == 98.2
    throughput = next(s for s in rows[0].series if s.metric == "train_images_per_s")
    assert throughput.steps == []
    capsys.readouterr()
    assert cli.main(["history", str(results)]) == 0
    out = capsys.readouterr().out
    assert "96.2 ± 0.2 (3) <- step" in out
    assert "step in test_accuracy at cccccccc: 98.2 -> 96.2 (-2.0%" in out
    assert cli.main(["history", str(results), "--row", "nothing"]) == 2


def test_a_rerun_keeps_the_finished_record_it_replaces_but_not_a_failed_one(tmp_path):
    record(tmp_path / "made", "cnn", 0, 98.0)
    finished = json.loads(next((tmp_path / "made").glob("*.json")).read_text())

    class Spec:
        suite, dataset, method, seed, key = "s", "toy", "cnn", 0, "k"

    store = ResultStore(tmp_path / "results")
    store.write(Spec, check_record({**finished, "status": "failed", "error": {"message": "boom"}}))
    store.write(Spec, check_record(finished))
    folder = tmp_path / "results" / "s" / "toy" / "cnn"
    assert not (folder / "superseded").exists()
    store.write(Spec, check_record({**finished, "ended_at": "2026-12-06T04:00:00+00:00"}))
    kept = list((folder / "superseded").iterdir())
    assert [p.name for p in kept] == ["seed0-k@20260101T000000.json"] and read_record(kept[0]) == check_record(finished)
