"""The restoration track: MATLAB imresize, degradations, metrics, the protocol, tables, figures,
and the methods' mechanics at tiny budgets. Real-data checks run when ../shared/data is there."""

import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch

import restoration_toy
from bench import cli, registry
from bench.data.store import DataStore
from bench.progress import Progress
from bench.records import ResultStore
from bench.report import leaderboard, load_groups, render
from bench.restoration.degrade import Degradation, image_seed, modcrop
from bench.restoration.images import RestorationImage, read_image, write_image
from bench.restoration.metrics import Convention, psnr, rgb_to_y, ssim, ssim_map, to_uint8
from bench.restoration.resize import imresize, imresize_uint8, resize_matrix
from bench.runner import run_specs
from bench.suite import SuiteError, load_suite

#: The real image sets beside the checkout (../shared/data), or $BENCH_SHARED_DATA (as conftest.py).
SHARED_DATA = Path(os.environ.get("BENCH_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
RESTORATION = SHARED_DATA / "restoration"


# -- MATLAB imresize ------------------------------------------------------------------------------


def matlab_contributions(in_len, out_len, scale):
    """MATLAB imresize.m's ``contributions`` written out with loops (1-based, as in MATLAB)."""
    kernel_width = 4.0
    if scale < 1:
        h = lambda x: scale * _cubic(scale * x)  # noqa: E731
        kernel_width /= scale
    else:
        h = _cubic
    aux = list(range(1, in_len + 1)) + list(range(in_len, 0, -1))
    weights = np.zeros((out_len, in_len))
    for x in range(1, out_len + 1):
        u = x / scale + 0.5 * (1 - 1 / scale)
        left = math.floor(u - kernel_width / 2)
        taps = [left + j for j in range(math.ceil(kernel_width) + 2)]
        w = np.array([h(u - t) for t in taps])
        w /= w.sum()
        for t, wt in zip(taps, w):
            weights[x - 1, aux[(t - 1) % len(aux)] - 1] += wt
    return weights


def _cubic(x):
    a = abs(x)
    if a <= 1:
        return 1.5 * a**3 - 2.5 * a**2 + 1
    if a <= 2:
        return -0.5 * a**3 + 2.5 * a**2 - 4 * a + 2
    return 0.0


@pytest.mark.parametrize("in_len,scale", [(12, 1 / 2), (13, 1 / 3), (17, 1 / 4), (7, 2.0), (5, 3.0), (9, 4.0)])
def test_resize_matrix_is_matlabs_contributions(in_len, scale):
    out_len = math.ceil(in_len * scale)
    ours = resize_matrix(in_len, out_len, scale, dtype=torch.float64).numpy()
    np.testing.assert_allclose(ours, matlab_contributions(in_len, out_len, scale), atol=1e-12)
    np.testing.assert_allclose(ours.sum(1), 1.0, atol=1e-12)


def test_imresize_is_separable_differentiable_and_rounds_like_matlab_uint8():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 9, 11, dtype=torch.float64, generator=g)
    y = imresize(x, 1 / 3)
    assert y.shape == (2, 3, 4)
    rows, cols = resize_matrix(9, 3, 1 / 3, dtype=torch.float64), resize_matrix(11, 4, 1 / 3, dtype=torch.float64)
    torch.testing.assert_close(y[1], rows @ x[1] @ cols.T)
    x.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: imresize(t, 0.5), (x[:, :6, :8],))
    constant = torch.full((1, 8, 8), 200, dtype=torch.uint8)
    assert torch.equal(imresize_uint8(constant, 0.5), torch.full((1, 4, 4), 200, dtype=torch.uint8))
    ramp = (torch.arange(16, dtype=torch.uint8) * 15).repeat(1, 16, 1)
    assert imresize_uint8(ramp, 0.25).dtype == torch.uint8


# -- degradations ---------------------------------------------------------------------------------


def tiny_item(channels=3, h=26, w=23, seed=0, mask=None):
    return RestorationImage("img", restoration_toy.smooth_image(channels, h, w, seed), mask)


