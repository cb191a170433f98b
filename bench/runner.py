"""Runs run specs: seed, device, protocol, record; skips finished runs, so a suite resumes.

A run that raises is recorded as failed with its traceback and the suite goes on, whatever it
raises (``SystemExit`` included): only a real Ctrl-C or SIGTERM (:class:`Interrupted`, raised by
:func:`stop_on_signals`) stops the suite. A run whose metrics are not finite fails; other
non-finite numbers in a record (a diverged loss curve) are written as null, so records are strict
JSON. Each spec is claimed with a lock before it runs, so several ``bench run`` processes can
share a results folder without running a spec twice. A finished record made by other code than
this process runs (see :mod:`bench.identity`) is run again.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import math
import signal
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bench import accel, identity, peakmem
from bench.artifacts import list_images
from bench.data.validate import check_split
from bench.interrupt import Interrupted
from bench.progress import Progress, format_seconds
from bench.protocols import PROTOCOLS
from bench.records import (
    MAX_TEXT,
    MAX_TRACEBACK,
    Record,
    ResultStore,
    RunError,
    code_version,
    environment,
    load_average,
    make_record,
)
from bench.registry import Registry
from bench.suite import RunSpec

if TYPE_CHECKING:  # torch is imported when a run starts, not for `bench --help`
    import torch


@dataclass
class RunEnv:
    """What the runner hands a protocol besides the spec and the plugins' specs."""

    device: torch.device
    switches: accel.Switches  # resolved for the device
    data: DatasetCache
    progress: Progress
    artifacts_dir: Path
    code: dict = field(default_factory=dict)  # the run's code identity (keys cached artifacts such as encoders)


@contextlib.contextmanager
def stop_on_signals():
    """Raise :class:`Interrupted` on SIGINT and SIGTERM while the block runs (main thread only:
    Python runs signal handlers there); the previous handlers come back after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise Interrupted(signum)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def signals_deferred():
    """A SIGINT or SIGTERM that arrives during the block is delivered after it, to the handler in
    place before: writing a record and telling the plugins of it is one step, not cut in between."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = {
        sig: signal.signal(sig, lambda signum, frame: caught.append(signum)) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if caught:
            signal.raise_signal(caught[0])


@contextlib.contextmanager
def signals_restored():
    """The SIGINT and SIGTERM handlers as they were before the block, whatever it set."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in before.items():
            if handler is not None:  # None: set outside Python, cannot be put back from here
                signal.signal(sig, handler)


class NonFiniteMetric(ValueError):
    """A protocol measured a NaN or infinite metric: the run has no result."""


class DatasetCache:
    """Loads each dataset split once per process (on the CPU) and remembers its files' checksums."""

    def __init__(self, data_store):
        self.store = data_store
        self._splits: dict[tuple[str, str], object] = {}
        self._files: dict[str, dict] = {}

    def load(self, dataset, split: str):
        key = (dataset.name, split)
        if key not in self._splits:
            before = set(self.store.used)
            data = dataset.load(split, self.store)
            check_split(dataset, split, data)  # a split unlike its declaration fails here, named
            self._splits[key] = data
            new = {p: v for p, v in self.store.used.items() if p not in before}
            self._files.setdefault(dataset.name, {}).update(new)
        return self._splits[key]

    def loaded(self) -> set[tuple[str, str]]:
        """(dataset name, split) of every split loaded so far."""
        return set(self._splits)

    def files(self, dataset_name: str) -> dict:
        return dict(self._files.get(dataset_name, {}))


@dataclass
class SuiteOutcome:
    ran: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # finished earlier
    busy: list[str] = field(default_factory=list)  # claimed by another process

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0


