"""Progress on stderr: which run, epoch, step, loss and ETA.

On a terminal one status line is rewritten in place; in a log (CI, a file) a line is printed at
each epoch end and at most every ``interval`` seconds, so logs stay readable.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


def format_seconds(seconds: float | None) -> str:
    if seconds is None or seconds != seconds or seconds == float("inf"):
        return "?"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Progress:
    def __init__(self, stream: TextIO | None = None, interval: float | None = None, quiet: bool = False):
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.interval = interval if interval is not None else (0.2 if self.tty else 30.0)
        self.quiet = quiet
        self._label = ""
        self._last = 0.0
        self._line_open = False

    # -- suite level -------------------------------------------------------------------------
    def message(self, text: str) -> None:
        if self.quiet:
            return
        self._close_line()
        print(text, file=self.stream, flush=True)

    def run_started(self, label: str, note: str = "") -> None:
        self._label = label
        self._last = 0.0
        self.message(f"{label}: started{'  ' + note if note else ''}")

    def run_finished(self, label: str, summary: str) -> None:
        self.message(f"{label}: {summary}")

    # -- within a run ------------------------------------------------------------------------
    def due(self) -> bool:
        """Whether a status update would be shown now (lets callers skip a device sync)."""
        return not self.quiet and time.monotonic() - self._last >= self.interval

    def status(self, text: str, force: bool = False) -> None:
        if self.quiet or not (force or self.due()):
            return
        self._last = time.monotonic()
        line = f"{self._label}: {text}"
        if self.tty:
            print("\r\x1b[2K" + line, end="", file=self.stream, flush=True)
            self._line_open = True
        else:
            print(line, file=self.stream, flush=True)

    def _close_line(self) -> None:
        if self._line_open:
            print(file=self.stream, flush=True)
            self._line_open = False
