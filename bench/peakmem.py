"""Peak memory of one run, as the record's ``memory`` section says it was measured.

- CUDA: ``torch.cuda.max_memory_allocated`` after ``reset_peak_memory_stats`` at the run's start:
  the most tensor memory the run held at once (the caching allocator's reserve is not counted).
- CPU (and MPS): the increase of the process's peak resident memory over its resident memory at
  the run's start. On Linux the peak is reset first (``/proc/self/clear_refs``, value 5) and read
  as ``VmHWM``, so each run of a suite is measured on its own; elsewhere the process's lifetime
  peak (``ru_maxrss``) is used, which misses a run whose peak stays below an earlier run's, and the
  record says so.
"""

from __future__ import annotations

import contextlib
import resource
import sys
from collections.abc import Iterator
from pathlib import Path

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _status_kib(field: str) -> int | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def _reset_peak() -> bool:
    """Reset the process's peak resident memory to its current one (Linux >= 4.0)."""
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return _status_kib("VmHWM") is not None


def _lifetime_peak_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KiB on Linux


@contextlib.contextmanager
def measure(device) -> Iterator[dict]:
    """Fills the yielded dict, when the block ends (raising or not), with ``bytes`` (the figure),
    ``kind`` (``cuda_max_allocated`` or ``cpu_peak_rss_increase``) and ``how`` (one line)."""
    out: dict = {}
    if getattr(device, "type", "cpu") == "cuda":
        import torch

        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        start = torch.cuda.memory_allocated(device)
        try:
            yield out
        finally:
            torch.cuda.synchronize(device)
            out.update(
                bytes=int(torch.cuda.max_memory_allocated(device)),
                start_bytes=int(start),
                kind="cuda_max_allocated",
                how="torch.cuda.max_memory_allocated over the run (tensors held at once, reserve not counted)",
            )
        return
    reset = _reset_peak()
    start_kib = _status_kib("VmRSS") if reset else None
    start_lifetime = _lifetime_peak_bytes()
    try:
        yield out
    finally:
        if reset and start_kib is not None and (peak := _status_kib("VmHWM")) is not None:
            grown, how = (peak - start_kib) * 1024, "process peak RSS (VmHWM, reset at the run's start) minus RSS then"
        else:
            grown = _lifetime_peak_bytes() - start_lifetime
            how = "growth of the process's lifetime peak RSS (ru_maxrss): 0 when an earlier run peaked higher"
        out.update(bytes=max(0, int(grown)), kind="cpu_peak_rss_increase", how=how)
