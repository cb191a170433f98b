"""The ``local`` executor (the default): one run after another in this process."""

from __future__ import annotations

from bench.executors import Executor, Job


class LocalExecutor(Executor):
    """Runs the specs in order in this process, sharing the loaded datasets between runs."""

    def __init__(self, options: dict):
        self.options = options

    def run(self, job: Job):
        from bench.data.store import DataStore
        from bench.runner import run_specs

        data_store = DataStore(job.data_dir, offline=job.offline)
        return run_specs(job.specs, job.registry, job.store, data_store, job.progress)
