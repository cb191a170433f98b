import json

import pytest

from bench import cli
from bench.records import write_json_atomic
from bench.report import Tolerances, compare, leaderboard, load_groups, render


def record(root, method, seed, acc, train_rate=1000.0, status="ok", epochs=3, suite="s", key=None):
    spec = {"suite": suite, "dataset": "toy", "method": method, "protocol": "classify",
            "protocol_options": {"holdout": 0.1}, "params": {}, "budget": {"epochs": epochs},
            "budget_scale": 1.0, "seed": seed, "device": "auto", "precision": "auto"}
    rec = {"schema_version": 1, "key": key or f"{method}-{seed}-{epochs}", "spec": spec, "status": status,
           "ended_at": "2026-01-01T00:00:00", "timings": {"wall_seconds": 1.0, "train_seconds": 2.0},
           "environment": {"device": {"name": "cpu"}}}
    if status == "ok":
        rec["metrics"] = {"test_accuracy": acc}
        rec["metric_info"] = {"test_accuracy": {"higher_is_better": True, "kind": "quality", "unit": "%"}}
        rec["throughput"] = {"train_images_per_s": {"items_per_s": train_rate},
                             "inference_images_per_s": {"items_per_s": 10 * train_rate}}
    else:
        rec["error"] = {"message": "boom"}
    write_json_atomic(root / f"{rec['key']}.json", rec)


@pytest.fixture
def base(tmp_path):
    root = tmp_path / "base"
    for seed, acc in enumerate([98.0, 98.4, 98.2]):
        record(root, "cnn", seed, acc)
        record(root, "mlp", seed, acc - 1.0, train_rate=5000)
    return root


def test_leaderboard_shows_mean_and_spread_over_seeds_best_first(base):
    (record(base, "mlp", 3, 0, status="failed"))
    rows = leaderboard(load_groups(base))
    assert [r["method"] for r in rows] == ["cnn", "mlp"]
    acc = rows[0]["metrics"]["test_accuracy"]
    assert acc["mean"] == pytest.approx(98.2) and acc["std"] == pytest.approx(0.2) and acc["n"] == 3
    assert rows[1]["runs_failed"] == 1
    text = render(rows, "text")
    assert "98.20 ± 0.20" in text and "3 (+1 failed)" in text and "train img/s" in text
    md = render(rows, "markdown")
    assert md.startswith("### s · toy · classify") and "| cnn" in md
    csv_text = render(rows, "csv").splitlines()
    assert csv_text[0].startswith("suite,dataset,protocol,method") and len(csv_text) == 3
    assert json.loads(render(rows, "json"))[0]["metrics"]["test_accuracy"]["values"] == [98.0, 98.4, 98.2]


def test_a_later_success_supersedes_a_failed_attempt(tmp_path):
    record(tmp_path, "cnn", 0, 0, status="failed", key="k")
    rec = json.loads((tmp_path / "k.json").read_text())
    write_json_atomic(tmp_path / "old" / "k.json", rec)
    record(tmp_path, "cnn", 0, 97.0, key="k2")
    rows = leaderboard(load_groups(tmp_path))
    assert rows[0]["runs_ok"] == 1


def test_compare_passes_on_identical_sets_and_fails_on_lower_accuracy(tmp_path, base, capsys):
    assert cli.main(["compare", str(base), str(base)]) == 0
    worse = tmp_path / "worse"
    for seed, acc in enumerate([97.0, 97.3, 97.1]):  # budget lowered: 3 -> 1 epoch
        record(worse, "cnn", seed, acc, epochs=1)
        record(worse, "mlp", seed, 97.0 + seed * 0.2, train_rate=5000)
    capsys.readouterr()
    assert cli.main(["compare", str(base), str(worse)]) == 1
    out = capsys.readouterr().out
    line = [l for l in out.splitlines() if "cnn" in l and "test_accuracy" in l][0]
    assert "REGRESSION" in line and "-1.07" in line and "epochs 3 -> 1" in line
    assert "1 regression(s)" in out


def test_compare_throughput_uses_a_relative_tolerance(tmp_path, base):
    slow = tmp_path / "slow"
    for seed, acc in enumerate([98.0, 98.4, 98.2]):
        record(slow, "cnn", seed, acc, train_rate=700)  # 30% slower
        record(slow, "mlp", seed, acc - 1.0, train_rate=4500)  # 10% slower
    deltas = compare(base, slow, Tolerances(throughput=0.2))
    verdicts = {(d.name.split(" / ")[-1], d.metric): d.verdict for d in deltas}
    assert verdicts[("cnn", "train_images_per_s")] == "REGRESSION"
    assert verdicts[("mlp", "train_images_per_s")] == "ok"
    assert cli.main(["compare", str(base), str(slow), "--tolerance", "train_images_per_s=40%",
                     "--tolerance", "inference_images_per_s=40%"]) == 0


def test_compare_flags_runs_that_now_fail_or_are_missing(tmp_path, base):
    new = tmp_path / "new"
    for seed in range(3):
        record(new, "cnn", seed, 0, status="failed")
    assert cli.main(["compare", str(base), str(new)]) == 1
    assert cli.main(["compare", str(base), str(new), "--allow-missing"]) == 1  # failure is a regression
    only_cnn = tmp_path / "only"
    for seed, acc in enumerate([98.0, 98.4, 98.2]):
        record(only_cnn, "cnn", seed, acc)
    assert cli.main(["compare", str(base), str(only_cnn)]) == 1
    assert cli.main(["compare", str(base), str(only_cnn), "--allow-missing"]) == 0


def test_table_cli_and_errors(tmp_path, base, capsys):
    assert cli.main(["table", str(base), "--format", "markdown"]) == 0
    assert "98.20 ± 0.20" in capsys.readouterr().out
    assert cli.main(["table", str(tmp_path / "none")]) == 2
    assert "no such results folder" in capsys.readouterr().err