def run_specs(
    specs: list[RunSpec],
    registry: Registry,
    store: ResultStore,
    data_store,
    progress: Progress | None = None,
    isolate: bool = False,
) -> SuiteOutcome:
    """Run the specs not finished yet, one after another; ``isolate``: each in a child process
    (:mod:`bench.isolation`), so a method that ends the interpreter fails only its own run."""
    from bench.isolation import available, execute_isolated

    progress = progress or Progress()

    def run(spec, *args, **kwargs):
        if isolate and available(spec):
            return execute_isolated(execute, spec, *args, **kwargs)
        return execute(spec, *args, **kwargs)

    outcome = SuiteOutcome()
    cache = DatasetCache(data_store)
    durations: list[float] = []
    todo = [s for s in specs if not store.is_done(s)]
    for spec in specs:
        if spec not in todo:
            outcome.skipped.append(spec.label)
    if outcome.skipped:
        progress.message(f"{len(outcome.skipped)} of {len(specs)} runs already finished: skipped")
    left: list[RunSpec] = []  # claimed by another process when their turn came
    for i, spec in enumerate(todo, 1):
        eta = (sum(durations) / len(durations)) * (len(todo) - i + 1) if durations else None
        label = f"[{i}/{len(todo)}] {spec.label}"
        state, record = run(
            spec, registry, store, cache, progress, label, note=f"(suite ETA {format_seconds(eta)})" if eta else ""
        )
        if state == "busy":
            progress.message(f"{label}: running in another process, skipped for now")
            left.append(spec)
        else:
            _tally(outcome, durations, progress, spec, label, state, record)
            if record is not None and record.device_unusable:
                progress.message(
                    f"the device is unusable ({record.device_unusable}): stopping the suite; "
                    f"{len(todo) - i} runs not started (run the suite again in a new process)"
                )
                return outcome
    # A process that was killed left its runs unfinished and their locks free: run them here.
    for spec in left:
        label = f"[left by another process] {spec.label}"
        state, record = run(spec, registry, store, cache, progress, label)
        _tally(outcome, durations, progress, spec, label, state, record)
    return outcome


def _tally(outcome: SuiteOutcome, durations: list, progress: Progress, spec, label: str, state: str, record) -> None:
    """Count one run's outcome and say it."""
    if state == "busy":
        progress.message(f"{label}: still running in another process")
        outcome.busy.append(spec.label)
    elif state == "skipped":  # finished by another process since we looked
        outcome.skipped.append(spec.label)
    else:
        durations.append(record.wall_seconds)
        (outcome.ran if record.ok else outcome.failed).append(spec.label)
        progress.run_finished(label, summary(record) if record.ok else f"FAILED: {record.error.message}")


def execute(
    spec: RunSpec,
    registry: Registry,
    store: ResultStore,
    cache: DatasetCache,
    progress: Progress,
    label: str,
    note: str = "",
) -> tuple[str, Record | None]:
    """Claim one spec, run it unless it is finished, write its record and tell the plugins.

    The one code path every executor runs a spec through (in this process or on a worker).
    Returns ``("busy", None)`` when another process holds the spec's lock, ``("skipped", record)``
    when it finished since the caller looked, ``("ran", record)`` with the record just written.
    """
    lock = store.claim(spec)
    if lock is None:
        return "busy", None
    try:
        # Under the lock: finished since the caller looked (by another process), by this code. A
        # store with its own ``stale`` has judged that already (read once, identity once).
        done = store.finished(spec)
        if done is not None and (
            store.stale is not None or identity.stale_reason(done, identity.of_run(registry, spec)) is None
        ):
            return "skipped", done
        progress.run_started(label, note)
        record = run_one(spec, registry, cache, store, progress)
        with signals_deferred():
            store.write(spec, record)
            warnings = registry.call_run_finished(record.to_dict())
        for warning in warnings:
            progress.message(f"warning: {warning}")
    finally:
        lock.release()
    return "ran", record


