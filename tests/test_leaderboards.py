"""Leaderboards that separate real differences from noise: intervals, tied ranks, per-image paired
comparisons, what a row cost; on planted records (bench.stats has its own tests)."""

import csv
import io
import json

import pytest
from scipy import stats as scipy_stats

from bench import cli, costs, perimage
from bench.records import Record, key_of, write_json_atomic
from bench.report import leaderboard, load_groups, render


def classify_record(root, method, seed, acc, suite="s", curves=None, memory=None):
    spec = {
        "suite": suite,
        "dataset": "toy",
        "method": method,
        "protocol": "classify",
        "protocol_options": {},
        "params": {},
        "budget": {"epochs": 3},
        "seed": seed,
    }
    record = {
        "schema_version": 1,
        "key": key_of(spec),  # a record's key is its spec's hash, or it is not trusted
        "spec": spec,
        "status": "ok",
        "ended_at": "2026-01-01T00:00:00",
        "metrics": {"test_accuracy": acc},
        "metric_info": {"test_accuracy": {"higher_is_better": True, "kind": "quality", "unit": "%"}},
        "timings": {"wall_seconds": 10.0 + seed, "train_seconds": 8.0},
        "environment": {"device": {"name": "cpu"}},
        "details": {"curves": curves or []},
    }
    if memory is not None:
        record["memory"] = memory
    write_json_atomic(root / f"{method}-{seed}.json", record)


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


# -- restoration, image by image -----------------------------------------------------------------------

IMAGES = ["01", "02", "03", "04", "05", "06"]


def restore_record(root, method, psnrs, seed=0, checksums=None, suite="r"):
    spec = {
        "suite": suite,
        "dataset": "set12",
        "method": method,
        "protocol": "restore",
        "protocol_options": {"task": "denoise", "sigma": 25.0},
        "params": {},
        "budget": {},
        "seed": seed,
    }
    per_image = [
        {"image": name, "psnr": p, "ssim": p / 40, "input_sha256": (checksums or {}).get(name, f"sha-{name}")}
        for name, p in zip([f"{i:02d}" for i in range(1, len(psnrs) + 1)], psnrs)
    ]
    write_json_atomic(
        root / f"{method}-{seed}.json",
        {
            "schema_version": 1,
            "key": key_of(spec),
            "spec": spec,
            "status": "ok",
            "ended_at": "2026-01-01T00:00:00",
            "metrics": {"psnr": sum(psnrs) / len(psnrs), "ssim": sum(psnrs) / len(psnrs) / 40},
            "timings": {"wall_seconds": 5.0},
            "environment": {"device": {"name": "cpu"}},
            "details": {"setting": "denoise sigma 25", "per_image": per_image},
        },
    )


BEST = [30.0, 28.0, 25.0, 31.0, 27.0, 29.0]


