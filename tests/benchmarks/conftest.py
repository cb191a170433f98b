"""Benchmarks of the hot paths (pytest-benchmark). Skipped by the default test run; run them with
`make benchmark` (see the README), which compares against the saved baseline.

``BENCH_BENCHMARK_SLOWDOWN=0.01`` adds that many seconds to every benchmarked call: the way to
check that `--benchmark-compare-fail` trips on a slowdown.
"""

import os
import sys
import time
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent.parent))  # tests/: toy plugin and helpers

DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")


def synchronized(fn):
    """Wrap ``fn`` so each benchmarked call includes the device work it queued."""
    from bench.timing import synchronize

    slowdown = float(os.environ.get("BENCH_BENCHMARK_SLOWDOWN", "0") or 0)

    def call():
        out = fn()
        synchronize(DEVICE)
        if slowdown:
            time.sleep(slowdown)
        return out

    return call


@pytest.fixture
def run(benchmark):
    """run(fn, rounds=...): benchmark ``fn`` warm (one untimed call first) and synchronized."""

    def go(fn, rounds: int = 5, **extra_info):
        benchmark.extra_info.update(device=str(DEVICE), **extra_info)
        return benchmark.pedantic(synchronized(fn), rounds=rounds, iterations=1, warmup_rounds=1)

    return go
