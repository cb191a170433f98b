"""DDAE's read-out sweep (blocks x timesteps) before and after reading every block of a timestep
from one UNet pass: the features of a sweep (``choose_features``' extraction) and the per-step
probe's training (one pass and one batched matmul for all heads vs one probe per read-out)."""

from pathlib import Path

import pytest
import torch

from conftest import DEVICE

BLOCKS, TIMESTEPS = ["out_1", "out_2", "out_3", "out_4"], [1, 11, 21]
CHOICES = [{"block": b, "timestep": t} for t in TIMESTEPS for b in BLOCKS]  # 12 read-outs


def context():
    from bench.context import RunContext
    from bench.data.loader import Normalize
    from bench.specs import Budget
    from bench_plugins.methods import ddae

    images = torch.randint(0, 256, (512, 3, 16, 16), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    params = {**ddae.PARAMS, "n_channels": 32, "ch_mults": [1, 2], "n_blocks": 1, "dropout": 0.0, "block": "out_4"}
    ctx = RunContext(
        device=DEVICE,
        seed=0,
        budget=Budget({}),
        params=params,
        normalize=Normalize.fit(images.to(DEVICE)),
        artifacts_dir=Path("."),
    )
    torch.manual_seed(0)
    encoder = ddae.build_encoder((3, 16, 16), ctx).eval()
    return ctx, encoder, images.to(DEVICE)


def one_encoder_per_read_out(encoder, ctx):
    """What the sweep did before: an encoder (same weights) per read-out, each its own pass."""
    from bench_plugins.methods.ddae import DDAEEncoder

    return [
        DDAEEncoder(
            encoder.unet, c["timestep"], c["block"], 1000, (1e-4, 0.02), ctx.normalize.mean, ctx.normalize.std
        ).eval()
        for c in CHOICES
    ]


@pytest.mark.parametrize("how", ["per-read-out", "one-pass-per-timestep"])
def test_sweep_feature_extraction(run, how):
    ctx, encoder, images = context()
    encoders = one_encoder_per_read_out(encoder, ctx)

    @torch.inference_mode()
    def extract_all():
        for batch in ctx.image_batches(images, 256, shuffle=False):
            if how == "per-read-out":
                [e(batch) for e in encoders]
            else:
                encoder.read_outs(batch, CHOICES)

    run(extract_all, rounds=3, items=len(images) * len(CHOICES), read_outs=len(CHOICES))


@pytest.mark.parametrize("how", ["one-probe-per-read-out", "all-heads-one-pass"])
def test_per_step_probe_sweep(run, how):
    from bench.data.images import LabelledImages
    from bench.data.loader import Augment
    from bench.protocols.linear_probe import LinearHeads, train_heads

    ctx, encoder, images = context()
    data = LabelledImages(images, torch.arange(len(images), device=DEVICE) % 10, tuple(str(i) for i in range(10)))
    fit = dict(epochs=1, batch_size=128, lr=4e-3, weight_decay=0.0, augment=Augment(flip=True, crop_padding=4))
    encoders = one_encoder_per_read_out(encoder, ctx)
    dims = [f.shape[1] for f in encoder.read_outs(ctx.normalize(images[:2]), CHOICES)]

    def probe():
        if how == "one-probe-per-read-out":
            for k, e in enumerate(encoders):
                train_heads(lambda x, e=e: [e(x)], LinearHeads([dims[k]], 10, device=DEVICE), data, ctx, **fit)
        else:
            train_heads(lambda x: encoder.read_outs(x, CHOICES), LinearHeads(dims, 10, device=DEVICE), data, ctx, **fit)

    run(probe, rounds=3, items=len(images) * len(CHOICES), read_outs=len(CHOICES))
