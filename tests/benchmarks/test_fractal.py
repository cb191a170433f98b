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
    result = run(lambda: fractal.render(perturbed, probs, size=size, points=points, device=DEVICE), rounds=5,
                 images_per_round=copies, resolution=size, points=points)
    assert result.shape == (copies, 1, size, size)
    rate = copies / benchmark.stats.stats.median
    benchmark.extra_info["images_per_s"] = round(rate, 2)
    print(f"\n{setting}: {rate:,.1f} fractal images/s on {DEVICE}")