def test_noise_is_fixed_per_image_and_protocol_seed_and_has_the_asked_sigma():
    item = RestorationImage("a", torch.full((1, 200, 200), 128, dtype=torch.uint8))
    d = Degradation("denoise", sigma=25.0)
    first, again = d.apply(item).observed, d.apply(item).observed
    assert torch.equal(first, again)
    other = Degradation("denoise", sigma=25.0).apply(RestorationImage("b", item.image)).observed
    assert not torch.equal(first, other)
    assert (first - 128 / 255).std().item() * 255 == pytest.approx(25.0, rel=0.02)
    dark = RestorationImage("a", torch.zeros(1, 64, 64, dtype=torch.uint8))
    assert Degradation("denoise", sigma=25.0).apply(dark).observed.min() < 0  # kept, not clipped
    assert Degradation("denoise", sigma=25.0, noise_clip="clip").apply(dark).observed.min() == 0
    assert image_seed(0, "a") != image_seed(1, "a")


def test_sr_degradation_modcrops_and_makes_a_uint8_lr_image():
    item = tiny_item(h=26, w=23)
    d = Degradation("sr", scale=3).apply(item)
    assert d.clean.shape == (3, 24, 21) and torch.equal(d.clean, modcrop(item.image, 3))
    assert d.observed.shape == (3, 8, 7)
    assert torch.equal((d.observed * 255).round() / 255, d.observed)
    assert torch.equal(to_uint8(d.observed), imresize_uint8(d.clean, 1 / 3))


def test_inpainting_masks_random_with_the_drop_ratio_or_from_the_set():
    item = tiny_item(h=100, w=100)
    d = Degradation("inpaint", drop_ratio=0.5).apply(item)
    assert d.mask.shape == (1, 100, 100) and abs(d.mask.float().mean().item() - 0.5) < 0.03
    assert torch.all(d.observed[:, d.mask[0] == 0] == 0)
    given = torch.ones(1, 100, 100, dtype=torch.uint8)
    given[:, :10] = 0
    d2 = Degradation("inpaint", mask="dataset").apply(tiny_item(h=100, w=100, mask=given))
    assert torch.equal(d2.mask, given)
    with pytest.raises(ValueError, match="no inpainting mask"):
        Degradation("inpaint", mask="dataset").apply(item)
    with pytest.raises(ValueError, match="drop_ratio"):
        Degradation("inpaint", drop_ratio=1.5)


# -- metrics --------------------------------------------------------------------------------------


def test_y_channel_psnr_shave_and_ssim_follow_the_convention():
    white, black = torch.full((3, 1, 1), 255.0), torch.zeros(3, 1, 1)
    assert rgb_to_y(white).item() == pytest.approx(235.0) and rgb_to_y(black).item() == pytest.approx(16.0)
    clean = torch.full((1, 20, 20), 100, dtype=torch.uint8)
    noisy = clean.clone()
    noisy[:, 0, :] = 110  # only the first row differs: shaved away with shave >= 1
    conv = Convention(y_channel=False, shave=0)
    assert psnr(noisy, clean, conv) == pytest.approx(10 * math.log10(255**2 / (100 * 20 / 400)))
    assert psnr(noisy, clean, Convention(y_channel=True, shave=2)) == math.inf
    a = restoration_toy.smooth_image(3, 30, 30, 0)
    b = (
        (a.int() + torch.randint(-20, 21, a.shape, generator=torch.Generator().manual_seed(0)))
        .clamp(0, 255)
        .to(torch.uint8)
    )
    assert ssim(a, a, conv) == pytest.approx(1.0)
    assert 0 < ssim(b, a, conv) < 1


def test_ssim_equals_torchmetrics_on_the_valid_windows():
    from torchmetrics.functional.image import structural_similarity_index_measure as tm_ssim

    g = torch.Generator().manual_seed(1)
    a = restoration_toy.smooth_image(3, 40, 36, 2).double()
    b = (a + torch.randn(a.shape, generator=g, dtype=torch.float64) * 12).clamp(0, 255).round()
    _, full = tm_ssim(
        b[None],
        a[None],
        gaussian_kernel=True,
        sigma=1.5,
        kernel_size=11,
        data_range=255.0,
        k1=0.01,
        k2=0.03,
        return_full_image=True,
    )
    torch.testing.assert_close(ssim_map(b, a), full[0, :, 5:-5, 5:-5], rtol=0, atol=1e-9)


