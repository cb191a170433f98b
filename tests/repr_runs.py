"""Helpers for the representation track's tests: the toy plugin's suites run into a results folder,
the blobs as numpy arrays, and the contexts the methods' pieces are called with."""

from pathlib import Path

import numpy as np
import torch

import repr_toy
from bench import registry
from bench.context import RunContext
from bench.data.loader import Normalize
from bench.data.store import DataStore
from bench.progress import Progress
from bench.records import ResultStore
from bench.runner import run_specs
from bench.specs import Budget
from bench.suite import load_suite


def load_registry():
    return registry.load(extra_plugins=[("repr_toy", repr_toy)])


def run_suite(tmp_path, reg, text, results="results"):
    path = tmp_path / "suite.yaml"
    path.write_text(text)
    suite = load_suite(path, reg)
    store = ResultStore(tmp_path / results)
    outcome = run_specs(suite.runs, reg, store, DataStore(tmp_path / "data"), Progress(quiet=True))
    records = [store.read(spec) for spec in suite.runs]
    for r in records:
        assert r.status == "ok", r.error
    return suite, store, outcome, records


def blobs_arrays():
    train, test = repr_toy.load_blobs("train", None), repr_toy.load_blobs("test", None)
    as_np = lambda d: (d.images.reshape(len(d), -1).numpy().astype(np.float64) / 255.0, d.labels.numpy())
    return as_np(train), as_np(test)


def tiny_ctx(tmp_path, params, images, epochs=1.0):
    return RunContext(
        device=torch.device("cpu"),
        seed=0,
        budget=Budget({"epochs": epochs}),
        params=params,
        normalize=Normalize.fit(images),
        artifacts_dir=tmp_path,
        progress=Progress(quiet=True),
    )


def probe_context(images):
    return RunContext(
        device=torch.device("cpu"),
        seed=0,
        budget=Budget({}),
        params={},
        normalize=Normalize.fit(images),
        artifacts_dir=Path("."),
    )
