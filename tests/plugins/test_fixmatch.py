"""FixMatch (plugins/methods/fixmatch.py) against the paper's arithmetic on tiny batches, and its
supervised-only control through the host's label budget; the FixMatch / USB suites (GPU jobs):
validated here, and each one's first cell run for two steps of a tiny network on fake files of its
dataset, through the host's label budget."""

import math
from dataclasses import replace
from pathlib import Path

import pytest
import torch

import fakedata
import toy
from bench import registry
from bench.context import RunContext
from bench.data.store import DataStore
from bench.progress import Progress
from bench.records import ResultStore
from bench.runner import run_specs
from bench.suite import load_suite
from bench_plugins.methods import fixmatch as fm


def cross_entropy(logits, label):
    return math.log(sum(math.exp(v) for v in logits)) - logits[label]


def softmax_max(logits):
    z = sum(math.exp(v) for v in logits)
    return max(math.exp(v) / z for v in logits)


def test_threshold_mask_and_loss_follow_the_paper():
    logits_x = torch.tensor([[2.0, 0.0, 1.0], [0.0, 3.0, 0.0]])
    labels = torch.tensor([0, 2])
    weak = [[4.0, 0.0, 0.0], [2.0, 0.0, 0.0], [0.0, 0.0, 5.0], [0.0, 3.5, 0.5]]
    strong = torch.tensor([[1.0, 1.0, 0.0], [0.0, 2.0, 0.0], [1.0, 0.0, 1.0], [0.5, 0.5, 0.5]])
    tau, lambda_u = 0.95, 0.5

    targets, mask = fm.pseudo_labels(torch.tensor(weak), tau)
    expected_mask = [1.0 if softmax_max(w) >= tau else 0.0 for w in weak]
    assert expected_mask == [1.0, 0.0, 1.0, 0.0]  # 0.965, 0.787, 0.987, 0.936
    assert mask.tolist() == expected_mask and targets.tolist() == [0, 0, 2, 1]

    loss, parts = fm.fixmatch_loss(logits_x, labels, torch.tensor(weak), strong, tau, lambda_u)
    loss_x = (cross_entropy([2, 0, 1], 0) + cross_entropy([0, 3, 0], 2)) / 2
    # Masked images count zero in the mean over all mu B unlabelled images.
    loss_u = (cross_entropy([1, 1, 0], 0) + cross_entropy([1, 0, 1], 2)) / 4
    assert parts["loss_x"].item() == pytest.approx(loss_x, rel=1e-6)
    assert parts["loss_u"].item() == pytest.approx(loss_u, rel=1e-6)
    assert parts["mask"].item() == 0.5
    assert loss.item() == pytest.approx(loss_x + lambda_u * loss_u, rel=1e-6)


def test_no_gradient_flows_through_the_pseudo_label():
    weak = torch.tensor([[5.0, 0.0]], requires_grad=True)
    strong = torch.tensor([[0.0, 1.0]], requires_grad=True)
    loss, _ = fm.fixmatch_loss(torch.zeros(1, 2), torch.tensor([0]), weak, strong, 0.5, 1.0)
    loss.backward()
    assert weak.grad is None and strong.grad.abs().sum() > 0


def test_ema_starts_at_the_weights_and_averages_parameters_not_statistics():
    model = torch.nn.Sequential(torch.nn.Linear(2, 1), torch.nn.BatchNorm1d(1))
    ema = fm.EMA(model, decay=0.999)
    start = model[0].weight.detach().clone()
    with torch.no_grad():
        model[0].weight.add_(1.0)
        model[1].running_mean.fill_(3.0)
    ema.update(model)
    torch.testing.assert_close(ema.model[0].weight, 0.999 * start + 0.001 * (start + 1.0))
    assert ema.model[1].running_mean.item() == 3.0  # the live model's statistics
    assert not any(p.requires_grad for p in ema.model.parameters())


def test_schedule_optimizer_and_network_are_the_official_ones():
    assert fm.cosine_factor(0, 100) == 1.0
    assert fm.cosine_factor(100, 100) == pytest.approx(math.cos(7 * math.pi / 16))
    assert fm.cosine_factor(500, 100) == fm.cosine_factor(100, 100)  # clipped at K

    params = {"scales": 0, "filters": 32, "repeat": 4, "bn_momentum": 0.001}
    net = fm.build_network((3, 32, 32), 10, params)
    assert len(net.blocks) == 12 and net.fc.in_features == 128  # 3 stages of 4 blocks: 32, 64, 128
    assert net(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    assert len(fm.build_network((1, 28, 28), 10, params).blocks) == 8  # log2(28) - 2 = 2 stages
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 1 + 12 * 2 + 3  # stem, two per block, a 1x1 shortcut where each stage widens

    optimizer = fm._optimizer(net, {"lr": 0.03, "weight_decay": 5e-4})
    decayed, plain = optimizer.param_groups
    assert decayed["nesterov"] and decayed["momentum"] == 0.9 and decayed["lr"] == 0.03
    assert all(p.ndim > 1 for p in decayed["params"]) and decayed["weight_decay"] == 5e-4
    assert all(p.ndim == 1 for p in plain["params"]) and plain["weight_decay"] == 0.0


def test_fixmatch_and_its_control_train_under_a_label_budget(tmp_path, monkeypatch):
    views = []
    original = RunContext.view_batches

    def counting(self, *args, **kwargs):
        views.append(self.params.get("mu"))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(RunContext, "view_batches", counting)
    reg = registry.load(extra_plugins=[("toy", toy)])
    path = tmp_path / "suite.yaml"
    small = "{filters: 4, repeat: 1, batch_size: 4, flip: false, shift: 1}"
    path.write_text(
        "runs:\n  - datasets: toy\n    methods:\n"
        f"      - {{name: fixmatch, params: {{mu: 2, cutout: 3, {small[1:]}, budget: {{iterations: 3}}}}\n"
        f"      - {{name: fixmatch-supervised, params: {small}, budget: {{iterations: 3}}}}\n"
        "    protocol: {name: classify, labels: 2, holdout: 0.0}\n"
    )
    suite = load_suite(path, reg)
    store = ResultStore(tmp_path / "results")
    outcome = run_specs(suite.runs, reg, store, DataStore(tmp_path / "data"), Progress(quiet=True))
    assert outcome.exit_code == 0
    records = [store.read(spec) for spec in suite.runs]
    assert all(0 <= r.metrics["test_accuracy"] <= 100 for r in records)
    assert records[0].details["labels"]["indices_sha256"] == records[1].details["labels"]["indices_sha256"]
    assert views == [2]  # FixMatch drew (weak, strong) views of the pool; the control never did


# -- the FixMatch / USB suites ----------------------------------------------------------------------

SUITES = Path(__file__).parents[2] / "suites"

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
