"""The contexts methods get: RunContext.optimize, and the one vocabulary every kind's context shares."""

import torch

from bench.specs import Budget
from runs import make_context


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

from bench.context import MethodContext, bookkeeping  # noqa: E402
from bench.restoration.context import RestoreContext  # noqa: E402

SHARED = {
    "device",
    "seed",
    "generator",
    "params",
    "budget",
    "artifacts_dir",
    "progress",
    "precision",
    "channels_last",
    "compile",
    "autocast",
    "prepare",
    "layout",
    "step",
    "log",
    "measure",
    "timed",
}
HOST_BOOKKEEPING = {
    "epoch_log",
    "curves",
    "curve",
    "throughputs",
    "iterations_done",
    "monitor_seconds",
    "loop_seconds",
    "train_throughput",
}


def make_restore_context(**kw) -> RestoreContext:
    return RestoreContext(device=torch.device("cpu"), seed=3, budget=Budget({"iterations": 4}), params={"a": 1}, **kw)


def public(obj) -> set[str]:
    return {n for n in dir(obj) if not n.startswith("_")}


def test_both_contexts_share_one_vocabulary_and_keep_the_host_bookkeeping_private():
    run, restore = make_context(), make_restore_context()
    assert isinstance(run, MethodContext) and isinstance(restore, MethodContext)
    assert SHARED <= public(run) and SHARED <= public(restore)
    assert not HOST_BOOKKEEPING & public(run) and not HOST_BOOKKEEPING & public(restore)
    # The host-owned generator is seeded with the run's seed on both.
    assert torch.equal(
        torch.rand(3, generator=restore.generator), torch.rand(3, generator=torch.Generator().manual_seed(3))
    )
    assert torch.equal(
        torch.rand(3, generator=run.generator), torch.rand(3, generator=torch.Generator().manual_seed(0))
    )


def test_step_and_log_mean_the_same_on_both_contexts():
    run = make_context()
    for _ in run.epochs(2):
        run.step(torch.tensor(1.0), n=4)
        run.log(val_accuracy=0.5)
    book = bookkeeping(run)
    assert (book.steps, book.epochs) == (2, 2)
    assert {"epoch": 2, "val_accuracy": 0.5} in book.curves

    restore = make_restore_context()
    for i in restore.iterations(4):
        restore.step(torch.tensor(1.0), n=1)
        if i == 2:
            restore.log(learning_rate=0.1)  # tagged by the host with the current iteration
    book = bookkeeping(restore)
    assert book.steps == 4 and book.curves == [{"iteration": 2, "learning_rate": 0.1}]
    assert book.loop_seconds > 0
