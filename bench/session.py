"""Running a suite, assembled once: the suite loaded with its overrides, the runs chosen, the
result store with its rule for finished records, the executor resolved, then the runs executed.

``bench run``, ``bench check`` and ``bench gpu-check`` all run their suites through this module:
:func:`plan_suite` chooses and checks everything and runs nothing (``--dry-run`` stops there),
:meth:`SuiteRun.run` runs, and :func:`run_suite` does both, as a script would::

    from bench import run_suite

    done = run_suite("suites/quick.yaml", results_dir="results", data="../shared/data")
    print(done.outcome.ran, done.exit_code)

A problem found before anything runs is a :class:`RunError` (one line; like the suite loader,
it names the input as ``bench run`` spells it: ``--device``, ``--only``, ``--executor``); a suite
that does not validate raises :class:`bench.suite.SuiteError` with every problem.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from bench.data.store import DataStore
    from bench.executors import Executor
    from bench.progress import Progress
    from bench.records import ResultStore
    from bench.registry import Registry
    from bench.runner import SuiteOutcome
    from bench.suite import RunSpec, Suite

#: When a finished record runs again: ``"stale"`` when other code made it (:mod:`bench.identity`),
#: ``"never"`` (``bench run --keep-stale``), ``"always"`` (the device check measures afresh).
RERUN = ("stale", "never", "always")


class RunError(Exception):
    """A suite run that cannot start (a device missing, ``--only`` matching nothing, a bad executor
    or data folder): one line a person can act on; nothing has run."""


@dataclass
class SuiteRun:
    """One run of a suite: what :func:`run_suite` chose and, once run, its ``outcome``."""

    suite: Suite
    specs: list[RunSpec]  # the suite's runs that ``only`` kept
    registry: Registry
    store: ResultStore
    executor_name: str
    executor: Executor
    rerun: str = "stale"
    outcome: SuiteOutcome | None = None  # None until :meth:`run` (a dry run never sets it)

    @property
    def exit_code(self) -> int:
        """0 when every run finished, 1 when one failed (``bench run``'s exit code)."""
        return self.outcome.exit_code if self.outcome is not None else 0

    def states(self) -> list[str]:
        """Each run's state, as ``bench run --dry-run`` lists it: done, to run, or stale and why."""
        return [self._state(spec) for spec in self.specs]

    def _state(self, spec: RunSpec) -> str:
        from bench import identity
        from bench.accel import mismatch

        record = self.store.read(spec)
        if record is None or not record.ok:
            return "to run"
        if elsewhere := mismatch(spec, record):
            return f"to run: the record was {elsewhere}"
        if self.rerun == "always":
            return f"stale: {measured_afresh(spec, record)}"
        reason = identity.stale_reason(record, identity.of_run(self.registry, spec))
        if reason is None:
            return "done"
        return f"done, kept though stale: {reason}" if self.rerun == "never" else f"stale: {reason}"

    def run(
        self,
        data: str | Path | DataStore | None = None,
        *,
        offline: bool | None = None,
        progress: Progress | None = None,
    ) -> SuiteOutcome:
        """Execute the runs not finished yet and keep the outcome in ``self.outcome``. ``data``: the
        data folder or a :class:`bench.DataStore` (default: ``$BENCH_DATA_DIR``, else the cache);
        ``offline``: never download; ``progress`` (default: stderr) hears what runs, what was
        cleaned up and how each run ended."""
        from bench.data.store import DataError, DataStore
        from bench.executors import ExecutorError, Job
        from bench.progress import Progress

        if not isinstance(data, DataStore):
            try:
                data = DataStore(data, offline=offline)
            except DataError as exc:
                raise RunError(str(exc)) from None
        progress = progress or Progress()
        data_store = data
        name = self.suite.name
        progress.message(f"suite {name}: {len(self.specs)} runs -> {self.store.root} (executor {self.executor_name})")
        orphans = self.store.remove_orphans()
        if orphans:
            progress.message(f"removed {len(orphans)} unfinished record writes (*.tmp) left by a killed run")
        stale = [state for state in self.states() if state.startswith("stale")]
        if stale:
            reasons = ", ".join(sorted({state.partition(": ")[2] for state in stale}))
            progress.message(
                f"{len(stale)} finished runs are stale ({reasons}): running them again (--keep-stale keeps them)"
            )
        job = Job(name, self.specs, self.registry, self.store, data_store.data_dir, bool(data_store.offline), progress)
        try:
            self.outcome = outcome = self.executor.run(job)
        except ExecutorError as exc:  # the engine refused before running anything (no sbatch, no cluster)
            raise RunError(str(exc)) from None
        progress.message(
            f"suite {name}: {len(outcome.ran)} ran, {len(outcome.failed)} failed, "
            f"{len(outcome.skipped)} already done, {len(outcome.busy)} running elsewhere"
        )
        for label in outcome.failed:
            progress.message(f"  failed: {label} (traceback in its record; run again to retry)")
        for label in outcome.busy:
            progress.message(f"  left to another process, not finished yet: {label} (its exit code says how it ends)")
        return outcome


def measured_afresh(spec, record) -> str:
    """The store's rule under ``rerun="always"``: no record counts as done."""
    return "measured afresh (the caller counts no record as done)"


def run_suite(
    suite: str | Path | Suite,
    *,
    data: str | Path | DataStore | None = None,
    offline: bool | None = None,
    progress: Progress | None = None,
    **choices,
) -> SuiteRun:
    """Run ``suite`` (a suite file, or a :class:`bench.suite.Suite` already loaded) and return what
    ran (``.outcome``, ``.exit_code``, ``.store``): finished runs are skipped, so calling it again
    resumes. ``data``, ``offline`` and ``progress`` as :meth:`SuiteRun.run`; ``choices`` (the
    registry, results folder, executor, ``only``, ``rerun``, overrides) as :func:`plan_suite`."""
    planned = plan_suite(suite, **choices)
    planned.run(data, offline=offline, progress=progress)
    return planned


def plan_suite(
    suite: str | Path | Suite,
    *,
    registry: Registry | None = None,
    results_dir: str | Path = "results",
    executor: str | Executor | None = None,
    executor_options: Sequence[str] = (),
    only: Sequence[str] = (),
    rerun: str = "stale",
    budget_scale: float | None = None,
    seeds: list[int] | None = None,
    device: str | None = None,
    compile_models: bool | None = None,
) -> SuiteRun:
    """Choose and check everything a run of ``suite`` needs, and run nothing (``bench run
    --dry-run``: :meth:`SuiteRun.states` lists the runs; :meth:`SuiteRun.run` runs them).

    ``registry``: the plugins (default: every installed one). ``results_dir``: where records go.
    ``executor``: a registered executor's name or an :class:`bench.Executor` (default: the
    suite's, else ``local``); ``executor_options``: ``KEY=VALUE`` overrides of the suite's.
    ``only``: the runs whose label contains one of these texts. ``rerun``: one of :data:`RERUN`.
    The overrides (``budget_scale``, ``seeds``, ``device``, ``compile_models``) are applied and
    checked as :func:`bench.suite.load_suite` does, and only with a suite file.
    """
    from bench import identity
    from bench import registry as registries
    from bench.records import ResultStore
    from bench.suite import load_suite

    if rerun not in RERUN:
        raise RunError(f"rerun: expected one of {', '.join(RERUN)}, got {rerun!r}")
    registry = registry if registry is not None else registries.load()
    overrides: dict[str, Any] = {
        "budget_scale": budget_scale,
        "seeds": seeds,
        "device": device,
        "compile_models": compile_models,
    }
    if isinstance(suite, (str, Path)):
        where = "--device" if device is not None else f"{suite}: device"
        suite = load_suite(suite, registry, **overrides)
    elif any(value is not None for value in overrides.values()):
        raise RunError(f"{', '.join(k for k, v in overrides.items() if v is not None)}: only with a suite file")
    else:
        where = f"{suite.path}: device"
    _check_devices(suite, where)
    specs = _chosen(suite, only)
    executor_name, executor = _executor(suite, registry, executor, executor_options)
    stale = {"stale": identity.against(registry), "never": None, "always": measured_afresh}[rerun]
    store = ResultStore(results_dir, stale=stale)
    return SuiteRun(suite, specs, registry, store, executor_name, executor, rerun)


def _check_devices(suite: Suite, where: str) -> None:
    """Every device the runs ask for is here, before any runs (``where``: where it was asked for,
    the override or the suite's key)."""
    from bench.context import pick_device

    try:
        for device in sorted({spec.device for spec in suite.runs}):
            pick_device(device)
    except RuntimeError as exc:
        raise RunError(f"{where}: {exc}; use cpu, or leave the device on auto") from None


def _chosen(suite: Suite, only: Sequence[str]) -> list[RunSpec]:
    """The runs whose label contains one of ``only`` (all without it); none is an error: a typo
    must not pass for a finished suite."""
    if not only:
        return list(suite.runs)
    specs = [s for s in suite.runs if any(text in s.label for text in only)]
    if not specs:
        examples = "; ".join(s.label for s in suite.runs[:3])
        raise RunError(
            f"--only {' / '.join(map(repr, only))} matches none of the suite's "
            f"{len(suite.runs)} runs (labelled like: {examples})"
        )
    return specs


def _executor(suite: Suite, registry: Registry, given, options: Sequence[str]) -> tuple[str, Executor]:
    """(name, executor): the one given (an instance is used as it is) or named, else the suite's,
    else the default, its options checked and its engine present."""
    from bench import executors

    if given is not None and not isinstance(given, str):
        return getattr(given, "name", type(given).__name__), given
    chosen = suite.executor or {"name": executors.DEFAULT, "options": {}}
    name = given or chosen["name"]
    merged = dict(chosen["options"]) if name == chosen["name"] else {}
    try:
        merged.update(executors.parse_option(item) for item in options)
        spec, merged = executors.resolve(registry, name, merged, where="--executor: " if given else "")
        executors.check_engine(spec)
        return name, spec.make(merged)
    except executors.ExecutorError as exc:
        raise RunError(str(exc)) from None
