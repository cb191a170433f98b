"""The 1p-frac renderer: fractal pictures per second (chaos game + rasterizer, batched on the device)."""

import pytest
import torch

from conftest import DEVICE

#: (copies, pixels, chaos-game points): the official 1p-frac picture, and suites/onepfrac-mnist-cpu.yaml's.
SETTINGS = {"paper-512px-100k": (16, 512, 100_000), "cpu-preset-64px-5k": (100, 64, 5_000)}


@pytest.mark.parametrize("setting", list(SETTINGS))
def test_fractal_render(run, benchmark, setting):
    from bench_plugins.methods import fractal

    copies, size, points = SETTINGS[setting]
    maps, _ = fractal.sample_system(2, 3.5, torch.Generator().manual_seed(0))
    probs = fractal.map_probabilities(maps)
    perturbed = fractal.perturb(maps, copies, 0.1, torch.Generator().manual_seed(1)).to(DEVICE)
    probs = probs.expand(copies, -1).to(DEVICE)
    result = run(
        lambda: fractal.render(perturbed, probs, size=size, points=points, device=DEVICE),
        rounds=5,
        images_per_round=copies,
        resolution=size,
        points=points,
    )
    assert result.shape == (copies, 1, size, size)
    rate = copies / benchmark.stats.stats.median
    benchmark.extra_info["images_per_s"] = round(rate, 2)
    print(f"\n{setting}: {rate:,.1f} fractal images/s on {DEVICE}")


@pytest.mark.parametrize("source", ["renders-512px", "resampled-once"])
def test_lpce_batch(run, benchmark, source, tmp_path):
    """One pre-training batch (256 crops to 32x32, RandAugment, erasing, mixup) cut from the 512-px
    renders every step, as before, or from the renders resampled once (``crop_sources``)."""
    import numpy as np

    from bench.context import RunContext
    from bench.data.loader import Normalize
    from bench.progress import Progress
    from bench.specs import Budget
    from bench_plugins.methods import onepfrac

    renders = torch.randint(0, 2, (1000, 1, 512, 512), dtype=torch.uint8, device=DEVICE) * 127
    images = renders if source == "renders-512px" else onepfrac.crop_sources(renders, (32, 32))
    ctx = RunContext(
        device=DEVICE,
        seed=0,
        budget=Budget({"epochs": 1}),
        params=onepfrac.PARAMS,
        normalize=Normalize((0.5,) * 3, (0.25,) * 3, DEVICE),
        artifacts_dir=tmp_path,
        progress=Progress(quiet=True),
    )
    labels = torch.randperm(1000, device=DEVICE)[:256]
    rng = np.random.default_rng(0)
    x, _ = run(
        lambda: onepfrac.training_batch(images, labels, (3, 32, 32), onepfrac.PARAMS, ctx, rng),
        rounds=3,
        source=source,
        source_pixels=images.shape[-1],
    )
    assert x.shape == (256, 3, 32, 32)
    benchmark.extra_info["batches_per_s"] = round(1 / benchmark.stats.stats.median, 2)
    print(f"\n{source} ({images.shape[-1]} px): {1 / benchmark.stats.stats.median:,.2f} LPCE batches/s on {DEVICE}")
