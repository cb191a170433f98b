import csv
import io
import json

import pytest
from scipy import stats as scipy_stats

from bench import cli, stats
from bench.records import key_of, write_json_atomic
from bench.report import leaderboard, load_groups, one_seed, render, row_keys
from planted import BEST, classify_record, record, restore_record
from runs import run_label_budgets


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


def planted(root, gap: float, spread: float, seeds_b=(0, 1, 2, 3, 4)):
    """Method a at 90 +- spread, b ``gap`` below, over five seeds (b's seeds may differ)."""
    offsets = [0.0, spread, -spread, spread / 2, -spread / 2]
    for seed, off in zip(range(5), offsets):
        classify_record(root, "a", seed, 90.0 + off)
    for seed, off in zip(seeds_b, reversed(offsets)):
        classify_record(root, "b", seed, 90.0 - gap + off)
    return leaderboard(load_groups(root))


def test_two_methods_a_hundredth_apart_with_a_spread_of_three_tenths_share_rank_one(tmp_path):
    rows = planted(tmp_path, gap=0.01, spread=0.3)
    assert [(r.method, r.rank) for r in rows] == [("a", "1"), ("b", "1=")]
    assert rows[1].rank_test.test == "paired t-test by seed" and rows[1].rank_test.p_holm > 0.05
    text = render(rows, "text")
    assert "paired t-test by seed; two-sided, Holm-corrected over the table's 1 comparisons, alpha = 0.05" in text


def test_a_two_point_gap_does_not_share_rank_one(tmp_path):
    rows = planted(tmp_path, gap=2.0, spread=0.3)
    assert [(r.method, r.rank) for r in rows] == [("a", "1"), ("b", "2")]


def test_seeds_that_do_not_pair_are_compared_by_welch(tmp_path):
    rows = planted(tmp_path, gap=0.01, spread=0.3, seeds_b=(5, 6, 7, 8, 9))
    assert rows[1].rank == "1=" and rows[1].rank_test.test == "Welch's t-test"


def test_ranks_are_holm_corrected_over_the_table(tmp_path):
    # c and d are each 0.6 below a: alone, the paired test would break the tie for one of them.
    for seed, (a, c, d) in enumerate([(90.0, 89.3, 89.2), (90.5, 90.0, 90.1), (89.5, 88.9, 88.8)]):
        classify_record(tmp_path, "a", seed, a)
        classify_record(tmp_path, "c", seed, c)
        classify_record(tmp_path, "d", seed, d)
    rows = leaderboard(load_groups(tmp_path))
    raw = {r.method: r.rank_test.p for r in rows[1:]}
    holm = {r.method: r.rank_test.p_holm for r in rows[1:]}
    smaller, larger = sorted(raw, key=raw.get)
    assert holm[smaller] == pytest.approx(min(1.0, 2 * raw[smaller]))
    assert holm[larger] == pytest.approx(max(holm[smaller], raw[larger]))


def test_every_mean_carries_its_t_interval_in_every_format(tmp_path):
    rows = planted(tmp_path, gap=2.0, spread=0.3)
    values = rows[0].metrics["test_accuracy"].values
    expected = scipy_stats.t.interval(0.95, 4, loc=sum(values) / 5, scale=scipy_stats.sem(values))
    data = json.loads(render(rows, "json"))
    assert data[0]["metrics"]["test_accuracy"]["ci"] == pytest.approx(list(expected))
    assert data[0]["metrics"]["test_accuracy"]["ci_level"] == 0.95 and data[0]["rank"] == "1"
    text = render(rows, "text")
    assert f"90.00 ± 0.24 [{expected[0]:.2f}, {expected[1]:.2f}]" in text
    assert "[95% t-interval of the mean]" in text
    table = list(csv.DictReader(io.StringIO(render(rows, "csv"))))
    assert float(table[0]["test_accuracy_ci_low"]) == pytest.approx(expected[0]) and table[1]["rank"] == "2"


def test_one_seed_says_n_1_instead_of_an_interval(tmp_path):
    classify_record(tmp_path, "a", 0, 90.0)
    classify_record(tmp_path, "b", 0, 80.0)
    rows = leaderboard(load_groups(tmp_path))
    assert rows[0].metrics["test_accuracy"].ci is None
    text = render(rows, "markdown")
    assert "one seed per row (n=1): no spread, no interval" in text and "± 0" not in text
    assert [r.rank for r in rows] == ["1", "2"] and "1 row(s) not tested (one seed)" in text
    classify_record(tmp_path, "b", 1, 81.0)  # a table that mixes: the one-seed cell says so itself
    text = render(leaderboard(load_groups(tmp_path)), "markdown")
    assert "90.00 (n=1)" in text and "80.50 ± 0.71 [" in text


