"""Running things in tests: a suite run from its YAML text (with the ``reg`` fixture of conftest.py,
the toy registry), the label-budget runs the table and the report are tested on, and a bare
RunContext on the CPU."""

import torch

import toy
from bench import registry
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


#: toy-linear at two label budgets of two folds (split seeds) each, and with every label.
LABEL_SUITE = """
name: labels
seeds: [0]
runs:
  - {datasets: toy, methods: toy-linear, protocol: {name: classify, labels: 10, holdout: 0.0}, budget: {epochs: 2}}
  - {datasets: toy, methods: toy-linear, protocol: {name: classify, labels: 10, holdout: 0.0, split_seed: 1}, budget: {epochs: 2}}
  - {datasets: toy, methods: toy-linear, protocol: {name: classify, labels: 2, holdout: 0.0}, budget: {epochs: 2}}
  - {datasets: toy, methods: toy-linear, protocol: {name: classify, labels: 2, holdout: 0.0, split_seed: 1}, budget: {epochs: 2}}
  - {datasets: toy, methods: toy-linear, protocol: {name: classify, holdout: 0.0}, budget: {epochs: 2}}
"""


def run_label_budgets(root):
    """The label-budget suite run into ``root``: rows of 2/class, 10/class (two folds each) and all."""
    reg = registry.load(extra_plugins=[("toy", toy)])
    path = root.parent / "labels.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(LABEL_SUITE)
    suite = load_suite(path, reg)
    outcome = run_specs(suite.runs, reg, ResultStore(root), DataStore(root.parent / "data"), Progress(quiet=True))
    assert outcome.exit_code == 0
    return root
