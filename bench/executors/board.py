"""Progress across workers: how many runs are queued, running, done and failed, and which.

Line-oriented like :mod:`bench.progress` (a log stays readable): one line when a run starts or
ends, each followed by the counts and the running runs, and the counts again every ``interval``
seconds while nothing changes (a heartbeat in a long job's log)::

    ray: 6 queued, 0 running, 0 done, 0 failed
    mnist / mlp / classify / seed 0: started on node-3:4121
    ray: 5 queued, 1 running, 0 done, 0 failed | running: mnist / mlp / classify / seed 0
    mnist / mlp / classify / seed 0: ok  test_accuracy 97.61  ...  41.0 s
"""

from __future__ import annotations

import time

from bench.progress import Progress
from bench.records import Record
from bench.runner import SuiteOutcome, summary

STATES = ("queued", "running", "done", "failed")
#: How many run names a counts line lists before "+N more".
SHOWN = 4


class Board:
    def __init__(self, progress: Progress, engine: str, specs=(), interval: float | None = None):
        self.progress = progress
        self.engine = engine
        self.interval = interval if interval is not None else (10.0 if progress.tty else 60.0)
        self.labels: dict[str, str] = {}
        self.state: dict[str, str] = {}
        self.outcome = SuiteOutcome()
        self._last = time.monotonic()
        for spec in specs:
            self.labels[spec.key] = spec.label
            self.state[spec.key] = "queued"

    # -- events ------------------------------------------------------------------------------------
    def started(self, spec, where: str = "") -> None:
        if self.state.get(spec.key) != "queued":
            return
        self.state[spec.key] = "running"
        self.progress.message(f"{spec.label}: started{' on ' + where if where else ''}")
        self.show()

    def finished(self, spec, record: Record) -> None:
        """A run ended with ``record`` in the store (status ok or failed)."""
        if self.state.get(spec.key) in ("done", "failed"):  # told twice: count it once
            return
        if record.ok:
            self.state[spec.key] = "done"
            self.outcome.ran.append(spec.label)
            self.progress.run_finished(spec.label, summary(record))
        else:
            self.state[spec.key] = "failed"
            self.outcome.failed.append(spec.label)
            self.progress.run_finished(spec.label, f"FAILED: {record.failure.message}")
        self.show()

    def skipped(self, spec) -> None:
        """Finished by another process since the driver looked."""
        self.state.pop(spec.key, None)
        self.outcome.skipped.append(spec.label)
        self.progress.message(f"{spec.label}: finished elsewhere meanwhile, skipped")

    def busy(self, spec) -> None:
        """Claimed by another process (another ``bench run`` on the same results folder)."""
        self.state.pop(spec.key, None)
        self.outcome.busy.append(spec.label)
        self.progress.message(f"{spec.label}: running in another process, skipped")

    # -- display -----------------------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        return {s: sum(1 for v in self.state.values() if v == s) for s in STATES}

    def which(self, state: str) -> list[str]:
        return [self.labels[k] for k, v in self.state.items() if v == state]

    def line(self) -> str:
        counts = ", ".join(f"{n} {s}" for s, n in self.counts().items())
        running = self.which("running")
        if running:
            more = f" (+{len(running) - SHOWN} more)" if len(running) > SHOWN else ""
            counts += " | running: " + "; ".join(running[:SHOWN]) + more
        return f"{self.engine}: {counts}"

    def show(self) -> None:
        self._last = time.monotonic()
        self.progress.message(self.line())

    def heartbeat(self) -> None:
        """Show the counts if nothing was shown for ``interval`` seconds."""
        if time.monotonic() - self._last >= self.interval:
            self.show()
