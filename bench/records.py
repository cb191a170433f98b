"""Result records: one JSON file per run, written atomically, claimed with a cross-process lock.

Layout: ``<results>/<suite>/<dataset>/<method>/seed<seed>-<key>.json`` where ``key`` hashes
everything that determines the result (see ``RunSpec.identity``). A record with status "ok" means
the run is done; a "failed" record is kept as evidence and the run is tried again next time.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import hashlib
import json
import math
import os
import platform
import re
import reprlib
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from bench.params import is_name
from bench.paths import absolute, as_if_created, first_link, refuse_links

#: :data:`RECORD` below states the layout. Records of any version up to this one are read and
#: brought up to it by :func:`upgrade`; a newer one is refused (written by a newer bench).
#: 2: ``code_identity`` names the modules of each part, hashed after parsing (``bench.identity``).
#: 3: the precision a run used is ``accel.precision`` alone (no top-level ``precision``).
SCHEMA_VERSION = 3
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
        as_if_created(tmp)
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=2, sort_keys=False, default=str, allow_nan=False)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.filename is None:
            exc.filename = str(path)  # a full disk fails a write() that names no file: name the record
        raise


# -- a record's key is the hash of its spec ----------------------------------------------------------

#: The spec fields a run's key hashes (:meth:`bench.suite.RunSpec.identity`): what determines the
#: result. How it ran (device, precision, budget_scale already applied) is not among them.
IDENTITY_FIELDS = ("suite", "dataset", "method", "protocol", "protocol_options", "params", "budget", "seed")


def run_key(identity: dict) -> str:
    """The key of a run whose identity is ``identity``: it names the record's file."""
    text = json.dumps(identity, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def identity_of(spec: dict) -> dict:
    """What a run's key hashes, from its spec: the identity fields, less the late-declared options
    and params (``late_options``, ``late_params``: name -> default) left at their defaults, so that
    declaring a new option or param whose default reproduces the old behaviour moves no key."""
    # protocol_options is optional in a record (the schema fills in {}): absent is {}, as it is read
    identity: dict[str, Any] = {
        name: spec.get(name, {} if name == "protocol_options" else None) for name in IDENTITY_FIELDS
    }
    for name, late in (("protocol_options", spec.get("late_options")), ("params", spec.get("late_params"))):
        if isinstance(late, dict) and isinstance(identity[name], dict):
            identity[name] = {k: v for k, v in identity[name].items() if k not in late or v != late[k]}
    return identity


def key_of(spec: dict) -> str:
    """The key of the run a record's ``spec`` describes."""
    return run_key(identity_of(spec))


def check_key(record: Record) -> None:
    """InvalidRecord unless the record's key is the hash of its spec: a spec edited under its key
    (epochs, seed, lr changed by hand) is no longer evidence of the run the key names."""
    expected = key_of(record.spec)
    if record.key != expected:
        raise InvalidRecord(
            f"its key {_show(record.key)} is not the hash of its spec ({expected}): "
            "the spec was changed after the run; not trusted"
        )


class ResultStore:
    """``stale(spec, record)`` says why a finished record no longer counts as done (made by other
    code, see ``bench.identity``) or returns None; without it every "ok" record is done."""

    def __init__(self, root: str | Path, stale: Callable[[object, Record], str | None] | None = None):
        self.root = absolute(root)  # once: a method's os.chdir cannot move later records
        self.stale = stale
        self._warned: set[Path] = set()  # records whose key is not their spec's, said once

    def path_for(self, spec) -> Path:
        # Defence in depth (suites are checked when they load): each part is one path component.
        if not all(map(is_name, (spec.suite, spec.dataset, spec.method))) or type(spec.seed) is not int:
            raise ValueError(f"run {spec.label}: suite, dataset and method must be safe names and the seed an integer")
        path = self.root / spec.suite / spec.dataset / spec.method / f"seed{spec.seed}-{spec.key}.json"
        for linked in (path, path.with_suffix(".lock"), path.with_suffix("")):  # record, lock, artifacts
            refuse_links(self.root, linked)
        return path

    def read(self, spec) -> Record | None:
        """The spec's record, or None when there is none or it is not a valid record
        (truncated, not in the schema): such a run is not done and runs again."""
        path = self.path_for(spec)
        try:
            record = check_record(_load_json(path))
            check_key(record)
        except InvalidRecord as exc:
            if path.is_file() and "not trusted" in str(exc) and path not in self._warned:
                self._warned.add(path)
                print(f"warning: {path}: {exc}: it runs again", file=sys.stderr)
            return None
        return record

    def finished(self, spec) -> Record | None:
        """The spec's record when it is finished ("ok", not stale, and run on the device kind and
        with the switches the spec asks for here: ``bench.accel.mismatch``), else None."""
        from bench.accel import mismatch

        record = self.read(spec)
        if record is None or not record.ok or (self.stale and self.stale(spec, record)):
            return None
        return record if mismatch(spec, record) is None else None

    def is_done(self, spec) -> bool:
        return self.finished(spec) is not None

    def write(self, spec, record: Record) -> Path:
        path = self.path_for(spec)
        supersede(path)
        write_json_atomic(path, record.to_dict())
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


#: The folder beside a run's record where the finished records it replaced are kept (its history).
SUPERSEDED = "superseded"


def supersede(path: Path) -> Path | None:
    """Keep the finished record at ``path`` (about to be replaced by a re-run: it was stale) as
    ``superseded/<name>@<when it ended>.json`` beside it, with its code identity and numbers, for
    ``bench history``; a failed or unreadable record is not history and is replaced. Returns where
    it went, or None."""
    try:
        old = read_record(path)
    except InvalidRecord:
        return None
    if not old.ok:
        return None
    when = "".join(c for c in str(old.ended_at or old.started_at or "") if c.isalnum()) or "unknown"
    kept = path.parent / SUPERSEDED / f"{path.stem}@{when[:15]}.json"
    kept.parent.mkdir(exist_ok=True)
    os.replace(path, kept)
    return kept


def is_superseded(path: Path) -> bool:
    """Whether ``path`` is a record kept in a run's history (:func:`supersede`), not a current one."""
    return path.parent.name == SUPERSEDED and "@" in path.stem


#: A folder holding this file is a frozen reference set (e.g. ``results/reference/``): its records
#: are read when the folder itself is named, never as part of the results folder around it.
REFERENCE_MARKER = "REFERENCE.md"


@dataclass(frozen=True)
class Unreadable:
    """A file where a record should be that is not one: what is wrong with it, in one line."""

    path: Path
    why: str

    def __str__(self) -> str:
        return f"{self.path}: {self.why}"


def iter_records(
    root: str | Path, unreadable: list[Unreadable] | None = None, history: bool = False
) -> Iterator[tuple[Path, Record]]:
    """Every record under ``root`` (a results folder or a single JSON file), checked against the
    schema and with its optional sections filled in (see :func:`check_record`); with ``history``,
    the superseded records too (:func:`supersede`).

    A file that is not a valid record (truncated, empty, a list, a wrong type) is never skipped
    silently: it is added to ``unreadable`` or, when no list is given, warned about on stderr, one
    line each. JSON files inside a record's artifact folder (``seed0-<key>/...``) are not records.
    """
    root = Path(root)
    paths = [root] if root.is_file() else sorted(root.rglob("*.json"))
    frozen = [m.parent for m in root.rglob(REFERENCE_MARKER) if m.parent != root] if root.is_dir() else []
    for path in paths:
        if any(folder in path.parents for folder in frozen) or _in_artifacts(path, root):
            continue
        if is_superseded(path) and not history and path != root:
            continue
        try:
            if first_link(root, path) is not None:  # its target may be anywhere: not the results'
                raise InvalidRecord(f"reached through the symbolic link {first_link(root, path)}: not read")
            record = check_record(_load_json(path))
            check_key(record)
        except InvalidRecord as exc:
            bad = Unreadable(path, str(exc))
            if unreadable is None:
                print(f"warning: unreadable record {bad}", file=sys.stderr)
            else:
                unreadable.append(bad)
            continue
        yield path, record


def read_record(path: Path) -> Record:
    """The record in ``path``, checked and filled in (:func:`check_record`); InvalidRecord says
    what is wrong, in one line naming the file and the field."""
    try:
        return check_record(_load_json(path))
    except InvalidRecord as exc:
        raise InvalidRecord(f"{path}: {exc}") from None


def _load_json(path: Path):
    try:
        size = path.stat().st_size
        if size > MAX_RECORD_BYTES:  # judged before reading: a huge file never reaches memory
            raise InvalidRecord(
                f"{size / 2**20:.0f} MiB, more than a record may hold ({MAX_RECORD_BYTES // 2**20} MiB)"
            )
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidRecord("no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidRecord(f"cannot be read ({exc})") from None
    if not text.strip():
        raise InvalidRecord("empty file")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidRecord(f"not valid JSON, truncated? ({exc})") from None
    except (ValueError, RecursionError) as exc:  # an int of 5000 digits; 100,000 nested lists
        raise InvalidRecord(f"not valid JSON ({_short(str(exc))})") from None
    return data


#: No record bench writes is nested nearly this deep; deeper ones would overflow the report's
#: recursive JSON encoder.
MAX_DEPTH = 64


# -- bounds: what a record read from an untrusted folder may hold ----------------------------------

#: bench's own records are well under these (the largest reference record is 18 KB, its longest
#: text 202 characters, its longest list 50 points); a record past one was not written by bench,
#: and reading it whole would let one file exhaust the memory of `bench report`, `table` or
#: `compare`, or name a file the OS refuses.
MAX_RECORD_BYTES = 32 * 2**20
MAX_TEXT = 10_000  # characters of any string (a name, a params value, a caption)
MAX_NAME = 100  # characters of spec.suite, dataset, method and protocol: path components
MAX_ITEMS = 100_000  # entries of any list (curve points) or object
#: A failed run's traceback may be long (a deep recursion); the runner keeps its head and tail.
MAX_TRACEBACK = 200_000
_LONG_TEXT: dict[tuple, int] = {("error", "traceback"): MAX_TRACEBACK}


def check_bounds(data: object) -> None:
    """Raise InvalidRecord naming the first place where ``data`` holds more than a record may:
    a text, list or object past its bound, a spec name longer than a path component, a seed
    beyond 64 bits. Run before the schema, so no check below walks a huge value."""
    todo: list[tuple[object, tuple]] = [(data, ())]
    while todo:
        node, where = todo.pop()
        if isinstance(node, str):
            limit = _LONG_TEXT.get(where, MAX_TEXT)
            if len(node) > limit:
                raise InvalidRecord(f"{_where(where)}: {len(node)} characters, more than {limit}")
        elif isinstance(node, (dict, list)):
            if len(node) > MAX_ITEMS:
                raise InvalidRecord(f"{_where(where)}: {len(node)} entries, more than {MAX_ITEMS}")
            items = node.items() if isinstance(node, dict) else enumerate(node)
            for name, child in items:
                if isinstance(name, str) and len(name) > MAX_TEXT:
                    raise InvalidRecord(f"{_where(where)}: a key of {len(name)} characters, more than {MAX_TEXT}")
                todo.append((child, (*where, name)))
    spec = data.get("spec") if isinstance(data, dict) else None
    if isinstance(spec, dict):
        for name in ("suite", "dataset", "method", "protocol"):
            if isinstance(spec.get(name), str) and len(spec[name]) > MAX_NAME:
                raise InvalidRecord(
                    f"spec.{name}: {len(spec[name])} characters, more than a name may have ({MAX_NAME})"
                )
        seed = spec.get("seed")
        if isinstance(seed, int) and not -(2**63) <= seed < 2**63:
            raise InvalidRecord("spec.seed: beyond a 64-bit integer")


def _where(path: tuple) -> str:
    text = ".".join(str(p) for p in path) or "the record"
    return _short(text)


def _depth(data) -> int:
    deepest, todo = 0, [(data, 1)]
    while todo:
        node, depth = todo.pop()
        if isinstance(node, (dict, list)):
            deepest = max(deepest, depth)
            if depth > MAX_DEPTH:
                break
            todo += [(child, depth + 1) for child in (node.values() if isinstance(node, dict) else node)]
    return deepest


#: The name :meth:`ResultStore.path_for` gives a run's record, lock and artifact folder.
RUN_STEM = re.compile(r"seed-?\d+-[0-9a-f]{16}")


def _in_artifacts(path: Path, root: Path) -> bool:
    """Whether ``path`` lies in the artifact folder of a record (``x/`` beside ``x.json``, or a
    run's ``seed0-<key>/`` beside its lock while the run is going, or after it failed before its
    record was written; a stray ``.lock`` beside another folder hides nothing)."""
    for folder in path.parents:
        if folder == root or root not in folder.parents:
            return False
        if (folder.parent / f"{folder.name}.json").is_file():
            return True
        if RUN_STEM.fullmatch(folder.name) and (folder.parent / f"{folder.name}.lock").is_file():
            return True
    return False


# -- the record schema ----------------------------------------------------------------------------


class InvalidRecord(ValueError):
    """What is wrong with a record, in one line: ``spec.seed: expected an integer, got '/x'``."""


#: A check takes a value and where it sits in the record (``spec.seed``) and returns the value in
#: the schema, optional parts filled in, or raises InvalidRecord.
Check = Callable[[Any, str], Any]  # (value, where) -> the value, checked
_NO_DEFAULT = object()


_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 60
_REPR.maxlevel = 2


def _show(value) -> str:
    """The value, short: a message never echoes more than a few dozen characters of a record."""
    try:
        return _short(_REPR.repr(value))
    except ValueError:  # an int of more digits than Python prints
        return f"a {type(value).__name__}"


def _short(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."


def _at(where: str, name: object) -> str:
    return f"{where}.{name}" if where else str(name)


def _kind(test: Callable[[object], bool], expected: str) -> Check:
    def check(value, where):
        if not test(value):
            raise InvalidRecord(f"{where}: expected {expected}, got {_show(value)}")
        return value

    return check


def is_number(v) -> bool:
    """A finite int or float (not a bool), one that a float holds: 10**400 is not one."""
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        return False
    try:
        return math.isfinite(v)
    except OverflowError:
        return False


anything: Check = lambda value, where: value  # noqa: E731 - free-form (a plugin's params, the code)
text = _kind(lambda v: isinstance(v, str), "a string")
nonempty_text = _kind(lambda v: isinstance(v, str) and v != "", "a non-empty string")
integer = _kind(lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer")
boolean = _kind(lambda v: isinstance(v, bool), "true or false")
_finite = _kind(is_number, "a finite number")


def number(value, where) -> float:
    """A finite number, read as a float: statistics and numpy get floats, never a 2**70 int."""
    return float(_finite(value, where))


def nullable(check: Check) -> Check:
    return lambda value, where: None if value is None else check(value, where)


def one_of(*choices) -> Check:
    return _kind(lambda v: isinstance(v, (str, int)) and v in choices, " or ".join(map(repr, choices)))


def list_of(item: Check) -> Check:
    def check(value, where):
        if not isinstance(value, list):
            raise InvalidRecord(f"{where}: expected a list, got {_show(value)}")
        return [item(v, f"{where}[{i}]") for i, v in enumerate(value)]

    return check


def map_of(item: Check) -> Check:
    def check(value, where):
        if not isinstance(value, dict):
            raise InvalidRecord(f"{where or 'the record'}: expected a JSON object, got {_show(value)}")
        return {k: item(v, _at(where, k)) for k, v in value.items()}

    return check


def fields(
    required: dict[str, Check] | None = None,
    optional: dict[str, Check] | None = None,
    defaults: dict[str, object] | None = None,
) -> Check:
    """An object with these fields; an absent optional field with a default gets it (checked as
    if it were there, so nested defaults fill in too). Unknown fields are kept as they are."""
    required, optional, defaults = required or {}, optional or {}, defaults or {}

    def check(value, where):
        if not isinstance(value, dict):
            raise InvalidRecord(f"{where or 'the record'}: expected a JSON object, got {_show(value)}")
        out = dict(value)
        for name, item in required.items():
            if name not in value:
                raise InvalidRecord(f"{_at(where, name)}: missing")
            out[name] = item(value[name], _at(where, name))
        for name, item in optional.items():
            if name in value:
                out[name] = item(value[name], _at(where, name))
            elif defaults.get(name, _NO_DEFAULT) is not _NO_DEFAULT:
                out[name] = item(copy.deepcopy(defaults[name]), _at(where, name))
        return out

    return check


def _curves(value, where):
    """By epoch (a list of points) or, for restoration, by image (image -> list of points)."""
    return (map_of(list_of(json_object)) if isinstance(value, dict) else list_of(json_object))(value, where)


json_object = map_of(anything)
SPEC = fields(
    required={
        "suite": nonempty_text,
        "dataset": nonempty_text,
        "method": nonempty_text,
        "protocol": nonempty_text,
        "seed": integer,
        "params": json_object,
        "budget": json_object,
    },
    optional={"protocol_options": json_object, "budget_scale": number, "device": text, "precision": text},
    defaults={"protocol_options": {}},
)
METRIC_INFO = fields(
    optional={"higher_is_better": boolean, "kind": text, "unit": nullable(text), "convention": text},
    defaults={"higher_is_better": True, "kind": "quality", "convention": ""},
)
THROUGHPUT = fields(
    optional={
        "items_per_s": nullable(number),
        "samples_items_per_s": list_of(number),
        "samples_s": list_of(number),
        "repeats": integer,
        "items_per_repeat": lambda v, where: (list_of(integer) if isinstance(v, list) else integer)(v, where),
        "median_s": number,
        "min_s": number,
        "max_s": number,
        "batch_size": integer,
        "precision": text,
        "label": text,
        "unit": text,
    }
)  # a method's own rate says what it counts
PUBLISHED = fields(
    required={"metric": nonempty_text, "value": number},
    optional={k: text for k in ("dataset", "protocol", "setting", "source", "note", "weights")},
    defaults={k: "" for k in ("dataset", "protocol", "setting", "source", "note", "weights")},
)
IMAGE_SCORES = fields(
    required={"image": nonempty_text, "psnr": number, "ssim": number}, optional={"input_psnr": number}
)
DETAILS = fields(
    optional={
        "setting": text,
        "per_image": list_of(IMAGE_SCORES),
        "curves": _curves,
        "features": fields(optional={"chosen": nullable(json_object)}, defaults={"chosen": None}),
        "budget_vs_full": map_of(json_object),
    },
    defaults={"setting": "", "per_image": [], "features": {}, "budget_vs_full": {}},
)
RECORD = fields(
    required={
        "schema_version": integer,  # checked against what this bench reads before anything else
        "key": nonempty_text,
        "spec": SPEC,
        "status": one_of("ok", "failed"),
    },
    optional={
        "metrics": map_of(number),
        "metric_info": map_of(METRIC_INFO),
        "throughput": map_of(THROUGHPUT),
        "timings": fields(optional={"wall_seconds": number, "train_seconds": number}),
        "published": nullable(list_of(PUBLISHED)),  # None: written before records carried them
        "error": fields(
            optional={"type": text, "message": text, "traceback": text},
            defaults={"type": "error", "message": "", "traceback": ""},
        ),
        "environment": fields(
            optional={"device": fields(optional={"name": text, "type": text}, defaults={"name": "?"})},
            defaults={"device": {}},
        ),
        "details": DETAILS,
        "artifacts": list_of(
            fields(
                required={"path": nonempty_text},
                optional={"kind": nonempty_text, "caption": text},
                defaults={"kind": "images", "caption": ""},
            )
        ),
        "started_at": nullable(text),
        "ended_at": nullable(text),
        "data_files": map_of(fields(optional={"sha256": nullable(text), "md5": nullable(text)})),
        "code": json_object,
        "plugins": json_object,
        "accel": fields(  # null: a switch the device did not report (a mocked or failed one)
            optional={
                "precision": nullable(text),
                **{k: nullable(boolean) for k in ("channels_last", "compile", "tf32", "cudnn_benchmark")},
            }
        ),
        "code_identity": json_object,  # part -> what made it (bench.identity)
        "memory": nullable(json_object),  # the protocol's peak memory (bench.peakmem)
        "diverged": nullable(text),
        "device_unusable": nullable(text),
    },
    defaults={
        "metrics": {},
        "metric_info": {},
        "throughput": {},
        "timings": {},
        "environment": {},
        "details": {},
        "artifacts": [],
        "ended_at": "",
        "data_files": {},
        "code": {},
        "plugins": {},
        "accel": {},
    },
)


@dataclass(frozen=True, slots=True)
class RunError:
    """Why a run failed: the exception's type, its first line and the traceback."""

    type: str = "error"
    message: str = ""
    traceback: str = ""


@dataclass(frozen=True, slots=True)
class Record:
    """One run's record as code reads it: what :data:`RECORD` checks, every optional section
    present (an absent ``metrics`` is ``{}``). Made by :func:`make_record` (a run) or
    :func:`check_record` (a file); :meth:`to_dict` is the JSON written, under the same field names.
    The sections inside (metrics, throughput, details ...) stay checked JSON objects: protocols
    and plugins add their own entries to them."""

    key: str
    spec: dict
    status: str  # "ok" or "failed"
    schema_version: int = SCHEMA_VERSION
    started_at: str | None = None
    ended_at: str | None = ""
    plugins: dict = field(default_factory=dict)
    code_identity: dict | None = None
    published: list | None = None  # None: written before records carried them
    accel: dict = field(default_factory=dict)  # how it ran: precision, channels_last, compile ...
    metrics: dict[str, float] = field(default_factory=dict)
    metric_info: dict[str, dict] = field(default_factory=dict)
    throughput: dict[str, dict] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    details: dict = field(default_factory=dict)
    memory: dict | None = None
    diverged: str | None = None  # where a logged loss became NaN or infinite
    device_unusable: str | None = None  # why the device cannot run more (the suite stops)
    error: RunError | None = None  # set when status is "failed"
    code: dict = field(default_factory=dict)
    environment: dict = field(default_factory=dict)
    data_files: dict = field(default_factory=dict)
    artifacts: list[dict] = field(default_factory=list)
    #: Top-level fields this bench does not know (written by a plugin or a later bench): kept.
    extra: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def failure(self) -> RunError:
        """Why the run failed (an empty RunError for an "ok" record)."""
        return self.error or RunError()

    @property
    def precision(self) -> str | None:
        """The precision the run used (``accel.precision``; the spec says what was asked)."""
        return self.accel.get("precision")

    @property
    def wall_seconds(self) -> float:
        return self.timings.get("wall_seconds", 0.0)

    def to_dict(self) -> dict:
        """The record as JSON writes it (fields left at None are not written)."""
        out = {}
        for name in _FIELDS:
            value = getattr(self, name)
            if value is None and name in _OMITTED_WHEN_NONE:
                continue
            out[name] = (
                {"type": value.type, "message": value.message, "traceback": value.traceback}
                if name == "error"
                else value
            )
        return {**out, **self.extra}

    @classmethod
    def from_dict(cls, data: dict) -> Record:
        """A checked record (:data:`RECORD`, current version) as a Record; use :func:`check_record`."""
        known = {name: data[name] for name in _FIELDS if name in data}
        if "error" in known:
            known["error"] = RunError(**{k: known["error"][k] for k in ("type", "message", "traceback")})
        elif data["status"] == "failed":
            known["error"] = RunError()
        return cls(**known, extra={k: v for k, v in data.items() if k not in _FIELDS})


_FIELDS = tuple(f.name for f in dataclasses.fields(Record) if f.name != "extra")
_OMITTED_WHEN_NONE = {"code_identity", "published", "memory", "diverged", "device_unusable", "error"}


def make_record(spec, status: str, sections: dict, error: RunError | None = None) -> Record:
    """The record of one run of ``spec`` (a :class:`bench.suite.RunSpec`): the one constructor,
    for the runner, a failed worker and a dead process alike. ``sections`` are the record's other
    fields (the protocol's result, the environment ...); a name this bench does not know is kept
    in ``extra``. ``ended_at`` and ``code`` are now's unless given. The schema fills in its
    defaults, so the record made is the record read back; one the schema refuses (a protocol's
    bad section) is made as given, and the reader refuses it: the run counts as not done."""
    sections = {k: v for k, v in sections.items() if k not in ("schema_version", "key", "spec", "status", "error")}
    sections.setdefault("ended_at", dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))
    sections.setdefault("code", code_version())
    record = Record(
        key=spec.key,
        spec=spec.to_dict(),
        status=status,
        error=error,
        **{k: v for k, v in sections.items() if k in _FIELDS},
        extra={k: v for k, v in sections.items() if k not in _FIELDS},
    )
    try:
        return Record.from_dict(RECORD(record.to_dict(), ""))
    except InvalidRecord:
        return record


def check_record(data: object) -> Record:
    """``data`` (a record's JSON) as a :class:`Record` of the current schema: the one way records
    are read. Bounds first (no check walks a huge value), then the version (a newer one is refused),
    then :func:`upgrade` brings an older one up to this version, then :data:`RECORD` checks it.
    Raises InvalidRecord naming the first field that is wrong."""
    if not isinstance(data, dict):
        raise InvalidRecord(f"the record: expected a JSON object, got {_show(data)}")
    if "schema_version" not in data:
        raise InvalidRecord("not a result record (no schema_version)")
    if _depth(data) > MAX_DEPTH:
        raise InvalidRecord(f"nested deeper than {MAX_DEPTH} levels")
    check_bounds(data)
    version = data["schema_version"]
    if type(version) is not int or not 1 <= version <= SCHEMA_VERSION:
        raise InvalidRecord(
            f"schema_version: expected a version this bench reads (1 to {SCHEMA_VERSION}), got {_show(version)}"
        )
    record = RECORD(upgrade(copy.deepcopy(data)), "")
    if record["status"] == "ok" and "metrics" not in data:
        raise InvalidRecord("metrics: missing (status is ok)")
    return Record.from_dict(record)


def upgrade(record: dict) -> dict:
    """``record`` (a record's JSON of any version this bench reads) in the current layout: each
    version's step applied in turn, as asv's ``update_to_N`` do, so readers see one layout. Nothing
    is dropped; what the new layout cannot say is kept beside it. No step touches ``spec``: the
    key stays its hash, and an upgraded record is as current as it was (not stale)."""
    for version, step in sorted(_STEPS.items()):
        if record["schema_version"] < version:
            step(record)
            record["schema_version"] = version
    return record


def _update_to_2(record: dict) -> None:
    """A part of ``code_identity`` was one hash over the raw bytes of its files (``source``); it is
    kept as ``source_v1``, which ``bench.identity`` compares with the installed files hashed the
    same way (the same bytes: current), since per-module hashes cannot be made from it."""
    code = record.get("code_identity")
    if isinstance(code, dict):
        record["code_identity"] = {
            part: {**{k: v for k, v in value.items() if k != "source"}, "source_v1": value.get("source")}
            if isinstance(value, dict) and "modules" not in value
            else value
            for part, value in code.items()
        }


def _update_to_3(record: dict) -> None:
    """The precision a run used was written twice, top-level ``precision`` and ``accel.precision``:
    it is ``accel.precision`` alone now (``spec.precision`` is what was asked, maybe "auto")."""
    accel = record.setdefault("accel", {})
    if "precision" in record and isinstance(accel, dict):  # not an object: the schema says so
        accel.setdefault("precision", record.pop("precision"))


#: version -> the step that brings a record of the version before it up to it.
_STEPS = {2: _update_to_2, 3: _update_to_3}


# -- environment ------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def code_version() -> dict:
    """bench's version and, when run from a git checkout, its commit and whether it was dirty."""
    import bench

    info: dict[str, Any] = {"bench": bench.__version__}
    here = Path(bench.__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
        if commit.returncode == 0:
            info["git_commit"] = commit.stdout.strip()
            status = subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no"],
                cwd=here,
                capture_output=True,
                text=True,
                timeout=5,
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

    env: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": _cpu_name(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "libraries": {
            "torch": torch.__version__,
            "torchmetrics": torchmetrics.__version__,
            "numpy": numpy.__version__,
            "pluggy": pluggy.__version__,
        },
        "device": {"type": device.type, "name": _device_name(device)},
        "lock": environment_lock(),
    }
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        env["device"].update(
            {
                "cuda": torch.version.cuda,
                "cudnn": torch.backends.cudnn.version(),
                "capability": f"{props.major}.{props.minor}",
                "memory_gib": round(props.total_memory / 2**30, 1),
                "driver": _nvidia_driver(),
            }
        )
    return env


@lru_cache(maxsize=1)
def environment_lock() -> dict:
    """Every installed distribution and its version (what ``pip freeze`` lists), and one hash of
    them: two records with the same hash ran with the same packages; ``bench diff`` names the rest."""
    from importlib import metadata

    found: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            found.setdefault(name.lower().replace("_", "-"), dist.version)  # the first on sys.path wins
    packages = dict(sorted(found.items()))
    text = "\n".join(f"{name}=={version}" for name, version in packages.items())
    return {"sha256": hashlib.sha256(text.encode()).hexdigest()[:16], "packages": packages}


def load_average() -> float | None:
    """The machine's load over the last minute (runnable processes), or None where the OS has none:
    recorded at the start and end of a run, so a throughput measured on a busy machine says so."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


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
            capture_output=True,
            text=True,
            timeout=10,
        )
        return out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else None
    except (OSError, subprocess.SubprocessError):
        return None


def failure_record(spec, kind: str, message: str, details: str, sections: dict | None = None) -> Record:
    """The failed record of a run whose process died before it could write its own."""
    return make_record(spec, "failed", {"started_at": None, **(sections or {})}, RunError(kind, message, details))
