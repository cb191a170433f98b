"""The exception a stopped suite raises: a leaf, so the runner and the process isolation that
runs its work in children can both raise and catch it."""

from __future__ import annotations

import signal


class Interrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) or SIGTERM reached the process: the suite stops, what finished is kept.

    A KeyboardInterrupt, so code that cleans up after Ctrl-C does so for SIGTERM too; its own
    type, so a method that raises KeyboardInterrupt itself only fails its run."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum  # the shell's convention: 130 for SIGINT, 143 for SIGTERM
