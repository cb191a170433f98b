"""A throw-away plugin for the representation protocols' tests: a noisy synthetic dataset and a
raw-pixel "encoder" (features = the normalised pixels), whose probe accuracies a test can compute
independently."""

import torch

from bench import DatasetSpec, LabelledImages, RepresentationLearner, hookimpl
from bench_plugins.methods.official_probes import OFFICIAL_PROBES

CLASSES = 5


def load_blobs(split, store):
    """5 classes of 1x6x6 images: a fixed random template per class plus strong noise, so that a
    linear probe and k-NN are right often but not always."""
    n = {"train": 300, "test": 200}[split]
    templates = torch.randint(80, 176, (CLASSES, 1, 6, 6), generator=torch.Generator().manual_seed(7)).float()
    g = torch.Generator().manual_seed(0 if split == "train" else 1)
    labels = torch.arange(n) % CLASSES
    images = templates[labels] + 90 * torch.randn(n, 1, 6, 6, generator=g)
    return LabelledImages(images.clamp(0, 255).to(torch.uint8), labels, tuple(f"c{i}" for i in range(CLASSES)))


class FirstPixels(torch.nn.Module):
    """The first ``pixels`` normalised pixels (all 36 by default): a read-out a feature sweep can
    choose, with a known right answer (more pixels, more signal)."""

    def __init__(self, pixels: int):
        super().__init__()
        self.pixels = pixels

    def forward(self, images):
        return images.flatten(1)[:, : self.pixels]


def build_raw(image_shape, ctx):
    return FirstPixels(ctx.params["pixels"])


def fit_raw(data, ctx):
    assert not hasattr(data, "labels"), "a representation method must never see labels"
    for _ in ctx.epochs(1):
        for batch in ctx.image_batches(data.images, 100):
            ctx.step(n=len(batch))
    return build_raw(data.image_shape, ctx)


@hookimpl
def bench_register_datasets(register):
    register(
        DatasetSpec(
            name="blobs",
            task="classification",
            load=load_blobs,
            num_classes=CLASSES,
            image_shape=(1, 6, 6),
            description="noisy class templates",
        )
    )


@hookimpl
def bench_register_methods(register):
    register(
        RepresentationLearner(
            "raw-pixels",
            build_raw,
            fit_raw,
            budget={"epochs": 1},
            params={"unused": 1, "pixels": 36},
            feature_params=("pixels",),
            probes=OFFICIAL_PROBES,  # the per-step probes' tests
        )
    )
