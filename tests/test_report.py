import json

import pytest

from bench import cli
from bench.records import key_of, write_json_atomic
from bench.report import leaderboard, load_groups, render
from planted import record


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
    assert [r.method for r in rows] == ["cnn", "mlp"]
    acc = rows[0].metrics["test_accuracy"]
    assert acc.mean == pytest.approx(98.2) and acc.std == pytest.approx(0.2) and acc.n == 3
    assert rows[1].runs_failed == 1
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
    assert rows[0].runs_ok == 1


def test_table_cli_and_errors(tmp_path, base, capsys):
    assert cli.main(["table", str(base), "--format", "markdown"]) == 0
    assert "98.20 ± 0.20" in capsys.readouterr().out
    assert cli.main(["table", str(tmp_path / "none")]) == 2
    assert "no such results folder" in capsys.readouterr().err


def test_a_reference_folder_is_read_only_when_named(tmp_path, base):
    reference = base / "reference"
    record(reference, "cnn", 0, 50.0, key="frozen")
    (reference / "REFERENCE.md").write_text("frozen")
    assert [r.metrics["test_accuracy"].values for r in leaderboard(load_groups(base)) if r.method == "cnn"] == [
        (98.0, 98.4, 98.2)
    ]
    assert leaderboard(load_groups(reference))[0].metrics["test_accuracy"].values == (50.0,)


def test_a_row_mark_is_one_entry_and_shows_after_the_label_in_tables_and_the_report(base, tmp_path, monkeypatch):
    from bench import report
    from bench.html import build

    monkeypatch.setattr(report, "ROW_MARKS", {"flagged": lambda group: group.method == "mlp"})
    rows = leaderboard(load_groups(base))
    assert [r.marks for r in rows] == [(), ("flagged",)]
    text = render(rows)
    assert "mlp [flagged]" in text and "cnn [" not in text
    html = build(base, tmp_path / "site").index.read_text()
    assert '>mlp</a> <span class="badge flagged">flagged</span>' in html and "cnn</a> <span" not in html


def test_a_methods_own_rate_is_shown_under_the_label_it_declared(tmp_path):
    """The host knows no plugin's rate by name: a rate a method measured (ctx.measure/timed,
    with label and unit) reaches tables, compare and the report from the record alone."""
    from bench.compare import Tolerances, compare
    from bench.html import build

    root = tmp_path / "own"
    for seed in range(2):
        record(root, "cnn", seed, 98.0 + seed)
        path = root / f"cnn-{seed}-3.json"
        rec = json.loads(path.read_text())
        rec["throughput"]["sparkle_images_per_s"] = {
            "items_per_s": 40.0 + seed,
            "label": "sparkle img/s",
            "unit": "images/s",
        }
        path.write_text(json.dumps(rec))
    rows = leaderboard(load_groups(root))
    assert rows[0].metrics["sparkle_images_per_s"].values == (40.0, 41.0)
    text = render(rows)
    assert "sparkle img/s" in text and "40" in text
    assert any(d.metric == "sparkle_images_per_s" for d in compare(root, root, Tolerances()))
    assert "sparkle img/s" in build(root, tmp_path / "site").index.read_text()


def restore_run(root, method, images, seed=0, shard=True, psnr=None, seconds=None):
    """A restoration record of ``images`` (name -> PSNR); ``shard``: run with ``images:``."""
    options = {"task": "sr", "scale": 4} | ({"images": list(images)} if shard else {})
    per_image = [{"image": name, "psnr": p, "ssim": 0.9} for name, p in images.items()]
    seconds = seconds or [10.0] * len(images)
    spec = {
        "suite": "s",
        "dataset": "set5",
        "method": method,
        "protocol": "restore",
        "protocol_options": options,
        "params": {},
        "budget": {},
        "seed": seed,
    }
    write_json_atomic(
        root / f"{method}-{seed}-{'-'.join(images)}.json",
        {
            "schema_version": 1,
            "key": key_of(spec),
            "spec": spec,
            "status": "ok",
            "ended_at": "",
            "metrics": {
                "psnr": psnr if psnr is not None else sum(images.values()) / len(images),
                "ssim": 0.9,
                "seconds_per_image": sum(seconds) / len(seconds),
                "iterations_per_s": 100 * len(images) / sum(seconds),
            },
            "metric_info": {"psnr": {"kind": "quality", "higher_is_better": True}},
            "throughput": {"restore_images_per_s": {"items_per_s": len(images) / sum(seconds)}},
            "details": {"per_image": per_image},
            "environment": {"device": {"name": "cpu"}},
        },
    )


SET5 = {"baby": 31.8, "bird": 30.2, "butterfly": 22.1, "head": 31.6, "woman": 26.5}


def test_a_set_run_image_by_image_is_one_row_beside_the_whole_set_run(tmp_path):
    """dip-sr-set5's shape: bicubic on the set, DIP one run per image (each its own time)."""
    restore_run(tmp_path, "bicubic", SET5, shard=False)
    dip = {name: p + 2 for name, p in SET5.items()}
    for (name, p), s in zip(dip.items(), (100.0, 30.0, 25.0, 30.0, 35.0)):
        restore_run(tmp_path, "dip", {name: p}, seconds=[s])
    rows = {r.method: r for r in leaderboard(load_groups(tmp_path))}
    assert rows["dip"].setting == rows["bicubic"].setting == "sr x4"
    assert rows["dip"].seeds == (0,) and rows["dip"].runs_ok == 5
    figures = rows["dip"].metrics
    assert figures["psnr"].values == (pytest.approx(sum(dip.values()) / 5),)  # one value: the seed's
    assert figures["seconds_per_image"].mean == pytest.approx(44.0)
    assert figures["restore_images_per_s"].mean == pytest.approx(5 / 220)  # images over their time
    assert figures["iterations_per_s"].mean == pytest.approx(500 / 220)
    table = render(leaderboard(load_groups(tmp_path)), "markdown")
    assert table.count("### ") == 1 and "### s · set5 · restore · sr x4 " in table
    dip_cells = next(line for line in table.splitlines() if "| dip " in line).split("|")
    assert dip_cells[4].strip() == "1"  # seeds, not shards (after rank, method, budget)


def test_shards_short_of_the_set_are_named_and_kept_apart_and_seeds_weigh_by_images(tmp_path):
    restore_run(tmp_path, "bicubic", SET5, shard=False)
    for seed, offset in ((0, 0.0), (1, 1.0)):
        restore_run(tmp_path, "dip", {"bird": 32.0 + offset}, seed=seed)
        restore_run(tmp_path, "dip", {"baby": 30.0 + offset, "head": 27.0 + offset}, seed=seed)
    rows = {r.method: r for r in leaderboard(load_groups(tmp_path))}
    assert rows["dip"].setting == "sr x4, images baby bird head"  # 3 of 5: not the bicubic table's
    assert rows["dip"].metrics["psnr"].values == (
        pytest.approx(89 / 3),
        pytest.approx(92 / 3),
    )  # (32 + 30 + 27) / 3: by image, not by run
    assert rows["dip"].metrics["psnr"].std == pytest.approx(0.5**0.5)
    assert "restore · sr x4, images baby bird head" in render(leaderboard(load_groups(tmp_path)))
