"""The ``local`` executor (the default): one run after another on this machine, each in a child
process of its own (``isolate``, see :mod:`bench.isolation`) or all in this process."""

from __future__ import annotations

from bench.executors import Executor, Job

#: ``isolate``: on by default (a dying method fails only its own run; cost measured in docs/suites.md).
OPTIONS = {"isolate": True}
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
