"""The restoration track end to end: the restore protocol with tables and figures, and the DIP
and ZSSR mechanics at tiny budgets. The host's operators have their own files
(tests/restoration/: resize, degrade, metrics, images); the sets' sources are in
tests/test_restoration_copies.py."""

import numpy as np
import pytest
import torch

import restoration_toy
from bench import cli, registry
from bench.data.store import DataStore
from bench.progress import Progress
from bench.records import ResultStore
from bench.report import leaderboard, load_groups, render
from bench.restoration.degrade import Degradation
from bench.restoration.resize import imresize
from bench.runner import run_specs
from bench.suite import SuiteError, load_suite

# -- the protocol, end to end ---------------------------------------------------------------------


@pytest.fixture
def reg():
    return registry.load(extra_plugins=[("restoration_toy", restoration_toy)])


def run_suite(tmp_path, reg, text):
    path = tmp_path / "suite.yaml"
    path.write_text(text)
    suite = load_suite(path, reg)
    store = ResultStore(tmp_path / "results")
    outcome = run_specs(suite.runs, reg, store, DataStore(tmp_path / "data"), Progress(quiet=True))
    return suite, store, outcome


TINY_DIP = "{channels: 8, scales: 2, input_depth: 4, inpaint_skip_channels: 4}"
TINY_ZSSR = "{width: 8, depth: 3, crop_size: 16, back_projection_iters: 2, run_test_every: 2}"


@pytest.mark.slow  # DIP, ZSSR and bicubic on three tasks, figures: ~13 s of CPU
def test_restore_protocol_end_to_end_with_tables_and_figures(tmp_path, reg, capsys):
    suite, store, outcome = run_suite(
        tmp_path,
        reg,
        f"""
name: tiny
seeds: [0]
runs:
  - datasets: tiny-restore
    methods: [bicubic, {{name: zssr, params: {TINY_ZSSR}, budget: {{iterations: 4}}}},
              {{name: dip, params: {TINY_DIP}, budget: {{sr_iterations: 3}}}}]
    protocol: {{name: restore, task: sr, scale: 2, monitor_every: 2}}
  - datasets: tiny-restore
    methods: [degraded-input, {{name: dip, params: {TINY_DIP}, budget: {{denoise_iterations: 3}}}}]
    protocol: {{name: restore, task: denoise, sigma: 25.0, monitor_every: 1}}
  - datasets: tiny-restore
    methods: [degraded-input, {{name: dip, params: {TINY_DIP}, budget: {{inpaint_kate_iterations: 2}}}}]
    protocol: {{name: restore, task: inpaint, mask: dataset, images: [rgb]}}
""",
    )
    assert outcome.exit_code == 0, [store.read(s).error for s in suite.runs]
    records = {(s.method, s.protocol_options["task"]): store.read(s) for s in suite.runs}
    bic = records["bicubic", "sr"]
    assert [e["image"] for e in bic.details["per_image"]] == ["gray", "rgb"]
    assert bic.details["per_image"][0]["shape"] == [1, 26, 22]  # modcropped, gray kept gray
    assert bic.metrics["psnr"] == pytest.approx(np.mean([e["psnr"] for e in bic.details["per_image"]]))
    assert "Y channel" in bic.metric_info["psnr"]["convention"]
    zssr = records["zssr", "sr"]
    assert zssr.throughput["iterations_per_s"]["iterations"] == 8 and zssr.metrics["iterations_per_s"] > 0
    assert zssr.throughput["iterations_per_s"]["loop_only"]  # ZSSR's ensemble is not in its it/s
    for e in zssr.details["per_image"]:
        assert 0 < e["loop_seconds"] < e["seconds"]
    dip = records["dip", "denoise"]
    assert dip.details["budget_vs_full"]["denoise_iterations"] == {"used": 3, "full": 3000}
    curve = dip.details["curves"]["gray"]
    assert [p["iteration"] for p in curve if "psnr" in p] == [0, 1, 2] and any("psnr_avg" in p for p in curve)
    noisy = records["degraded-input", "denoise"]
    for e in noisy.details["per_image"]:
        assert e["psnr"] == pytest.approx(e["input_psnr"])
    inpaint = records["degraded-input", "inpaint"].details["per_image"]
    assert [e["image"] for e in inpaint] == ["rgb"]
    art = store.path_for(suite.runs[0]).with_suffix("") / "gray"
    assert {p.name for p in art.iterdir()} >= {"clean.png", "degraded.png", "restored.png", "scores.json"}
    dip_art = store.path_for(
        [s for s in suite.runs if s.method == "dip" and s.protocol_options["task"] == "denoise"][0]
    )
    assert (dip_art.with_suffix("") / "gray" / "degraded.npy").exists()
    assert (dip_art.with_suffix("") / "gray" / "psnr_curve.png").exists()
    np.testing.assert_array_equal(
        np.load(dip_art.with_suffix("") / "gray" / "degraded.npy"),
        Degradation("denoise", sigma=25.0).apply(restoration_toy.load_tiny("test", None).images[0]).observed.numpy(),
    )

    text = render(leaderboard(load_groups(tmp_path / "results")), "text")
    assert "tiny · tiny-restore · restore · sr x2" in text and "restore · denoise sigma 25" in text
    assert "restore · inpaint masks, images rgb" in text
    sr_table = text.split("restore · sr x2")[1].split("\n\n")[1]
    assert all(m in sr_table for m in ("bicubic", "zssr", "dip")) and "PSNR dB" in sr_table and "s/image" in sr_table

    assert cli.main(["figures", str(tmp_path / "results"), "--out", str(tmp_path / "fig")]) == 0
    picture = tmp_path / "fig" / "tiny" / "tiny-restore" / "sr_x2" / "gray.png"
    from PIL import Image

    assert Image.open(picture).size[0] == 5 * 22 + 4 * 4  # clean, LR, bicubic, zssr, dip


