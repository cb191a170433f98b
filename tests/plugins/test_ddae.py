"""DDAE (plugins/methods/ddae.py): the DDPM schedule, the UNet's blocks and features, the EMA,
read-outs, denoising, and the official recipe as the full budget."""

import numpy as np
import pytest
import torch

import repr_toy
from bench import PretrainData, registry
from bench.context import bookkeeping
from bench_plugins.methods import ddae
from repr_runs import probe_context, tiny_ctx

DDAE_TINY = {
    **ddae.PARAMS,
    "n_channels": 32,
    "ch_mults": [1, 2],
    "attention_levels": [1],
    "n_blocks": 1,
    "batch_size": 50,
    "lr": 1e-3,
    "flip": False,
    "block": "out_2",
}


def test_ddpm_linear_schedule():
    sqrt_abar, sqrt_one_minus = ddae.linear_schedule(1000, 1e-4, 0.02)
    betas = np.linspace(1e-4, 0.02, 1000)
    abar = np.cumprod(1 - betas)
    assert sqrt_abar[0] == 1 and sqrt_abar.shape == (1001,)
    assert sqrt_abar[11].item() == pytest.approx(np.sqrt(abar[10]), rel=1e-6)
    assert sqrt_one_minus[1000].item() == pytest.approx(np.sqrt(1 - abar[-1]), rel=1e-6)


def test_ddae_unet_blocks_and_features(tmp_path):
    images = torch.randint(0, 256, (4, 1, 8, 8), dtype=torch.uint8)
    ctx = tiny_ctx(tmp_path, DDAE_TINY, images)
    encoder = ddae.build_encoder((1, 8, 8), ctx)
    assert encoder.unet.block_names == ["out_1", "out_2", "out_3", "out_4"]
    x = ctx.normalize(images)
    with torch.no_grad():
        assert encoder.unet(x, torch.full((4,), 0.5)).shape == (4, 1, 8, 8)
        assert encoder(x).shape == (4, 64)  # out_2: the 4x4 level, 64 channels
        encoder.block = "out_3"
        assert encoder(x).shape == (4, 32)
    with pytest.raises(ValueError, match="divisible"):
        ddae.build_encoder((1, 7, 7), ctx)
    with pytest.raises(ValueError, match="unknown block"):
        ddae.build_encoder((1, 8, 8), tiny_ctx(tmp_path, {**DDAE_TINY, "block": "out_9"}, images))


def test_ddae_ema_warms_up():
    model = torch.nn.Linear(1, 1, bias=False)
    torch.nn.init.zeros_(model.weight)
    ema = ddae.EMA(model, 0.9999)
    with torch.no_grad():
        model.weight.fill_(1.0)
    ema.update(model)  # decay 1 - 2^(-2/3)
    assert ema.shadow[0].item() == pytest.approx(2 ** (-2 / 3), rel=1e-5)


@pytest.mark.slow  # ~20 s of CPU
def test_ddae_learns_to_denoise(tmp_path):
    images = torch.nn.functional.pad(repr_toy.load_blobs("train", None).images, (1, 1, 1, 1))  # 8x8
    ctx = tiny_ctx(tmp_path, DDAE_TINY, images, epochs=2)
    encoder = ddae.fit_ddae(PretrainData(images), ctx)
    losses = [c["loss"] for c in bookkeeping(ctx).curves]
    assert losses[-1] < 0.8 * losses[0] and not encoder.training


def test_ddae_full_budget_is_the_official_effective_four_gpu_recipe():
    reg = registry.load()
    spec = reg.method("ddae")
    params = {k: getattr(v, "default", v) for k, v in spec.params.items()}
    assert (params["batch_size"], params["lr"], spec.budget["epochs"]) == (512, 4e-4, 2000)
    assert spec.budget["epochs"] * -(-50_000 // params["batch_size"]) == 196_000  # about 196k steps


def test_ddae_read_outs_equal_encoders_built_for_each():
    ctx = probe_context(torch.zeros(1, 1, 8, 8, dtype=torch.uint8))
    ctx.params = {**ddae.PARAMS, "n_channels": 32, "ch_mults": [1, 2], "n_blocks": 1, "timestep": 11, "block": "out_2"}
    torch.manual_seed(0)
    encoder = ddae.build_encoder((1, 8, 8), ctx).eval()
    x = torch.randn(4, 1, 8, 8)
    choices = [
        {"block": "out_1", "timestep": 11},
        {"block": "out_4", "timestep": 11},
        {"block": "out_2", "timestep": 101},
    ]
    torch.manual_seed(5)
    together = encoder.read_outs(x, choices)
    # One noise draw per timestep, in order of first appearance: t = 11 then t = 101.
    torch.manual_seed(5)
    for timestep, blocks in [(11, ["out_1", "out_4"]), (101, ["out_2"])]:
        noise = torch.randn_like(x)
        for block in blocks:
            alone = ddae.DDAEEncoder(
                encoder.unet, timestep, block, 1000, (1e-4, 0.02), ctx.normalize.mean, ctx.normalize.std
            )
            x_t = alone.noised(alone.to_unit_range(x), torch.full((4,), timestep), noise)
            ref = alone.unet(x_t, torch.full((4,), timestep / 1000), stop_at=block).mean(dim=(2, 3))
            got = together[[c["block"] for c in choices].index(block)]
            assert torch.allclose(got, ref, atol=1e-5)