def test_the_per_image_table_pairs_methods_by_image(tmp_path, capsys):
    worse = [p - 1.0 for p in BEST]
    restore_record(tmp_path, "bm3d", BEST)
    restore_record(tmp_path, "noisy", worse)
    restore_record(tmp_path, "mixed", [30.5, 27.0, 25.002, 30.2, 26.9, 28.8])  # 1 win, 1 tie, 4 losses
    assert cli.main(["table", str(tmp_path), "--per-image"]) == 0
    out = capsys.readouterr().out
    assert "same degraded inputs (checksums match)" in out and "Wilcoxon signed-rank" in out
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith(("noisy", "mixed"))}
    expected = scipy_stats.wilcoxon([30.5, 27.0, 25.002, 30.2, 26.9, 28.8], BEST).pvalue
    assert "1/1/4" in lines["mixed"] and f"{expected:.3g}" in lines["mixed"]
    assert "0/0/6" in lines["noisy"] and "-1.00" in lines["noisy"]
    assert cli.main(["table", str(tmp_path), "--per-image", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)[0]
    assert data["reference"] == "bm3d" and data["images"] == IMAGES
    assert data["values"]["noisy"]["psnr"]["02"] == 27.0 and data["checksums"]["01"] == "sha-01"
    assert [c["paired"]["wins"] for c in data["comparisons"]] == [1, 0]


def test_methods_that_restored_different_inputs_are_not_compared(tmp_path, capsys):
    restore_record(tmp_path, "bm3d", BEST)
    restore_record(tmp_path, "noisy", [p - 1 for p in BEST], checksums={"03": "another-noise"})
    assert cli.main(["table", str(tmp_path), "--per-image"]) == 0
    assert "not compared: image 03: the methods restored different degraded inputs" in capsys.readouterr().out
    rows = leaderboard(load_groups(tmp_path))
    assert rows[1].rank_test.p is None  # nor ranked by image


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


def test_per_image_without_restoration_records_is_an_error(tmp_path, capsys):
    classify_record(tmp_path, "a", 0, 90.0)
    assert cli.main(["table", str(tmp_path), "--per-image"]) == 2
    assert "no restoration records with per-image scores" in capsys.readouterr().err


def test_old_records_without_checksums_are_compared_but_said_unverified(tmp_path):
    restore_record(tmp_path, "bm3d", BEST, checksums={name: None for name in IMAGES})
    restore_record(tmp_path, "noisy", [p - 1 for p in BEST], checksums={name: None for name in IMAGES})
    groups = load_groups(tmp_path)
    (found,) = perimage.from_groups(groups, leaderboard(groups))
    assert found.same_inputs and found.inputs.startswith("6 of 6 images not verified")


# -- what a row cost ----------------------------------------------------------------------------------

CURVE = [
    {"epoch": 1, "val_accuracy": 0.80},
    {"epoch": 1, "loss": 1.0, "seconds": 2.0},
    {"epoch": 2, "val_accuracy": 0.95},
    {"epoch": 2, "loss": 0.5, "seconds": 3.0},
    {"epoch": 3, "val_accuracy": 0.97},
    {"epoch": 3, "loss": 0.4, "seconds": 4.0},
]


def test_time_to_quality_reads_the_learning_curve(tmp_path):
    classify_record(tmp_path, "a", 0, 97.0, curves=CURVE)
    (group,) = load_groups(tmp_path)
    record = group.ok[0]
    # 90% of 0.97 = 0.873: reached at epoch 2 (2 + 3 s); 99% = 0.9603: at epoch 3 (9 s)
    assert costs.time_to_quality(record, 0.9) == pytest.approx(5.0)
    assert costs.time_to_quality(record, 0.99) == pytest.approx(9.0)
    row = leaderboard([group])[0]
    assert row.metrics["time_to_90_s"].mean == 5.0 and row.metrics["run_seconds"].mean == 10.0


def test_time_to_quality_of_a_restorer_reads_its_psnr_curves():
    record = Record(
        key="k",
        spec={},
        status="ok",
        details={
            "curves": {
                "01": [
                    {"iteration": 10, "psnr": 20.0},
                    {"iteration": 20, "psnr": 27.5},
                    {"iteration": 30, "psnr": 28.0},
                ],
                "02": [{"iteration": 10, "psnr": 29.0}, {"iteration": 20, "psnr": 30.0}],
            },
            "per_image": [
                {"image": "01", "iterations": 30, "loop_seconds": 6.0},
                {"image": "02", "iterations": 20, "seconds": 2.0},
            ],
        },
    )
    # 01: 90% of 28 = 25.2 at iteration 20, 0.2 s/it -> 4 s; 02: 90% of 30 = 27 at 10, 0.1 s/it -> 1 s
    assert costs.time_to_quality(record, 0.9) == pytest.approx(5.0)
    assert costs.time_to_quality(Record("k", {}, "ok", details={"curves": [], "per_image": []}), 0.9) is None


def test_peak_memory_is_a_column_named_by_how_it_was_measured(tmp_path):
    cpu = {"bytes": 300 * 2**20, "kind": "cpu_peak_rss_increase", "how": "VmHWM"}
    for seed in range(3):
        classify_record(tmp_path, "a", seed, 90.0 + seed, memory={**cpu, "bytes": (300 + seed) * 2**20})
    row = leaderboard(load_groups(tmp_path))[0]
    assert row.metrics["peak_rss_mib"].values == (300.0, 301.0, 302.0)
    assert "peak_gpu_mib" not in row.metrics
    assert "peak RSS+ MiB" in render([row], "text") and "301 ± 1" in render([row], "text")


def test_costs_count_a_label_budgets_folds_apart_not_as_shards(tmp_path):
    for fold in (0, 1):
        spec = {
            "suite": "s",
            "dataset": "toy",
            "method": "a",
            "protocol": "classify",
            "protocol_options": {"labels": 4, "split_seed": fold},
            "params": {},
            "budget": {"epochs": 3},
            "seed": 0,
        }
        write_json_atomic(
            tmp_path / f"a-{fold}.json",
            {
                "schema_version": 1,
                "key": key_of(spec),
                "spec": spec,
                "status": "ok",
                "ended_at": "2026-01-01T00:00:00",
                "metrics": {"test_accuracy": 90.0 + fold},
                "timings": {"wall_seconds": 10.0 + fold},
                "details": {"curves": CURVE},
            },
        )
    row = leaderboard(load_groups(tmp_path))[0]
    assert row.metrics["run_seconds"].values == (10.0, 11.0)  # two folds, not one seed of 21 s
    assert row.metrics["time_to_90_s"].values == (5.0, 5.0)
