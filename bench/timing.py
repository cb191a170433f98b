"""Warm, synchronized timing: the one place throughput figures come from."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch


def synchronize(device: torch.device) -> None:
    """Wait for queued device work, so a wall-clock reading covers it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def mark(device: torch.device):
    """A point on the device's timeline that does not wait for it: a CUDA event on CUDA, else
    the host's clock (after a synchronize on MPS, which has no timing events here)."""
    if device.type == "cuda":
        event = torch.cuda.Event(enable_timing=True)
        event.record(torch.cuda.current_stream(device))  # the run's device, not whichever is current
        return event
    if device.type == "mps":
        synchronize(device)
    return time.perf_counter()


def seconds_between(start, end) -> float:
    """Seconds between two ``mark`` points (waits for the second on CUDA)."""
    if isinstance(start, float):
        return end - start
    end.synchronize()
    return start.elapsed_time(end) / 1000


def measure(
    fn: Callable[[], object],
    device: torch.device,
    *,
    items: int = 1,
    warmup: int = 2,
    repeats: int = 5,
) -> dict:
    """Time ``fn`` after ``warmup`` untimed calls; each of ``repeats`` calls is synchronized.

    Returns the median and spread of the seconds per call and the median items per second.
    """
    for _ in range(warmup):
        fn()
    synchronize(device)
    seconds = []
    for _ in range(repeats):  # CUDA events on CUDA: the device's own clock
        start = mark(device)
        fn()
        seconds.append(seconds_between(start, mark(device)))
    return summarize(seconds, items)


def summarize(seconds: list[float], items: int | list[int]) -> dict:
    """Median/min/max of per-repeat seconds and the median throughput in items per second."""
    counts = items if isinstance(items, list) else [items] * len(seconds)
    rates = [n / s for n, s in zip(counts, seconds) if s > 0]
    return {
        "median_s": statistics.median(seconds),
        "min_s": min(seconds),
        "max_s": max(seconds),
        "repeats": len(seconds),
        "items_per_repeat": counts[0] if len(set(counts)) == 1 else counts,
        "items_per_s": statistics.median(rates) if rates else None,
        "samples_s": [round(s, 6) for s in seconds],
    }
