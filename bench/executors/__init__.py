"""Executors: how a suite's run specs get executed (in this process, on a Ray cluster, as Slurm jobs).

An executor is a plugin like a dataset or a method: it registers an :class:`ExecutorSpec` through
the ``bench_register_executors`` hook, and ``bench run --executor NAME`` (or a suite's
``executor:`` key) picks it. Every executor runs each spec through the same host code path
(:func:`bench.runner.execute`: claim the spec's lock, run it, write its record atomically), in
this process or on a worker (:mod:`bench.executors.worker`), so records are the same whatever ran
them and land in the same result store exactly once.

What an executor plugin implements or receives (:class:`Executor`, :class:`ExecutorSpec`,
:class:`Job`) is declared in :mod:`bench.specs` with the other plugin declarations and re-exported
here; this module adds the host's checks and stays light: no engine (ray, submitit) is imported.
It is a leaf (it imports only the other leaves: specs, params, errors), so an executor module, and
``bench.Executor``, import no registry, runner or suite through it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bench.errors import PluginError
from bench.params import declared, defaults
from bench.specs import Executor, ExecutorSpec, Job

if TYPE_CHECKING:  # pragma: no cover - annotations only: this module imports no registry
    from bench.registry import Registry

#: The executor ``bench run`` uses when neither the command line nor the suite names one.
DEFAULT = "local"


class ExecutorError(Exception):
    """A bad executor choice or option, or a missing engine: one line a person can act on."""


def resolve(registry: Registry, name: str, options: dict, where: str = "") -> tuple[ExecutorSpec, dict]:
    """Look up executor ``name`` and check ``options`` against its declared ones: the spec and the
    full options (defaults filled in). Raises :class:`ExecutorError` naming every problem."""
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
        raise ExecutorError(f"executor {spec.name!r} needs {', '.join(missing)}, which is not installed: {how}")


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


__all__ = [
    "DEFAULT",
    "Executor",
    "ExecutorError",
    "ExecutorSpec",
    "Job",
    "check_engine",
    "check_options",
    "parse_option",
    "resolve",
]
