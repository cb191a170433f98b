"""Executor tests' plugin: a method whose worker process is killed in the middle of its first run.

Installed beside toy.py as a throw-away distribution (module ``bench_exec_toy``), so worker
processes (Ray tasks, submitit jobs) find it through the entry points like any plugin; it trains
on toy.py's dataset. Never run ``toy-die`` with the local executor before its marker file exists:
the process it kills would be the test's.
"""

import os
import signal

import torch

from bench import Classifier, hookimpl


def fit_die(data, ctx):
    """The first attempt (no marker file yet) kills its own process mid-run, as an OOM killer or a
    pre-empted node would; later attempts train a linear classifier."""
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, data.num_classes)).to(ctx.device)
    opt = torch.optim.SGD(model.parameters(), lr=ctx.params["lr"])
    for _ in ctx.epochs(ctx.budget.epochs):
        if not os.path.exists(ctx.params["marker"]):
            open(ctx.params["marker"], "w").close()
            os.kill(os.getpid(), signal.SIGKILL)
        for x, y in ctx.batches(data.train, 50):  # (50, 1, 8, 8) normalised images
            loss = torch.nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            ctx.step(loss, n=len(x))
    return model


@hookimpl
def bench_register_methods(register):
    register(Classifier("toy-die", fit_die, budget={"epochs": 2}, params={"lr": 0.5, "marker": ""}))
