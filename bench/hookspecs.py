"""The plugin contract: every hook a bench plugin may implement.

A plugin is a module (or any object) with functions named like the hooks below and decorated with
``bench.hookimpl``. It is found through the entry-point group ``bench``::

    [project.entry-points.bench]
    my_method = "my_package.my_module"

Hooks are called with keyword arguments. An implementation may accept fewer arguments than the
spec names (pluggy passes only those it asks for), so hooks evolve only by adding arguments.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from bench.specs import DatasetSpec, ExecutorSpec, Method

hookspec = pluggy.HookspecMarker("bench")


# --------------------------------------------------------------------------------------------
# Discovery: called once per process, when the registry first loads the plugins.
# --------------------------------------------------------------------------------------------


@hookspec
def bench_register_datasets(register: Callable[[DatasetSpec], None]) -> None:
    """Register the datasets this plugin provides.

    Called once, when the host builds its registry (``bench plugins``, ``bench run`` and any
    other command that needs to know the datasets). Call ``register(spec)`` once per
    :class:`bench.DatasetSpec`. Registering a name another plugin already registered is an error
    that names both plugins. Returns nothing; an exception raised here marks this plugin as
    broken (reported by ``bench plugins``) without affecting the others.
    """


@hookspec
def bench_register_methods(register: Callable[[Method], None]) -> None:
    """Register the methods this plugin provides.

    Called once, when the host builds its registry. Call ``register(spec)`` once per method,
    with its kind's contract: :class:`bench.Classifier`, :class:`bench.RepresentationLearner` or
    :class:`bench.Restorer` (a deprecated :class:`bench.MethodSpec` is still converted, with a
    warning). Name clashes and exceptions are handled as for :func:`bench_register_datasets`.
    A representation learner's named fine-tune recipes and probe settings are fields of its spec
    (``recipes=`` / ``probes=``, :class:`bench.Setting`), registered with it: no hook of their own.
    Returns nothing.
    """


@hookspec
def bench_register_executors(register: Callable[[ExecutorSpec], None]) -> None:
    """Register the executors this plugin provides: how run specs get executed.

    Called once, when the host builds its registry. Call ``register(spec)`` once per
    :class:`bench.ExecutorSpec`, whose ``make(options)`` returns a :class:`bench.Executor`;
    ``bench run --executor NAME`` (or a suite's ``executor:``) picks one. The host's own
    executors (``local``, ``ray``, ``slurm``) are registered through this hook too and are
    always loaded. Name clashes and exceptions are handled as for
    :func:`bench_register_datasets`. Returns nothing.
    """


# --------------------------------------------------------------------------------------------
# Running: called by the runner around each run spec.
# --------------------------------------------------------------------------------------------


@hookspec
def bench_run_finished(record: dict) -> None:
    """Observe a finished run (reporters, loggers, exporters).

    Called after each run's record has been written to the result store, whether the run
    succeeded or failed (``record["status"]`` is ``"ok"`` or ``"failed"``), and not for runs
    skipped because their record already existed. It is called in the process that wrote the
    record: ``bench run`` itself, or the worker that ran the spec under a remote executor (a Ray
    task, a Slurm job), or the driver when it records a run whose worker died. ``record`` is the
    JSON-ready dict that was written; treat it as read-only. Returns nothing; an exception here is reported as a warning
    and does not change the run's status.
    """
