"""A throw-away restoration set for host tests: small synthetic images (no files), gray and RGB,
with sizes that are not multiples of 2, 3 or 32, one with an inpainting mask."""

import math

import torch

from bench import DatasetSpec, ImageSet, RestorationImage, hookimpl


def smooth_image(channels: int, height: int, width: int, seed: int) -> torch.Tensor:
    """Sums of a few random sinusoids: smooth enough that restorers can beat their floors."""
    g = torch.Generator().manual_seed(seed)
    y = torch.linspace(0, 1, height)[:, None]
    x = torch.linspace(0, 1, width)[None, :]
    planes = []
    for _ in range(channels):
        plane = torch.zeros(height, width)
        for _ in range(3):
            fy, fx, phase = (torch.rand(3, generator=g) * torch.tensor([3.0, 3.0, 2 * math.pi])).tolist()
            plane += torch.sin(2 * math.pi * (fy * y + fx * x) + phase)
        planes.append(plane)
    image = torch.stack(planes)
    image = (image - image.min()) / (image.max() - image.min())
    return (40 + 170 * image).round().to(torch.uint8)


def load_tiny(split, store):
    gray = smooth_image(1, 26, 23, 0)
    rgb = smooth_image(3, 25, 29, 1)
    mask = torch.ones(1, 25, 29, dtype=torch.uint8)
    mask[:, 10:14, 5:20] = 0
    return ImageSet("tiny", [RestorationImage("gray", gray), RestorationImage("rgb", rgb, mask)])


@hookimpl
def bench_register_datasets(register):
    register(
        DatasetSpec(
            name="tiny-restore",
            task="restoration",
            load=load_tiny,
            splits=("test",),
            description="two synthetic images",
        )
    )
