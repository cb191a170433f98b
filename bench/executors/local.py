"""The ``local`` executor (the default): one run after another on this machine, in this process or,
with ``isolate``, each in a child process of its own (see :mod:`bench.isolation`)."""

from __future__ import annotations

from bench.executors import Executor, Job

#: ``isolate``: off by default. Forking a process whose torch has already run OpenMP work (a run in
#: this process, a test session) can hang the child (GNU OpenMP is not fork-safe), so isolation is
#: opt-in until it starts fresh children (spawn) instead; its cost is measured in docs/suites.md.
OPTIONS = {"isolate": False}
OPTIONS_HELP = {
    "isolate": "true: each run in a forked child process, so a method that exits the interpreter, "
    "crashes natively or ignores signals fails only its own run; false: all in this process"
}


class LocalExecutor(Executor):
    """Runs the specs in order, sharing the loaded datasets between runs."""

    def __init__(self, options: dict):
        self.options = options

    def run(self, job: Job):
        from bench.data.store import DataStore
        from bench.runner import run_specs

        data_store = DataStore(job.data_dir, offline=job.offline)
        isolate = self.options.get("isolate", OPTIONS["isolate"])
        return run_specs(job.specs, job.registry, job.store, data_store, job.progress, isolate=isolate)
