"""bench.peakmem: a run's peak memory on the CPU (the process's peak RSS growth over the block),
filled in when the block ends, raising or not."""

import sys

import numpy as np
import pytest
import torch

from bench import peakmem


def test_a_block_that_holds_memory_reports_about_that_much():
    with peakmem.measure(torch.device("cpu")) as out:
        held = np.ones(64 * 2**20, dtype=np.uint8)  # 64 MiB, touched
        held[::4096] = 2
    assert out["kind"] == "cpu_peak_rss_increase" and out["how"]
    if sys.platform.startswith("linux") and "VmHWM" in out["how"]:
        assert 48 * 2**20 <= out["bytes"] <= 256 * 2**20, out
    assert out["bytes"] >= 0
    del held


def test_the_figure_is_filled_in_when_the_block_raises():
    with pytest.raises(RuntimeError), peakmem.measure(torch.device("cpu")) as out:
        raise RuntimeError("the method failed")
    assert out["kind"] == "cpu_peak_rss_increase" and out["bytes"] >= 0


def test_on_cuda_the_peak_is_torchs_max_memory_allocated(monkeypatch):
    """The CUDA path with torch.cuda mocked (no GPU here): reset at the start, read at the end."""
    import torch

    from bench import peakmem

    calls = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: calls.append("sync"))
    monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats", lambda device=None: calls.append("reset"))
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device=None: 10 * 2**20)
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda device=None: 700 * 2**20)
    with peakmem.measure(torch.device("cuda")) as memory:
        calls.append("run")
    assert calls == ["sync", "reset", "run", "sync"]
    assert memory == {
        "bytes": 700 * 2**20,
        "start_bytes": 10 * 2**20,
        "kind": "cuda_max_allocated",
        "how": memory["how"],
    }
