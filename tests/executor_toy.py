"""Executor tests' plugin: a method whose worker process is killed in the middle of its first run.

Installed beside toy.py as a throw-away distribution (module ``bench_exec_toy``), so worker
processes (Ray tasks, submitit jobs) find it through the entry points like any plugin. Never run
``toy-die`` with the local executor: the process it kills would be the test's.
"""

import os
import signal

from bench import MethodSpec, hookimpl
from bench_toy import fit_linear


def fit_die(data, ctx):
    """The first attempt (no marker file yet) kills its own process mid-run, as an OOM killer or
    a preempted node would; later attempts train like toy-linear."""
    marker = ctx.params["marker"]
    if not os.path.exists(marker):
        for epoch in ctx.epochs(1):
            open(marker, "w").close()
            os.kill(os.getpid(), signal.SIGKILL)
    return fit_linear(data, ctx)


@hookimpl
def bench_register_methods(register):
    register(MethodSpec(name="toy-die", kind="classifier", fit=fit_die, budget={"epochs": 2},
                        params={"lr": 0.5, "sleep": 0.0, "marker": ""}))
