"""What a restorer sees while it restores one image: device, seed, budget, params, progress, and
the host's monitor (PSNR against the hidden clean image, for curves only)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import torch

from bench.accel import Switches
from bench.progress import Progress, format_seconds
from bench.specs import Budget
from bench.timing import synchronize


class RestoreContext(Switches):
    """Passed to a restorer with each :class:`bench.Problem`.

    Read ``device``, ``seed`` (the run's seed; a method seeds its own sampling with
    ``generator``), ``budget`` (e.g. ``ctx.budget.iterations``) and ``params``. Loop with
    ``for i in ctx.iterations(n)`` and call ``ctx.step(loss)`` so the host counts iterations
    (iterations/s) and shows progress. ``ctx.monitor(i, output)`` lets the host score an
    intermediate output against the clean image (the method never sees the value); its time is
    not counted in the method's seconds. ``ctx.log(...)`` adds scalars to the image's curve.
    Run networks through ``ctx.prepare(net)``, ``ctx.layout(x)`` and ``with ctx.autocast()`` so
    the suite's precision and memory-format switches reach them.
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
        precision: str = "fp32",
        channels_last: bool = False,
        compile: bool = False,
        monitor_every: int = 0,
        monitor: Callable[[int, torch.Tensor], dict] | None = None,
        label: str = "",
    ):
        self.device = device
        self.seed = seed
        self.budget = budget
        self.params = dict(params)
        self.artifacts_dir = artifacts_dir
        self.progress = progress or Progress(quiet=True)
        self.precision = precision
        self.channels_last = channels_last
        self.compile = compile
        self.monitor_every = monitor_every
        self.generator = torch.Generator(device=device).manual_seed(seed)
        self.curve: list[dict] = []
        self.iterations_done = 0
        self.monitor_seconds = 0.0
        #: Synchronized wall seconds of the ``iterations`` loop, host monitoring excluded.
        self.loop_seconds = 0.0
        self._monitor = monitor
        self._label = label
        self._n = 0
        self._started = time.perf_counter()

    def iterations(self, n: int) -> Iterator[int]:
        """Yield 0..n-1 (the method may stop early, e.g. on its own learning-rate schedule)."""
        self._n = n
        synchronize(self.device)
        start, monitored = time.perf_counter(), self.monitor_seconds
        try:
            for i in range(n):
                yield i
        finally:
            synchronize(self.device)
            self.loop_seconds += time.perf_counter() - start - (self.monitor_seconds - monitored)

    def step(self, loss: torch.Tensor | None = None) -> None:
        """Count one optimisation iteration; ``loss`` is read back only when progress is due."""
        self.iterations_done += 1
        if self.progress.due():
            text = f"{self._label}  iter {self.iterations_done}/{self._n or '?'}"
            if loss is not None:
                text += f"  loss {loss.detach().float().item():.5f}"
            elapsed = time.perf_counter() - self._started
            if self._n and self.iterations_done:
                text += f"  ETA {format_seconds(elapsed * (self._n - self.iterations_done) / self.iterations_done)}"
            self.progress.status(text)

    def should_monitor(self, iteration: int) -> bool:
        return bool(self._monitor) and self.monitor_every > 0 and iteration % self.monitor_every == 0

    def monitor(self, iteration: int, output: torch.Tensor, tag: str = "") -> None:
        """Let the host score ``output`` (float (C, H, W) in [0, 1]) at ``iteration``; excluded
        from the method's timing. ``tag`` names a second series (e.g. ``"avg"`` for an averaged
        output: key ``psnr_avg``). A no-op when the protocol does not monitor."""
        if not self._monitor:
            return
        synchronize(self.device)
        start = time.perf_counter()
        values = self._monitor(iteration, output.detach())
        if tag:
            values = {f"{k}_{tag}": v for k, v in values.items()}
        self.curve.append({"iteration": iteration, **values})
        synchronize(self.device)
        self.monitor_seconds += time.perf_counter() - start

    def log(self, iteration: int, **scalars: float) -> None:
        """Add the method's own scalars (e.g. its loss or learning rate) to the curve."""
        self.curve.append({"iteration": iteration, **{k: float(v) for k, v in scalars.items()}})
