"""Running things in tests: a suite run from its YAML text (with the ``reg`` fixture of conftest.py,
the toy registry), and a bare RunContext on the CPU."""

import torch

from bench.context import RunContext
from bench.data.loader import Normalize
from bench.data.store import DataStore
from bench.progress import Progress
from bench.records import ResultStore
from bench.runner import run_specs
from bench.specs import Budget
from bench.suite import load_suite


def run_suite(tmp_path, reg, text, results="results"):
    path = tmp_path / "suite.yaml"
    path.write_text(text)
    suite = load_suite(path, reg)
    store = ResultStore(tmp_path / results)
    return suite, store, run_specs(suite.runs, reg, store, DataStore(tmp_path / "data"), Progress(quiet=True))


def make_context() -> RunContext:
    images = torch.zeros(4, 1, 2, 2, dtype=torch.uint8)
    return RunContext(
        device=torch.device("cpu"),
        seed=0,
        budget=Budget({"epochs": 1}),
        params={},
        normalize=Normalize.fit(images),
        artifacts_dir=None,
        progress=Progress(quiet=True),
    )
