"""Methods that misbehave the way real ones do (a native crash, a signal handler of their own, a
working directory changed) for the fault tests. Self-contained: imports only ``bench``."""

import os
import signal

import torch

from bench import Classifier, hookimpl


def fit_exit(data, ctx):
    """Ends the interpreter at once, as a native crash or a CUDA error would: no exception."""
    os._exit(7)


def fit_ignore_signals(data, ctx):
    """Leaves Ctrl-C and SIGTERM ignored behind it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    return _linear(data, ctx)


def fit_chdir(data, ctx):
    """Moves the process's working directory to the folder named in ``TOY_CHDIR``."""
    os.chdir(os.environ["TOY_CHDIR"])
    return _linear(data, ctx)


def fit_nan(data, ctx):
    """Its loss becomes NaN in the last epoch, yet it returns a model that predicts."""
    return _linear(data, ctx, diverge=True)


def _linear(data, ctx, diverge=False):
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(data.train.images[0].numel(), data.num_classes))
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    for _ in ctx.epochs(ctx.budget.epochs):
        for x, y in ctx.batches(data.train, 100):
            loss = torch.nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            ctx.step(loss, n=len(x))
        if diverge:
            ctx.step(torch.tensor(float("nan")), n=0)
    return model


@hookimpl
def bench_register_methods(register):
    for name, fit in (
        ("toy-exit", fit_exit),
        ("toy-ignore-signals", fit_ignore_signals),
        ("toy-chdir", fit_chdir),
        ("toy-nan", fit_nan),
    ):
        register(Classifier(name, fit, budget={"epochs": 1}))
