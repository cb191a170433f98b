"""Runs run specs: seed, device, protocol, record; skips finished runs, so a suite resumes.

A run that raises is recorded as failed with its traceback and the suite goes on. Each spec is
claimed with a lock before it runs, so several ``bench run`` processes can share a results
folder without running a spec twice.
"""

from __future__ import annotations

import datetime as dt
import gc
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from bench import accel
from bench.artifacts import list_images
from bench.progress import Progress, format_seconds
from bench.protocols import PROTOCOLS
from bench.records import SCHEMA_VERSION, ResultStore, code_version, environment
from bench.registry import Registry
from bench.suite import RunSpec


@dataclass
class RunEnv:
    """What the runner hands a protocol besides the spec and the plugins' specs."""

    device: object  # torch.device
    precision: str
    channels_last: bool
    compile: bool
    data: "DatasetCache"
    progress: Progress
    artifacts_dir: Path


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
            self._splits[key] = dataset.load(split, self.store)
            new = {p: v for p, v in self.store.used.items() if p not in before}
            self._files.setdefault(dataset.name, {}).update(new)
        return self._splits[key]

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
) -> SuiteOutcome:
    progress = progress or Progress()
    outcome = SuiteOutcome()
    cache = DatasetCache(data_store)
    durations: list[float] = []
    todo = [s for s in specs if not store.is_done(s)]
    for spec in specs:
        if spec not in todo:
            outcome.skipped.append(spec.label)
    if outcome.skipped:
        progress.message(f"{len(outcome.skipped)} of {len(specs)} runs already finished: skipped")
    for i, spec in enumerate(todo, 1):
        eta = (sum(durations) / len(durations)) * (len(todo) - i + 1) if durations else None
        label = f"[{i}/{len(todo)}] {spec.label}"
        state, record = execute(spec, registry, store, cache, progress, label,
                                note=f"(suite ETA {format_seconds(eta)})" if eta else "")
        if state == "busy":
            progress.message(f"{label}: running in another process, skipped")
            outcome.busy.append(spec.label)
        elif state == "skipped":  # finished by another process since we looked
            outcome.skipped.append(spec.label)
        elif record["status"] == "ok":
            durations.append(record["timings"]["wall_seconds"])
            outcome.ran.append(spec.label)
            progress.run_finished(label, summary(record))
        else:
            durations.append(record["timings"]["wall_seconds"])
            outcome.failed.append(spec.label)
            progress.run_finished(label, f"FAILED: {record['error']['message']}")
    return outcome


def execute(
    spec: RunSpec, registry: Registry, store: ResultStore, cache: DatasetCache, progress: Progress,
    label: str, note: str = "",
) -> tuple[str, dict | None]:
    """Claim one spec, run it unless it is finished, write its record and tell the plugins.

    The one code path every executor runs a spec through (in this process or on a worker).
    Returns ``("busy", None)`` when another process holds the spec's lock, ``("skipped", record)``
    when it finished since the caller looked, ``("ran", record)`` with the record just written.
    """
    lock = store.claim(spec)
    if lock is None:
        return "busy", None
    try:
        if store.is_done(spec):
            return "skipped", store.read(spec)
        progress.run_started(label, note)
        record = run_one(spec, registry, cache, store, progress)
        store.write(spec, record)
        for warning in registry.call_run_finished(record):
            progress.message(f"warning: {warning}")
    finally:
        lock.release()
    return "ran", record


def run_one(spec: RunSpec, registry: Registry, cache: DatasetCache, store: ResultStore, progress: Progress) -> dict:
    """Run one spec in isolation and return its record (never raises for a failing method)."""
    import torch

    from bench.context import pick_device, seed_everything

    started = dt.datetime.now(dt.timezone.utc)
    t0 = time.perf_counter()
    record: dict = {
        "schema_version": SCHEMA_VERSION,
        "key": spec.key,
        "spec": spec.to_dict(),
        "status": "failed",
        "started_at": started.isoformat(timespec="seconds"),
    }
    device = None
    try:
        method = registry.method(spec.method)
        dataset = registry.dataset(spec.dataset)
        record["plugins"] = {
            "method": _plugin(registry, "method", spec.method),
            "dataset": _plugin(registry, "dataset", spec.dataset),
        }
        # The method's reference numbers for this dataset travel with the record (reports use them).
        record["published"] = [p.to_dict() for p in getattr(method, "published", ())
                               if p.dataset == spec.dataset and p.protocol in ("", spec.protocol)]
        device = pick_device(spec.device)
        precision = spec.precision if spec.precision != "auto" else ("bf16" if device.type == "cuda" else "fp32")
        record["accel"] = {"precision": precision, **accel.configure(device, spec.channels_last), "compile": spec.compile}
        seed_everything(spec.seed)
        env = RunEnv(
            device=device, precision=precision, channels_last=record["accel"]["channels_last"],
            compile=spec.compile,
            data=cache, progress=progress,
            artifacts_dir=store.path_for(spec).with_suffix(""),
        )
        result = PROTOCOLS[spec.protocol].runner()(spec, method, dataset, env)
        record.update(result)
        record["precision"] = precision
        record["status"] = "ok"
    except Exception as exc:
        record["error"] = {
            "type": type(exc).__name__,
            "message": str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
            "traceback": traceback.format_exc(),
        }
    finally:
        record.setdefault("timings", {})["wall_seconds"] = round(time.perf_counter() - t0, 3)
        record["ended_at"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        record["code"] = code_version()
        record["environment"] = environment(device or torch.device("cpu"))
        record["data_files"] = cache.files(spec.dataset)
        pictures = list_images(store.path_for(spec).with_suffix(""))
        if pictures:
            record["artifacts"] = pictures  # bench.save_image's pictures, for reports
        if device is not None and device.type == "cuda":
            # Free the run's device memory for the next one. A full collection costs ~1 s with
            # torch loaded, which would be most of the host's cost per run on a CPU: GPU only.
            gc.collect()
            torch.cuda.empty_cache()
    return record


def _plugin(registry: Registry, kind: str, name: str) -> dict:
    info = registry.plugin_of(kind, name)
    return {"plugin": info.name, "distribution": info.distribution, "version": info.version}


def summary(record: dict) -> str:
    """One line for a finished run: its metrics and wall time."""
    parts = [f"{k} {v:.2f}" for k, v in record.get("metrics", {}).items() if isinstance(v, (int, float))]
    parts.append(f"{record['timings']['wall_seconds']:.1f} s")
    return "ok  " + "  ".join(parts)