# -- images ---------------------------------------------------------------------------------------


def test_images_keep_their_mode_and_size(tmp_path):
    gray, rgb = restoration_toy.smooth_image(1, 7, 9, 0), restoration_toy.smooth_image(3, 5, 4, 1)
    write_image(tmp_path / "g.png", gray)
    write_image(tmp_path / "c.png", rgb)
    assert torch.equal(read_image(tmp_path / "g.png"), gray) and torch.equal(read_image(tmp_path / "c.png"), rgb)
    from PIL import Image

    Image.new("P", (4, 4)).save(tmp_path / "p.png")
    with pytest.raises(ValueError, match="not supported"):
        read_image(tmp_path / "p.png")


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


# -- real data ------------------------------------------------------------------------------------


@pytest.fixture
def restoration_data() -> Path:
    if not (RESTORATION / "Set5").is_dir():
        pytest.skip(f"restoration image sets not found at {RESTORATION}")
    return SHARED_DATA


PUBLISHED_BICUBIC_SET5 = {2: (33.66, 0.9299), 3: (30.39, 0.8682), 4: (28.42, 0.8104)}


@pytest.mark.real_data
def test_set5_bicubic_reproduces_the_published_psnr_and_ssim(restoration_data):
    """Every SR paper's bicubic row (Y channel, border = scale, MATLAB imresize)."""
    from bench_plugins.datasets.restoration import load_manifest_set

    images = load_manifest_set("set5", "Set5", "test", DataStore(restoration_data, offline=True))
    assert [im.name for im in images] == ["baby", "bird", "butterfly", "head", "woman"]
    for scale, (ref_psnr, ref_ssim) in PUBLISHED_BICUBIC_SET5.items():
        d = Degradation("sr", scale=scale)
        conv = Convention.for_task("sr", scale)
        values = []
        for item in images:
            deg = d.apply(item)
            up = imresize(deg.observed.double(), float(scale), tuple(deg.clean.shape[-2:]))
            values.append((psnr(to_uint8(up), deg.clean, conv), ssim(to_uint8(up), deg.clean, conv)))
        mean_psnr, mean_ssim = np.mean(values, axis=0)
        assert abs(mean_psnr - ref_psnr) <= 0.05, (scale, mean_psnr)
        assert abs(mean_ssim - ref_ssim) <= 0.002, (scale, mean_ssim)


@pytest.mark.real_data
def test_restoration_sets_load_verified_with_real_sizes_and_modes(restoration_data):
    from bench_plugins.datasets.restoration import load_dip_inpainting, load_manifest_set

    store = DataStore(restoration_data, offline=True)
    set12 = load_manifest_set("set12", "Set12", "test", store)
    assert len(set12) == 12 and {im.image.shape for im in set12} == {(1, 256, 256), (1, 512, 512)}
    assert all(path.startswith("restoration/Set12/") for path in store.used)
    dip = load_dip_inpainting("test", store)
    assert [im.name for im in dip] == ["kate", "library", "vase"]
    assert dip.images[1].image.shape == (3, 448, 704) and dip.images[1].mask.shape == (1, 448, 704)
    assert 0 < dip.images[0].mask.float().mean() < 1


def test_sets_without_pinned_checksums_say_where_to_get_them(tmp_path):
    from bench.data.store import DataError
    from bench_plugins.datasets.restoration import load_local_manifest_set

    with pytest.raises(DataError, match="r0k.us"):
        load_local_manifest_set("kodak24", "Kodak24", "test", DataStore(tmp_path, offline=True))


def _png(image: np.ndarray) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def _small_set(rng) -> dict[str, bytes]:
    """Two PNGs in the formats the real Set14 copy holds: an RGB image and a 1-channel one."""
    return {
        "baboon.png": _png(rng.integers(0, 256, (12, 10, 3), dtype=np.uint8)),
        "bridge.png": _png(rng.integers(0, 256, (8, 8), dtype=np.uint8)),
    }


