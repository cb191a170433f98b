"""bench.restoration.metrics: the field's PSNR and SSIM convention (Y channel, shaved border),
SSIM against torchmetrics, and the published bicubic Set5 row on the real images when present."""

import math
from pathlib import Path

import numpy as np
import pytest
import torch

import restoration_toy
from bench.data.store import DataStore
from bench.restoration.degrade import Degradation
from bench.restoration.metrics import Convention, psnr, rgb_to_y, ssim, ssim_map, to_uint8
from bench.restoration.resize import imresize


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


# -- real data ------------------------------------------------------------------------------------


@pytest.fixture
def restoration_data(shared_data) -> Path:
    if not (shared_data / "restoration" / "Set5").is_dir():
        pytest.skip(f"restoration image sets not found at {shared_data / 'restoration'}")
    return shared_data


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
