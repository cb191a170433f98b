"""Result records: one JSON file per run, written atomically, claimed with a cross-process lock.

Layout: ``<results>/<suite>/<dataset>/<method>/seed<seed>-<key>.json`` where ``key`` hashes
everything that determines the result (see ``RunSpec.identity``). A record with status "ok" means
the run is done; a "failed" record is kept as evidence and the run is tried again next time.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterator

from filelock import FileLock, Timeout

from bench.params import is_name

SCHEMA_VERSION = 1
#: write_json_atomic's temporary files end so; one left behind was being written when its
#: process was killed.
TMP_SUFFIX = ".tmp"


def write_json_atomic(path: Path, data: dict) -> None:
    """Write to a temporary file in the same folder, fsync, then rename over ``path``.

    Strict JSON: a NaN or infinity raises ValueError (bare ``NaN`` is not JSON, and other readers
    refuse it), so the caller decides what a non-finite number means (see ``bench.runner``).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=2, sort_keys=False, default=str, allow_nan=False)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class ResultStore:
    """``stale(spec, record)`` says why a finished record no longer counts as done (made by other
    code, see ``bench.identity``) or returns None; without it every "ok" record is done."""

    def __init__(self, root: str | Path, stale: Callable[[object, dict], str | None] | None = None):
        self.root = Path(root)
        self.stale = stale

    def path_for(self, spec) -> Path:
        # Defence in depth (suites are checked when they load): each part is one path component.
        if not all(map(is_name, (spec.suite, spec.dataset, spec.method))) or type(spec.seed) is not int:
            raise ValueError(f"run {spec.label}: suite, dataset and method must be safe names and the seed an integer")
        return self.root / spec.suite / spec.dataset / spec.method / f"seed{spec.seed}-{spec.key}.json"

    def read(self, spec) -> dict | None:
        path = self.path_for(spec)
        try:
            return json.loads(path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def is_done(self, spec) -> bool:
        record = self.read(spec)
        return record is not None and record.get("status") == "ok" and not (self.stale and self.stale(spec, record))

    def write(self, spec, record: dict) -> Path:
        path = self.path_for(spec)
        write_json_atomic(path, record)
        return path

    def claim(self, spec) -> FileLock | None:
        """Lock the spec for this process, or None if another process holds it. The OS releases
        the lock if the process dies, so a killed run never blocks the next attempt."""
        path = self.path_for(spec)
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(path.with_suffix(".lock")), timeout=0)
        try:
            lock.acquire()
        except Timeout:
            return None
        return lock

    def remove_orphans(self) -> list[Path]:
        """Delete the temporary files of record writes whose process was killed mid-write. A
        record is written under its spec's lock, so a temporary file whose lock is free is an
        orphan; one whose lock is held is being written right now and is left alone."""
        removed = []
        for tmp in self.root.rglob(f".*.json.*{TMP_SUFFIX}") if self.root.is_dir() else ():
            record = tmp.parent / tmp.name[1:].rsplit(".", 2)[0]  # .NAME.json.XXXX.tmp -> NAME.json
            lock = FileLock(str(record.with_suffix(".lock")), timeout=0)
            try:
                with lock:
                    tmp.unlink(missing_ok=True)
                    removed.append(tmp)
            except Timeout:
                continue
        return removed


#: A folder holding this file is a frozen reference set (e.g. ``results/reference/``): its records
#: are read when the folder itself is named, never as part of the results folder around it.
REFERENCE_MARKER = "REFERENCE.md"


def iter_records(root: str | Path) -> Iterator[tuple[Path, dict]]:
    """Every readable record under ``root`` (a results folder or a single JSON file)."""
    root = Path(root)
    paths = [root] if root.is_file() else sorted(root.rglob("*.json"))
    frozen = [m.parent for m in root.rglob(REFERENCE_MARKER) if m.parent != root] if root.is_dir() else []
    for path in paths:
        if any(folder in path.parents for folder in frozen):
            continue
        try:
            record = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if isinstance(record, dict) and "schema_version" in record and "spec" in record:
            yield path, record


# -- environment ------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def code_version() -> dict:
    """bench's version and, when run from a git checkout, its commit and whether it was dirty."""
    import bench

    info = {"bench": bench.__version__}
    here = Path(bench.__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5
        )
        if commit.returncode == 0:
            info["git_commit"] = commit.stdout.strip()
            status = subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no"],
                cwd=here, capture_output=True, text=True, timeout=5,
            )
            info["git_dirty"] = bool(status.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        pass
    return info


def environment(device) -> dict:
    """Libraries, interpreter, host and device: what a number depends on besides the code."""
    import numpy
    import pluggy
    import torch
    import torchmetrics

    env = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": _cpu_name(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "libraries": {
            "torch": torch.__version__, "torchmetrics": torchmetrics.__version__,
            "numpy": numpy.__version__, "pluggy": pluggy.__version__,
        },
        "device": {"type": device.type, "name": _device_name(device)},
    }
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        env["device"].update({
            "cuda": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version(),
            "capability": f"{props.major}.{props.minor}",
            "memory_gib": round(props.total_memory / 2**30, 1),
            "driver": _nvidia_driver(),
        })
    return env


def _device_name(device) -> str:
    import torch

    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return "Apple MPS"
    return _cpu_name()


@lru_cache(maxsize=1)
def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _nvidia_driver() -> str | None:
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=10,
        )
        return out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else None
    except (OSError, subprocess.SubprocessError):
        return None