def test_suites_refuse_a_restorer_for_a_task_it_does_not_do(tmp_path, reg):
    path = tmp_path / "s.yaml"
    path.write_text(
        "runs: [{datasets: tiny-restore, methods: [bicubic, bm3d], protocol: {name: restore, task: inpaint}}]\n"
    )
    with pytest.raises(SuiteError) as err:
        load_suite(path, reg)
    text = str(err.value)
    assert "method 'bicubic' restores sr, not 'inpaint'" in text and "method 'bm3d' restores denoise" in text


def test_restored_images_must_have_the_clean_shape(tmp_path, reg):
    from bench import Restorer, hookimpl

    class Bad:
        @hookimpl
        def bench_register_methods(self, register):
            register(Restorer(name="bad-sr", restore=lambda problem, ctx: problem.observed, restorations=("sr",)))

    reg2 = registry.load(extra_plugins=[("restoration_toy", restoration_toy), ("bad", Bad())])
    suite, store, outcome = run_suite(
        tmp_path,
        reg2,
        "runs: [{datasets: tiny-restore, methods: bad-sr, protocol: {name: restore, task: sr, scale: 2}}]\n",
    )
    assert outcome.exit_code == 1
    assert "expected a tensor of shape (1, 26, 22)" in store.read(suite.runs[0]).error.message


# -- the methods' mechanics -----------------------------------------------------------------------


def test_dip_skip_net_shapes_and_canvas_crop():
    from bench_plugins.methods.dip import Skip

    net = Skip(4, 3, channels=8, skip=2, scales=3)
    out = net(torch.rand(1, 4, 16, 24))
    assert out.shape == (1, 3, 16, 24) and 0 < out.min() and out.max() < 1
    n_skip = sum(1 for m in net.modules() if isinstance(m, torch.nn.Conv2d) and m.kernel_size == (1, 1))
    assert n_skip == 3 * 2 + 1  # per scale: skip 1x1 and up 1x1; plus the 1x1 head


def test_zssr_augmentation_without_interpolation_is_an_exact_rotated_crop():
    """ZSSR's no-interpolation mode: a 90-degree rotation / mirror and an integer crop, exact
    values (rotating about the rounded centre may bring in a zero row or column, as in ZSSR)."""
    from bench_plugins.methods.zssr import augment_matrix, warp

    params = {
        "augment_leave_as_is_probability": 0.0,
        "augment_no_interpolate_probability": 1.0,
        "augment_min_scale": 0.5,
        "augment_scale_diff_sigma": 0.25,
        "augment_shear_sigma": 0.1,
        "crop_size": 8,
    }
    image = 0.1 + 0.9 * torch.rand(1, 24, 24, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    rng = np.random.default_rng(0)
    candidates = [torch.rot90(image[0], k, (0, 1)) for k in range(4)]
    candidates = [
        torch.nn.functional.pad(c, (2, 2, 2, 2)) for c in candidates + [torch.flip(c, (1,)) for c in candidates]
    ]
    for _ in range(12):
        crop = warp(image, augment_matrix(rng, 24, 24, params), 8)[0]
        assert (crop > 0).float().mean() > 0.7
        found = any(
            torch.allclose(crop, c[i : i + 8, j : j + 8], atol=1e-9)
            for c in candidates
            for i in range(c.shape[0] - 7)
            for j in range(c.shape[1] - 7)
        )
        assert found


def test_zssr_back_projection_makes_the_downscaled_output_match_the_lr_image():
    from bench_plugins.methods.zssr import back_projection

    lr = restoration_toy.smooth_image(1, 12, 12, 3).double() / 255
    sr = torch.full((1, 24, 24), 0.5, dtype=torch.float64)
    before = (imresize(sr, 0.5, (12, 12)) - lr).abs().mean()
    for _ in range(10):
        sr = back_projection(sr, lr, 2.0)
    assert (imresize(sr, 0.5, (12, 12)) - lr).abs().mean() < 0.1 * before


def test_an_image_name_becomes_the_folder_figures_look_in_never_one_above():
    from bench.paths import safe_name

    assert safe_name("kodim01") == "kodim01" and safe_name("a b!") == "a_b"
    for name in ("..", ".", "a b!", "kodim01", "", "/../x"):
        assert safe_name(name) not in ("..", ".", "") and "/" not in safe_name(name)