def test_one_seed_restoration_rows_are_ranked_by_image(tmp_path):
    """Twelve images (Set12): few enough that six could not break a tie after Holm (2 / 2^6 x 2)."""
    best = BEST + [p + 1 for p in BEST]
    restore_record(tmp_path, "bm3d", best)
    restore_record(tmp_path, "close", [p - 0.01 + (0.3 if i % 2 else -0.3) for i, p in enumerate(best)])
    restore_record(tmp_path, "noisy", [p - 2.0 for p in best])
    rows = leaderboard(load_groups(tmp_path))
    assert [(r.method, r.rank) for r in rows] == [("bm3d", "1"), ("close", "1="), ("noisy", "3")]
    assert rows[1].rank_test.test == "Wilcoxon signed-rank test by image"
    assert "Wilcoxon signed-rank test by image; two-sided, Holm-corrected" in render(rows, "text")


def test_a_set_too_small_for_the_signed_rank_test_says_its_ties_are_certain(tmp_path):
    restore_record(tmp_path, "bm3d", BEST)
    restore_record(tmp_path, "noisy", [p - 2.0 for p in BEST])  # worse on all six images
    rows = leaderboard(load_groups(tmp_path))
    assert rows[1].rank == "2" and rows[1].rank_test.n == 6  # smallest p: 2 / 2^6 = 0.031
    assert "cannot reach alpha" not in render(rows, "text")
    restore_record(tmp_path, "other", [p - 3.0 for p in BEST])  # two comparisons: 0.031 x 2 > 0.05
    rows = leaderboard(load_groups(tmp_path))
    assert [r.rank for r in rows] == ["1", "1=", "1="]
    assert "with 6 images the signed-rank test cannot reach alpha after the correction" in render(rows, "text")


@pytest.fixture(scope="module")
def label_results(tmp_path_factory):
    return run_label_budgets(tmp_path_factory.mktemp("labels") / "results")


def test_one_row_per_budget_its_folds_merged_fewest_labels_first(label_results):
    groups = load_groups(label_results)
    rows = leaderboard(groups)
    assert [(r.labels, r.metrics["test_accuracy"].n) for r in rows] == [
        ("2/class", 2),
        ("10/class", 2),
        ("all", 1),
    ]
    text = render(rows)
    header = next(line for line in text.splitlines() if "method" in line and "budget" in line).split()
    assert header[header.index("method") : header.index("method") + 3] == ["method", "labels", "budget"]
    lines = [line.split() for line in text.splitlines() if "toy-linear" in line]
    assert [line[line.index("toy-linear") + 1] for line in lines] == ["2/class", "10/class", "all"]
    assert len(set(row_keys(groups))) == 3  # bench compare tells the budgets apart
    assert "labels" in render(rows, "csv").splitlines()[0].split(",")
    # One seed, two folds: the cells have a spread, so the title must not say there is none; it
    # says what the spread is over, and each row how many seeds and folds its cells hold.
    assert not one_seed(rows) and "no spread" not in text and "over seeds and folds" in text
    assert [(r.folds, r.replicates) for r in rows] == [((0, 1), "1 × 2"), ((0, 1), "1 × 2"), ((), "1")]
    assert "seeds × folds" in next(line for line in text.splitlines() if "method" in line)


def test_under_a_label_budget_rows_are_ranked_by_seed_and_fold(tmp_path):
    """Two methods at one budget, one run seed, three folds: the test pairs the three (seed, fold)
    values, and the table and its footnote say so."""
    for fold, (a, b) in enumerate([(60.0, 50.0), (62.0, 51.0), (61.0, 53.0)]):
        for method, acc in (("pre", a), ("random", b)):
            options = {"labels": 4, "split_seed": fold}
            classify_record(tmp_path, f"{method}-f{fold}", 0, acc, method=method, options=options)
    rows = leaderboard(load_groups(tmp_path))
    assert [(r.method, r.replicates) for r in rows] == [("pre", "1 × 3"), ("random", "1 × 3")]
    assert rows[1].rank_test.test == stats.PAIRED_T_FOLDS and rows[1].rank_test.n == 3
    assert rows[1].rank_test.p == pytest.approx(scipy_stats.ttest_rel([60, 62, 61], [50, 51, 53]).pvalue)
    assert "(paired t-test by seed and fold;" in render(rows)
