"""The FixMatch / USB suites (GPU jobs): validated here, and each one's first cell run for two steps
of a tiny network on fake files of its dataset, through the host's label budget."""

from dataclasses import replace
from pathlib import Path

import pytest

import fakedata
from bench import registry
from bench.data.store import DataStore
from bench.progress import Progress
from bench.records import ResultStore
from bench.runner import run_specs
from bench.suite import load_suite

SUITES = Path(__file__).parents[1] / "suites"

#: suite -> (dataset, labels per class, the params that differ from the plugin's official defaults)
EXPECTED = {
    "fixmatch-cifar10": ("cifar10", [4, 25, 400], {}),
    "fixmatch-cifar100": ("cifar100", [4, 25, 100], {"filters": 128, "weight_decay": 0.001}),
    "fixmatch-svhn": ("svhn", [4, 25, 100], {"flip": False}),
}
TINY = {"filters": 4, "repeat": 1, "batch_size": 2, "mu": 2}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_usb_suites_ask_for_the_published_setting(name):
    dataset, per_class, changed = EXPECTED[name]
    reg = registry.load()
    suite = load_suite(SUITES / f"{name}.yaml", reg)
    cells = {(s.method, s.protocol_options["labels"], s.protocol_options["split_seed"], s.seed) for s in suite.runs}
    methods = ("fixmatch", "fixmatch-supervised")
    assert cells == {(m, n, fold, fold) for m in methods for n in per_class for fold in (0, 1, 2)}
    for spec in suite.runs:
        assert spec.dataset == dataset and spec.budget == {"iterations": 2**20}
        assert spec.protocol_options["holdout"] == 0.0
        defaults = {k: p.default for k, p in reg.methods[spec.method].params.items()}
        assert spec.params == {**defaults, **{k: v for k, v in changed.items() if k in defaults}}
    fixmatch = next(s for s in suite.runs if s.method == "fixmatch")
    assert (fixmatch.params["threshold"], fixmatch.params["mu"], fixmatch.params["lambda_u"]) == (0.95, 7, 1.0)
    assert (fixmatch.params["lr"], fixmatch.params["batch_size"], fixmatch.params["ema"]) == (0.03, 64, 0.999)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_usb_suite_runs_two_steps_on_tiny_fake_files(name, monkeypatch, tmp_path):
    dataset = EXPECTED[name][0]
    data = tmp_path / "data"
    if dataset == "cifar10":
        fakedata.use_fake_cifar(monkeypatch, data, per_batch=60, n_test=50)
    elif dataset == "cifar100":
        fakedata.use_fake_cifar(monkeypatch, data, which="CIFAR100", n_train=500, n_test=50)
    else:
        fakedata.use_fake_svhn(monkeypatch, data)
    reg = registry.load()
    suite = load_suite(SUITES / f"{name}.yaml", reg)
    spec = suite.runs[0]  # FixMatch, 4 labels per class, fold 0
    tiny = replace(spec, params={**spec.params, **TINY}, budget={"iterations": 2}, device="cpu")
    store = ResultStore(tmp_path / "results")
    assert run_specs([tiny], reg, store, DataStore(data), Progress(quiet=True)).exit_code == 0
    record = store.read(tiny)
    labels = record.details["labels"]
    classes = 100 if dataset == "cifar100" else 10
    assert labels["counts"] == [4] * classes and labels["train"] == 4 * classes
    assert record.details["curves"][0]["loss"] is not None


def test_the_representation_curve_pretrains_each_method_once_for_every_budget_and_fold():
    from bench.protocols.representation import pretrain_identity

    reg = registry.load()
    suite = load_suite(SUITES / "label-efficiency-mnist-cpu.yaml", reg)
    cells = {
        (s.method, s.protocol_options.get("weights"), s.protocol_options["labels"], s.protocol_options["split_seed"])
        for s in suite.runs
    }
    assert len(cells) == len(suite.runs) == 3 * 2 * 4 * 3
    for method in ("mae", "ddae", "onepfrac"):
        runs = [s for s in suite.runs if s.method == method]
        identities = {repr(pretrain_identity(s, reg.methods[method])) for s in runs}
        assert len(identities) == 1, method
