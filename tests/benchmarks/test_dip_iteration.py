"""One Deep Image Prior iteration (the paper's `skip` net, 32-channel 256x256 input) as the
method runs it: forward under autocast, MSE, backward, Adam step; fp32, and bf16 with
channels-last activations (the CPU suites' setting)."""

import pytest
import torch
import torch.nn.functional as F

from bench import RestoreContext
from bench.accel import Switches
from bench.specs import Budget
from conftest import DEVICE


def dip_step(precision: str, channels_last: bool, side: int = 256):
    from bench_plugins.methods import dip

    ctx = RestoreContext(
        device=DEVICE, seed=0, budget=Budget({}), params={}, switches=Switches(precision, channels_last)
    )
    config = dip.CONFIGURATIONS["denoise"]
    net = dip.Skip(config.input_depth, 3, channels=config.channels, skip=config.skip, upsample=config.upsample)
    model = ctx.prepare(net)
    g = torch.Generator(device=DEVICE).manual_seed(0)
    z = ctx.layout(torch.rand((1, config.input_depth, side, side), generator=g, device=DEVICE) * 0.1)
    target = torch.rand((1, 3, side, side), generator=g, device=DEVICE)
    optimizer = torch.optim.Adam(net.parameters(), lr=config.lr)
    net.train()

    def step():
        optimizer.zero_grad(set_to_none=True)
        noise = torch.randn(z.shape, generator=g, device=DEVICE) * config.reg_noise
        with ctx.autocast():
            out = model(ctx.layout(z + noise))
        loss = F.mse_loss(out.float(), target)
        loss.backward()
        optimizer.step()

    return step


@pytest.mark.parametrize("precision, channels_last", [("fp32", False), ("bf16", True)])
def test_dip_iteration_256(run, precision, channels_last):
    run(dip_step(precision, channels_last), rounds=5, side=256, precision=precision, channels_last=channels_last)