def run_one(spec: RunSpec, registry: Registry, cache: DatasetCache, store: ResultStore, progress: Progress) -> Record:
    """Run one spec in isolation and return its record (never raises for a failing method). Its
    sections are gathered in a dict as the run goes and made a Record once, at the end."""
    import torch

    from bench.context import pick_device, seed_everything

    started = dt.datetime.now(dt.timezone.utc)
    load_at_start = load_average()
    t0 = time.perf_counter()
    sections: dict = {"status": "failed", "started_at": started.isoformat(timespec="seconds")}
    device = None
    try:
        method = registry.method(spec.method)
        dataset = registry.dataset(spec.dataset)
        sections["plugins"] = {
            "method": _plugin(registry, "method", spec.method),
            "dataset": _plugin(registry, "dataset", spec.dataset),
        }
        sections["code_identity"] = identity.of_run(registry, spec)
        # The method's reference numbers for this dataset travel with the record (reports use them).
        sections["published"] = [
            p.to_dict()
            for p in getattr(method, "published", ())
            if p.applies_to(spec.dataset, spec.protocol, spec.protocol_options)
        ]
        device = pick_device(spec.device)
        switches = spec.switches.resolve(device)
        sections["accel"] = accel.configure(device, switches)
        seed_everything(spec.seed)
        env = RunEnv(
            device=device,
            switches=switches,
            data=cache,
            progress=progress,
            artifacts_dir=store.path_for(spec).with_suffix(""),
            code=sections["code_identity"],
        )
        # signals_restored: a method that ignores Ctrl-C leaves it ignored for itself only.
        with signals_restored(), peakmem.measure(device) as memory:
            result = PROTOCOLS[spec.protocol].runner()(spec, method, dataset, env)
        sections.update(result)
        sections["memory"] = memory  # peak memory of the protocol's work (bench.peakmem says how)
        _check_finite(sections.get("metrics", {}))
        if diverged := _diverged(sections.get("details", {})):
            sections["diverged"] = diverged  # its metrics are finite, but they are not a trained model's
        sections["status"] = "ok"
    except Interrupted:
        raise
    except BaseException as exc:  # a method cannot end the suite: SystemExit & co. fail its run
        if isinstance(exc, KeyboardInterrupt) and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            raise  # outside stop_on_signals a KeyboardInterrupt may be Python's own Ctrl-C
        text = str(exc).splitlines()[0] if str(exc) else ""
        if not isinstance(exc, Exception):
            text = f"the run raised {type(exc).__name__}({text!r}), which cannot end the suite"
        sections["error"] = RunError(
            type(exc).__name__,
            _bounded(text, MAX_TEXT) or type(exc).__name__,
            _bounded(traceback.format_exc(), MAX_TRACEBACK),
        )
    finally:
        sections.setdefault("timings", {})["wall_seconds"] = round(time.perf_counter() - t0, 3)
        sections["ended_at"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        sections["code"] = code_version()
        sections["environment"] = environment(device or torch.device("cpu"))
        sections["environment"]["load_average"] = {"start": load_at_start, "end": load_average()}  # 1 min
        sections["data_files"] = cache.files(spec.dataset)
        pictures = list_images(store.path_for(spec).with_suffix(""))
        if pictures:
            sections["artifacts"] = pictures  # bench.save_image's pictures, for reports
        if device is not None and device.type == "cuda":
            _free_device_memory(sections)
    status, error = sections.pop("status"), sections.pop("error", None)
    return make_record(spec, status, finite_or_null(sections), error)


def _bounded(text: str, limit: int) -> str:
    """``text``, or its head and tail when longer than ``limit`` (what a record may hold)."""
    if len(text) <= limit:
        return text
    keep = (limit - 80) // 2  # 80: room for the line that says what was cut
    return f"{text[:keep]}\n... {len(text) - 2 * keep} characters left out ...\n{text[-keep:]}"


def _diverged(details: dict) -> str | None:
    """Where a logged loss (``details.curves``, a pre-training's ``details.<part>.curves``) first
    became NaN or infinite, in words; None when it never did."""
    parts = [("", details.get("curves"))] + [
        (f"{k} ", v.get("curves")) for k, v in details.items() if isinstance(v, dict)
    ]
    for prefix, curve in parts:
        for point in curve if isinstance(curve, list) else ():
            for key, value in point.items() if isinstance(point, dict) else ():
                if "loss" in key and isinstance(value, float) and not math.isfinite(value):
                    return f"{prefix}{key} is {value} at epoch {point.get('epoch', '?')}"
    return None


def _free_device_memory(sections: dict) -> None:
    """Free the run's device memory for the next run. A full collection costs ~1 s with torch
    loaded, which would be most of the host's cost per run on a CPU: GPU only. After a device-side
    assert the CUDA context is unusable and this raises: the run fails with that said, its record
    is still written, and the suite stops (every later run on this process would fail too)."""
    import torch

    try:
        gc.collect()
        torch.cuda.empty_cache()
    except Exception as exc:
        text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        sections["status"] = "failed"
        sections["device_unusable"] = f"freeing device memory after the run raised {type(exc).__name__}: {text}"
        sections.setdefault("error", RunError(type(exc).__name__, sections["device_unusable"], traceback.format_exc()))


def _check_finite(metrics: dict) -> None:
    for name, value in metrics.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise NonFiniteMetric(
                f"metric {name!r} is {value}, not a finite number: the run has no valid "
                f"result (did the method diverge?)"
            )


def finite_or_null(value):
    """The record with every NaN or infinity left in it (a diverged loss curve, a rate over zero
    seconds; a non-finite metric has failed the run already) as None: records are strict JSON,
    and null says "no number"."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite_or_null(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_null(v) for v in value]
    return value


def _plugin(registry: Registry, kind: str, name: str) -> dict:
    info = registry.plugin_of(kind, name)
    return {"plugin": info.name, "distribution": info.distribution, "version": info.version}


def summary(record: Record) -> str:
    """One line for a finished run: its metrics and wall time."""
    parts = [f"{k} {v:.2f}" for k, v in record.metrics.items()]
    parts.append(f"{record.wall_seconds:.1f} s")
    return "ok  " + "  ".join(parts)
