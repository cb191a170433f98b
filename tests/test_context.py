"""RunContext.optimize: the one optimisation step every training loop takes."""

import torch

from bench.context import RunContext
from bench.data.loader import Normalize
from bench.progress import Progress
from bench.specs import Budget


def make_context() -> RunContext:
    images = torch.zeros(4, 1, 2, 2, dtype=torch.uint8)
    return RunContext(device=torch.device("cpu"), seed=0, budget=Budget({"epochs": 1}), params={},
                      normalize=Normalize.fit(images), artifacts_dir=None, progress=Progress(quiet=True))


def test_optimize_backpropagates_clips_steps_schedules_and_counts():
    ctx = make_context()
    w = torch.nn.Parameter(torch.zeros(3))
    optimizer = torch.optim.SGD([w], lr=1.0)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 0.5 ** s)
    w.grad = torch.full((3,), 100.0)                      # stale: must be cleared, not accumulated
    loss = (w * torch.tensor([3.0, 4.0, 0.0])).sum()      # gradient (3, 4, 0), norm 5
    ctx.optimize(loss, optimizer, schedule, n=7, clip_grad_norm=1.0)
    torch.testing.assert_close(w.detach(), torch.tensor([-0.6, -0.8, 0.0]))   # clipped to norm 1
    assert optimizer.param_groups[0]["lr"] == 0.5                              # schedule stepped
    assert (ctx._step, ctx._images) == (1, 7)

    loss = (w * torch.tensor([3.0, 4.0, 0.0])).sum()
    ctx.optimize(loss, optimizer, n=7)                     # no clipping, no schedule
    torch.testing.assert_close(w.detach(), torch.tensor([-2.1, -2.8, 0.0]))
    assert optimizer.param_groups[0]["lr"] == 0.5
    assert (ctx._step, ctx._images) == (2, 14)
