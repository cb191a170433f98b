"""The official per-step probes (plugins/methods/official_probes.py): DDAE's and MAE's probe
settings run through the host's linear probe and say which ran."""

import pytest

from bench_plugins.methods.official_probes import OFFICIAL_PROBES
from repr_runs import load_registry, run_suite


@pytest.fixture
def reg():
    return load_registry()


def test_the_per_step_probe_runs_and_says_which_it_is(tmp_path, reg):
    _, _, _, (record, swept) = run_suite(
        tmp_path,
        reg,
        """
runs:
  - datasets: blobs
    methods: raw-pixels
    protocol: {name: linear-probe, probe: ddae-official, holdout: 0.0, overrides: {epochs: 40, batch_size: 100, flip: false, crop_padding: 0}}
  - datasets: blobs
    methods: raw-pixels
    protocol: {name: linear-probe, probe: ddae-official, overrides: {epochs: 40, batch_size: 60, flip: false, crop_padding: 0}, feature_sweep: {pixels: [2, 36]}}
""",
    )
    probe = record.details["probe"]
    assert probe["setting"] == "ddae-official" and probe["lr"] == 4e-3 and probe["epochs"] == 40
    # (crop + flip would destroy these 6x6 templates: overridden.)
    assert probe["overrides"] == {"epochs": 40, "batch_size": 100, "flip": False, "crop_padding": 0}
    assert record.details["split"]["train"] == 300 and record.metrics["test_accuracy"] > 50  # 5 classes: 20% by chance
    features = swept.details["features"]
    assert features["chosen"] == {"pixels": 36} and [q["pixels"] for q in features["points"]] == [2, 36]
    assert (
        swept.details["probe"]["heads"] == 2 and swept.metrics["val_accuracy"] == features["points"][1]["val_accuracy"]
    )
    assert "probe ddae-official" in record.metric_info["test_accuracy"]["convention"]


def test_the_mae_official_probe_runs_with_lars_and_batchnorm_and_says_so(tmp_path, reg):
    (record,) = run_suite(
        tmp_path,
        reg,
        """
runs:
  - datasets: blobs
    methods: raw-pixels
    protocol: {name: linear-probe, probe: mae-official, overrides: {epochs: 60, batch_size: 100, flip: false, resized_crop: []}}
""",
    )[3]
    probe = record.details["probe"]
    assert probe["setting"] == "mae-official" and probe["optimizer"].startswith("LARS")
    assert "BatchNorm1d without affine" in probe["features"] and probe["head_init_std"] == 0.01
    assert probe["lr_schedule"] == "10.0 warm-up epochs + cosine, per step" and probe["missing"]
    assert record.metrics["test_accuracy"] > 50  # 5 classes: 20% by chance
    assert "probe mae-official" in record.metric_info["test_accuracy"]["convention"]


def test_the_official_probe_settings_are_the_repositories_commands():
    mae = OFFICIAL_PROBES["mae-official"].options  # main_linprobe.py + FINETUNE.md's command (4 nodes x 8 GPUs x 512)
    assert mae["batch_size"] == 16384 and mae["lrs"] == [6.4] and mae["epochs"] == 90 and mae["warmup_epochs"] == 10
    assert mae["optimizer"] == "lars" and mae["head_norm"] == "batchnorm" and mae["resized_crop"] == [0.08, 1.0]
    ddae = OFFICIAL_PROBES["ddae-official"]  # linear.py: 4 GPUs x 128 at 1e-3 each
    assert ddae.options["batch_size"] == 512 and ddae.options["lrs"] == [4e-3] and ddae.missing == ()
