"""`bench` commands run in this process (and its children) with the toy and fault plugins installed
as a distribution (the ``plugins`` fixture of conftest.py), and the one-run suite they are tried on."""

import os
from pathlib import Path

import bench.cli as cli
from fakedist import install_distribution

HERE = Path(__file__).parent
SUITE = "seeds: [0]\nruns: [{datasets: toy, methods: toy-linear, protocol: classify, budget: {epochs: 1}}]\n"


def install_toy_plugins(monkeypatch, folder: Path) -> Path:
    sources = {"bench_toy": (HERE / "toy.py").read_text(), "bench_fault_toy": (HERE / "fault_toy.py").read_text()}
    site = install_distribution(
        monkeypatch, folder, "bench-toy", "1.0", sources, {"toy": "bench_toy", "fault-toy": "bench_fault_toy"}
    )
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in [str(site), os.environ.get("PYTHONPATH")] if p))
    monkeypatch.setenv("BENCH_PLUGINS", "toy,fault-toy")
    return folder


def suite_file(folder: Path, text: str = SUITE) -> Path:
    path = folder / "suite.yaml"
    path.write_text(text)
    return path


def run(folder: Path, text: str = SUITE, *args: str) -> int:
    return cli.main(["run", str(suite_file(folder, text)), "--results-dir", str(folder / "results"), "--quiet", *args])
