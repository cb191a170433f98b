"""bench.restoration.context: RestoreContext, the restorer's context: the old log form still works,
it measures its own rates as a classifier's does."""

import torch

from bench.context import RunContext
from bench.data.loader import Normalize
from bench.progress import Progress
from bench.restoration.context import RestoreContext
from bench.specs import Budget


def make_restore_context(**kw) -> RestoreContext:
    return RestoreContext(device=torch.device("cpu"), seed=3, budget=Budget({"iterations": 4}), params={"a": 1}, **kw)


def make_context() -> RunContext:
    images = torch.zeros(4, 1, 2, 2, dtype=torch.uint8)
    return RunContext(
        device=torch.device("cpu"),
        seed=0,
        budget=Budget({"epochs": 1}),
        params={},
        normalize=Normalize.fit(images),
        artifacts_dir=None,
        progress=Progress(quiet=True),
    )


def test_optimize_backpropagates_clips_steps_schedules_and_counts():
    ctx = make_context()
    w = torch.nn.Parameter(torch.zeros(3))
    optimizer = torch.optim.SGD([w], lr=1.0)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 0.5**s)
    w.grad = torch.full((3,), 100.0)  # stale: must be cleared, not accumulated
    loss = (w * torch.tensor([3.0, 4.0, 0.0])).sum()  # gradient (3, 4, 0), norm 5
    ctx.optimize(loss, optimizer, schedule, n=7, clip_grad_norm=1.0)
    torch.testing.assert_close(w.detach(), torch.tensor([-0.6, -0.8, 0.0]))  # clipped to norm 1
    assert optimizer.param_groups[0]["lr"] == 0.5  # schedule stepped
    assert (ctx._step, ctx._book.images) == (1, 7)

    loss = (w * torch.tensor([3.0, 4.0, 0.0])).sum()
    ctx.optimize(loss, optimizer, n=7)  # no clipping, no schedule
    torch.testing.assert_close(w.detach(), torch.tensor([-2.1, -2.8, 0.0]))
    assert optimizer.param_groups[0]["lr"] == 0.5
    assert (ctx._step, ctx._book.images) == (2, 14)


# -- one vocabulary for every kind's context ------------------------------------------------------

from bench.context import bookkeeping  # noqa: E402


def test_the_old_restore_log_form_still_works_with_a_deprecation_warning():
    import pytest

    ctx = make_restore_context()
    with pytest.warns(DeprecationWarning, match=r"call ctx.log\(\*\*scalars\)"):
        ctx.log(7, loss=0.5)
    assert bookkeeping(ctx).curves == [{"iteration": 7, "loss": 0.5}]


def test_a_restorer_measures_its_own_rates_as_a_classifier_does():
    ctx = make_restore_context()
    ctx.timed("render_images_per_s", lambda: None, items=2, label="render img/s", unit="images/s")
    rate = bookkeeping(ctx).throughputs["render_images_per_s"]
    assert rate["label"] == "render img/s" and rate["calls"] == 1
