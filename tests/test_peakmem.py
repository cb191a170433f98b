"""bench.peakmem: a run's peak memory on the CPU (the process's peak RSS growth over the block),
filled in when the block ends, raising or not."""

import json
import subprocess
import sys

import pytest
import torch

from bench import peakmem

#: A fresh interpreter holds 64 MiB inside the block: in a long test session the allocator may
#: hand back pages earlier tests left resident, and the RSS would not grow (it read 0 in CI).
HOLD_64_MIB = """
import json, numpy as np, torch
from bench import peakmem
with peakmem.measure(torch.device("cpu")) as out:
    held = np.ones(64 * 2**20, dtype=np.uint8)  # 64 MiB, touched
    held[::4096] = 2
print(json.dumps(out))
"""


def test_a_block_that_holds_memory_reports_about_that_much():
    proc = subprocess.run([sys.executable, "-c", HOLD_64_MIB], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.splitlines()[-1])
    assert out["kind"] == "cpu_peak_rss_increase" and out["how"]
    if sys.platform.startswith("linux") and "VmHWM" in out["how"]:
        assert 48 * 2**20 <= out["bytes"] <= 256 * 2**20, out
    assert out["bytes"] >= 0


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
