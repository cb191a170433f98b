"""The driver side of a remote executor: what is left to run, records coming home, lost runs.

Workers write their records into the shared result store themselves (under the spec's lock, see
:mod:`bench.executors.worker`) and also send them back. :func:`settle` makes the store hold each
run's outcome exactly once: a record the worker already wrote is left alone, one the driver cannot
see (no shared filesystem) is written here, and a run whose worker died without a record gets a
"failed" record with the error, so the next ``bench run`` tries it again.
"""

from __future__ import annotations

import time
import traceback

from bench.executors import Job
from bench.executors.board import Board
from bench.records import Record, failure_record

#: How long the driver waits for a dead worker's lock to be released before giving up on writing
#: its failed record (the OS releases it when the process is gone; a network filesystem may lag).
LOCK_WAIT_S = 10.0


def start(job: Job, engine: str) -> tuple[Board, list]:
    """The runs still to do (finished ones are skipped) and a board that shows them queued."""
    todo = [s for s in job.specs if not job.store.is_done(s)]
    board = Board(job.progress, engine, todo)
    done = [s for s in job.specs if s not in todo]
    board.outcome.skipped.extend(s.label for s in done)
    if done:
        job.progress.message(f"{len(done)} of {len(job.specs)} runs already finished: skipped")
    if todo:
        board.show()
    return board, todo


def settle(job: Job, board: Board, spec, result: dict) -> None:
    """A worker's answer (:func:`bench.executors.worker.run_spec`) came home: record and show it."""
    if result["state"] == "busy":
        board.busy(spec)
        return
    if result["state"] == "skipped":
        board.skipped(spec)
        return
    record = result["record"]
    existing = job.store.read(spec)
    if not (existing and _same_run(existing, record)):  # the worker's store is not ours: write it here
        record = _write_unless_done(job, spec, record, notify=False) or record
    board.finished(spec, record)


def lost(job: Job, board: Board, spec, error: BaseException | str, where: str = "") -> None:
    """The run's worker died or the engine gave up on it: record it failed, with the error."""
    if isinstance(error, BaseException):
        kind, text = type(error).__name__, str(error)
        details = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    else:
        kind, text, details = "WorkerLost", str(error), str(error)
    message = (text.strip().splitlines() or [kind])[0]
    record = failure_record(spec, kind, f"{message}{' (' + where + ')' if where else ''}", details)
    written = _write_unless_done(job, spec, record, notify=True)
    if written is None:  # another process holds the spec now: it will write the outcome
        board.busy(spec)
    else:
        board.finished(spec, written)


def _write_unless_done(job: Job, spec, record: Record, notify: bool) -> Record | None:
    """Write ``record`` under the spec's lock unless a finished record is there already; return the
    record the store now holds, or None when another process holds the lock."""
    deadline = time.monotonic() + LOCK_WAIT_S
    lock = job.store.claim(spec)
    while lock is None and time.monotonic() < deadline:
        time.sleep(0.2)
        lock = job.store.claim(spec)
    if lock is None:
        return None
    try:
        if job.store.is_done(spec):
            return job.store.read(spec)
        job.store.write(spec, record)
        if notify:
            for warning in job.registry.call_run_finished(record.to_dict()):
                job.progress.message(f"warning: {warning}")
    finally:
        lock.release()
    return record


def _same_run(a: Record, b: Record) -> bool:
    def ident(r: Record):
        return r.key, r.status, r.started_at, r.ended_at, r.timings.get("wall_seconds")

    return ident(a) == ident(b)
