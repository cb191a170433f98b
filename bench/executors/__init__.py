"""Executors: how a suite's run specs get executed (in this process, on a Ray cluster, as Slurm jobs).

An executor is a plugin like a dataset or a method: it registers an :class:`ExecutorSpec` through
the ``bench_register_executors`` hook, and ``bench run --executor NAME`` (or a suite's
``executor:`` key) picks it. Every executor runs each spec through the same host code path
(:func:`bench.runner.execute`: claim the spec's lock, run it, write its record atomically), in
this process or on a worker (:mod:`bench.executors.worker`), so records are the same whatever ran
them and land in the same result store exactly once.

This module is the contract and stays light: no engine (ray, submitit) is imported here.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from bench.params import declared, defaults

if TYPE_CHECKING:  # pragma: no cover
    from bench.progress import Progress
    from bench.records import ResultStore
    from bench.registry import Registry
    from bench.runner import SuiteOutcome
    from bench.suite import RunSpec

#: The executor ``bench run`` uses when neither the command line nor the suite names one.
DEFAULT = "local"

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


class ExecutorError(Exception):
    """A bad executor choice or option, or a missing engine: one line a person can act on."""


@dataclass
class Job:
    """What an executor is given: the runs of one ``bench run`` and where their records and data live.

    ``specs`` may include finished runs: an executor skips them (resume). ``data_dir`` is the
    resolved data directory and ``offline`` the resolved switch, so workers see what the driver
    sees. ``registry`` is the driver's: a worker process loads its own.
    """

    suite: str
    specs: list[RunSpec]
    registry: Registry
    store: ResultStore
    data_dir: Path
    offline: bool
    progress: Progress


class Executor:
    """How run specs get executed. Executors derive from this class and implement one method:

    ``run(job) -> SuiteOutcome``: execute ``job.specs``, skipping finished ones, so that every run
    ends with its record in ``job.store`` (status "ok", or "failed" with the error, including a
    worker that died), written atomically and exactly once; report what is queued, running, done
    and failed on ``job.progress`` (:class:`bench.executors.board.Board` does this); return
    which runs ran, failed, were skipped (finished earlier) or busy (claimed by another process).
    Run each spec through :func:`bench.executors.worker.run_spec` (on a worker) or
    :func:`bench.runner.run_specs` (in this process) so that runs are measured the same way.
    """

    def run(self, job: Job) -> SuiteOutcome:  # pragma: no cover - the contract
        raise NotImplementedError


@dataclass(frozen=True)
class ExecutorSpec:
    """An executor a plugin provides.

    ``make(options)`` returns an :class:`Executor`; ``options`` are the validated options, every
    key of ``options`` here present (a suite or ``--executor-option KEY=VALUE`` overrides the
    defaults given here). Each option is a plain default (its type is taken from it) or a
    :class:`bench.Param` declaring the values allowed, as for a method's params.
    ``requires`` names the modules the engine needs and ``install`` what to type when one is
    missing, e.g. ``("ray",)`` and ``pip install 'bench[ray]'``: the host checks them before
    anything runs. ``options_help`` says what each option means (``bench plugins`` shows it).
    """

    name: str
    make: Callable[[dict], Executor]
    options: dict = field(default_factory=dict)
    requires: tuple[str, ...] = ()
    install: str = ""
    description: str = ""
    options_help: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise ValueError(f"executor name {self.name!r} is not valid: use lower-case letters, digits, '.', '_' or '-'")
        if not callable(self.make):
            raise ValueError(f"executor {self.name!r}: make must be callable (options -> Executor)")

    def missing(self) -> list[str]:
        """The required modules that cannot be imported here."""
        return [m for m in self.requires if importlib.util.find_spec(m) is None]


def resolve(registry: Registry, name: str, options: dict, where: str = "") -> tuple[ExecutorSpec, dict]:
    """Look up executor ``name`` and check ``options`` against its declared ones: the spec and the
    full options (defaults filled in). Raises :class:`ExecutorError` naming every problem."""
    from bench.registry import PluginError

    try:
        spec = registry.executor(name)
    except PluginError as exc:
        raise ExecutorError(f"{where}{exc}") from None
    problems = check_options(spec, options)
    if problems:
        raise ExecutorError("; ".join(f"{where}{p}" for p in problems))
    return spec, {**defaults(spec.options), **options}


def check_options(spec: ExecutorSpec, options: dict) -> list[str]:
    """Problems with ``options`` for executor ``spec``, one per option: unknown options and values
    their declarations (plain defaults or :class:`bench.Param`) do not allow."""
    declarations = declared(spec.options)
    problems = []
    for key, value in options.items():
        if key not in declarations:
            known = ", ".join(declarations) or "none"
            problems.append(f"unknown option {key!r} of executor {spec.name!r}; expected one of: {known}")
        elif problem := declarations[key].check(value):
            problems.append(f"executor {spec.name!r} option {key!r}: {problem}")
    return problems


def check_engine(spec: ExecutorSpec) -> None:
    """Raise :class:`ExecutorError` with the install command when the executor's engine is missing."""
    missing = spec.missing()
    if missing:
        how = spec.install or f"pip install {' '.join(missing)}"
        raise ExecutorError(
            f"executor {spec.name!r} needs {', '.join(missing)}, which is not installed: {how}"
        )


def parse_option(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` from the command line; VALUE is read as YAML (``2``, ``0.5``, ``true``, ``[a, b]``)."""
    import yaml

    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ExecutorError(f"--executor-option: expected KEY=VALUE, got {text!r}")
    try:
        parsed = yaml.safe_load(value) if value.strip() else ""
    except yaml.YAMLError:
        parsed = value
    return key.strip(), ("" if parsed is None else parsed)


__all__ = ["DEFAULT", "Executor", "ExecutorError", "ExecutorSpec", "Job", "check_engine", "check_options",
           "parse_option", "resolve"]
