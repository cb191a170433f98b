"""The worker side of every remote executor: run exactly one spec, as the local executor would.

A worker process (a Ray task, a Slurm job) calls :func:`run_spec` with plain data: the spec as a
dict, the results folder, the data folder. It loads the plugins itself (once per process), claims
the spec's lock, runs it and writes its record atomically through the host's own code path
(:func:`bench.runner.execute`), then returns what happened, the record included, so the driver
can bring it home when the worker does not share its filesystem.
"""

from __future__ import annotations

import os
import socket

#: Per worker process: the registry, and one dataset cache per (data dir, offline), so a worker
#: that runs several specs (a Ray worker is reused) loads each dataset split once.
_PROCESS: dict = {}


def run_spec(spec: dict, results_dir: str, data_dir: str, offline: bool, log: bool = False) -> dict:
    """Run one spec; return ``{"key", "state", "record", "host", "pid"}``.

    ``state`` is "ran" (``record`` is the record just written), "skipped" (it had finished:
    ``record`` is the finished one) or "busy" (another process holds it; ``record`` is None).
    ``log``: print the run's progress (a Slurm job's log); otherwise the worker is silent.
    """
    from bench.progress import Progress
    from bench.records import ResultStore
    from bench.runner import execute
    from bench.suite import RunSpec

    run = RunSpec.from_dict(spec)
    registry, cache = _registry(), _cache(data_dir, offline)
    where = f"{socket.gethostname()}:{os.getpid()}"
    state, record = execute(
        run, registry, ResultStore(results_dir), cache, Progress(quiet=not log), run.label, note=f"on {where}"
    )
    return {"key": run.key, "state": state, "record": record, "host": socket.gethostname(), "pid": os.getpid()}


def _registry():
    if "registry" not in _PROCESS:
        from bench import registry

        _PROCESS["registry"] = registry.load()
    return _PROCESS["registry"]


def _cache(data_dir: str, offline: bool):
    key = ("cache", data_dir, offline)
    if key not in _PROCESS:
        from bench.data.store import DataStore
        from bench.runner import DatasetCache

        _PROCESS[key] = DatasetCache(DataStore(data_dir, offline=offline))
    return _PROCESS[key]