def test_set14_loads_from_its_own_image_folder_pinned_by_checksum(tmp_path, monkeypatch):
    import hashlib

    from bench_plugins.datasets import _restoration_manifest as manifest
    from bench_plugins.datasets.restoration import load_sr_set

    files = _small_set(np.random.default_rng(0))
    monkeypatch.setitem(
        manifest.SETS,
        "Set14",
        (
            "owner/repo",
            "0" * 40,
            "CSet14",
            {name: (hashlib.md5(data).hexdigest(), hashlib.sha256(data).hexdigest()) for name, data in files.items()},
        ),
    )
    folder = tmp_path / "data" / "restoration" / "Set14"
    folder.mkdir(parents=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    store = DataStore(tmp_path / "data", offline=True)
    images = load_sr_set("set14", "Set14", "test", store)
    assert [(im.name, tuple(im.image.shape)) for im in images] == [("baboon", (3, 12, 10)), ("bridge", (1, 8, 8))]
    assert sorted(store.used) == ["restoration/Set14/baboon.png", "restoration/Set14/bridge.png"]
    assert (
        store.used["restoration/Set14/baboon.png"]["url"]
        == "https://raw.githubusercontent.com/owner/repo/" + "0" * 40 + "/CSet14/baboon.png"
    )


def test_set14_falls_back_to_the_edsr_archive_and_says_where_both_go_when_neither_is_there(tmp_path, monkeypatch):
    import hashlib
    import io
    import tarfile

    from bench.data.store import DataError, RemoteFile
    from bench_plugins.datasets import _restoration_manifest as manifest
    from bench_plugins.datasets import restoration
    from bench_plugins.datasets.restoration import load_sr_set

    files = _small_set(np.random.default_rng(1))
    monkeypatch.setitem(
        manifest.SETS,
        "Set14",
        (
            "owner/repo",
            "0" * 40,
            "CSet14",
            {name: (hashlib.md5(data).hexdigest(), None) for name, data in files.items()},
        ),
    )
    data = tmp_path / "data"
    with pytest.raises(DataError) as error:
        load_sr_set("set14", "Set14", "test", DataStore(data, offline=True))
    text = str(error.value)
    assert "\n" not in text and str(data / "restoration" / "Set14") in text and "edsr-benchmark.tar" in text

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, payload in files.items():
            info = tarfile.TarInfo(f"benchmark/Set14/HR/{name}")
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    (data / "restoration").mkdir(parents=True)
    (data / "restoration" / "edsr-benchmark.tar").write_bytes(buffer.getvalue())
    monkeypatch.setattr(
        restoration,
        "EDSR_BENCHMARK",
        RemoteFile(
            "restoration/edsr-benchmark.tar",
            "https://example.org/benchmark.tar",
            hashlib.md5(buffer.getvalue()).hexdigest(),
        ),
    )
    store = DataStore(data, offline=True)
    images = load_sr_set("set14", "Set14", "test", store)
    assert [(im.name, tuple(im.image.shape)) for im in images] == [("baboon", (3, 12, 10)), ("bridge", (1, 8, 8))]
    assert list(store.used) == ["restoration/edsr-benchmark.tar"], "the record names the source that was read"


def test_sr_sets_are_pinned_to_plain_files_and_b100_says_where_its_images_go(tmp_path):
    from bench.data.store import DataError
    from bench_plugins.datasets._restoration_manifest import SETS
    from bench_plugins.datasets.restoration import load_local_or_edsr_set

    assert len(SETS["Set14"][3]) == 14 and len(SETS["Urban100"][3]) == 100
    assert SETS["Set14"][:3] == (
        "majedelhelou/denoising_datasets",
        "58234876fef6f1b56306705c78dfd40cdb837b86",
        "CSet14",
    )
    with pytest.raises(DataError) as error:
        load_local_or_edsr_set("b100", "B100", "test", DataStore(tmp_path / "data", offline=True))
    assert "MANIFEST.tsv" in str(error.value) and str(tmp_path / "data" / "restoration" / "B100") in str(error.value)


def test_an_image_name_becomes_the_folder_figures_look_in_never_one_above():
    from bench.paths import safe_name

    assert safe_name("kodim01") == "kodim01" and safe_name("a b!") == "a_b"
    for name in ("..", ".", "a b!", "kodim01", "", "/../x"):
        assert safe_name(name) not in ("..", ".", "") and "/" not in safe_name(name)
