"""What a restorer sees while it restores one image: the shared context vocabulary
(:class:`bench.context.MethodContext`) plus the iteration loop and the host's monitor (PSNR
against the hidden clean image, for curves only)."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import torch

from bench.accel import PLAIN, Switches
from bench.context import MethodContext, preserved_random_state
from bench.progress import Progress, format_seconds
from bench.specs import Budget
from bench.timing import synchronize


class RestoreContext(MethodContext):
    """Passed to a restorer with each :class:`bench.Problem` (the shared vocabulary:
    :class:`bench.context.MethodContext`: ``device``, ``seed``, ``generator``, ``params``,
    ``budget``, ``progress``, ``autocast``/``prepare``/``layout``, ``step``, ``log``, ``measure``,
    ``timed``).

    Loop with ``for i in ctx.iterations(n)`` and call ``ctx.step(loss)`` once per iteration so the
    host counts iterations (iterations/s) and shows progress. ``if ctx.should_monitor(i):
    ctx.monitor(i, output)`` lets the host score an intermediate output against the clean image
    (the method never sees the value); its time is not counted in the method's seconds.
    ``ctx.log(**scalars)`` adds scalars to the image's curve at the current iteration.
    When making the monitored output is work of its own (a forward pass on a perturbed input, an
    average), pass that work as a function, ``ctx.monitor(i, lambda: net(z + noise))``: the host
    runs it with the random state saved and restored around it and outside the method's seconds,
    so ``monitor_every`` changes neither the result nor the time.
    """

    def __init__(
        self,
        *,
        device: torch.device,
        seed: int,
        budget: Budget,
        params: Mapping[str, Any],
        artifacts_dir: Path | None = None,
        progress: Progress | None = None,
        switches: Switches = PLAIN,
        monitor_every: int = 0,
        monitor: Callable[[int, torch.Tensor], dict] | None = None,
        label: str = "",
    ):
        super().__init__(
            device=device,
            seed=seed,
            budget=budget,
            params=params,
            artifacts_dir=artifacts_dir,
            progress=progress,
            switches=switches,
        )
        self.monitor_every = monitor_every
        self._monitor = monitor
        self._label = label
        self._n = 0
        self._iteration = 0

    def iterations(self, n: int) -> Iterator[int]:
        """Yield 0..n-1 (the method may stop early, e.g. on its own learning-rate schedule).
        A method may run several loops (ZSSR's stages): progress counts the image's steps so far
        against those plus this loop's ``n``."""
        self._n = self._book.steps + n
        book = self._book
        synchronize(self.device)
        start, monitored = time.perf_counter(), book.monitor_seconds
        try:
            for i in range(n):
                self._iteration = i
                yield i
        finally:
            synchronize(self.device)
            book.loop_seconds += time.perf_counter() - start - (book.monitor_seconds - monitored)

    def step(self, loss: torch.Tensor | None = None, n: int = 0) -> None:
        """Count one optimisation iteration (``n``: images in it, unused for one-image restorers);
        ``loss`` is read back only when progress is due."""
        self._book.steps += 1
        done = self._book.steps
        if self.progress.due():
            text = f"{self._label}  iter {done}/{self._n or '?'}"
            if loss is not None:
                text += f"  loss {loss.detach().float().item():.5f}"
            elapsed = time.perf_counter() - self._started
            if self._n and done:
                text += f"  ETA {format_seconds(elapsed * (self._n - done) / done)}"
            self.progress.status(text)

    def should_monitor(self, iteration: int) -> bool:
        return bool(self._monitor) and self.monitor_every > 0 and iteration % self.monitor_every == 0

    def monitor(self, iteration: int, output: torch.Tensor | Callable[[], torch.Tensor], tag: str = "") -> None:
        """Let the host score ``output`` (float (C, H, W) in [0, 1]) at ``iteration``. ``output``
        is the image, or a function of no arguments that makes it: the host calls the function
        with every random state (torch's, the device's, ``ctx.generator``, Python's, NumPy's) saved
        and restored around it, and excludes its time and the scoring's from the method's timing,
        so monitoring cannot change the method's result or seconds. ``tag`` names a second series
        (e.g. ``"avg"`` for an averaged output: key ``psnr_avg``). A no-op when the protocol does
        not monitor."""
        if not self._monitor:
            return
        synchronize(self.device)
        start = time.perf_counter()
        with preserved_random_state(self.device, self.generator):
            image = output() if callable(output) else output
            values = self._monitor(iteration, image.detach())
        if tag:
            values = {f"{k}_{tag}": v for k, v in values.items()}
        self._book.curves.append({"iteration": iteration, **values})
        synchronize(self.device)
        self._book.monitor_seconds += time.perf_counter() - start

    def log(self, *iteration: int, **scalars: float) -> None:
        """Add the method's own scalars (e.g. its loss or learning rate) to the curve, tagged with
        the current iteration. (The old form ``log(iteration, **scalars)`` still works, with a
        DeprecationWarning.)"""
        if iteration:
            warnings.warn(
                "RestoreContext.log(iteration, **scalars) is deprecated: call ctx.log(**scalars); "
                "the host tags the current iteration",
                DeprecationWarning,
                stacklevel=2,
            )
        at = iteration[0] if iteration else self._iteration
        self._book.curves.append({"iteration": at, **{k: float(v) for k, v in scalars.items()}})
