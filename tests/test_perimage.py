"""bench.perimage: restoration methods compared image by image (`bench table --per-image`): wins / ties /
losses and the signed-rank test, only on the same degraded inputs."""

import json

from scipy import stats as scipy_stats

from bench import cli, perimage
from bench.report import leaderboard, load_groups
from planted import BEST, classify_record, restore_record

IMAGES = ["01", "02", "03", "04", "05", "06"]


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
