"""bench.protocols.linear_probe: the probe against an exact minimiser on raw pixels, its sweep chosen
on held-out training images, heads trained from one pass as they would alone, LARS as MAE's."""

import numpy as np
import pytest
import scipy.optimize
import torch

import repr_toy
from bench.data.store import DataStore
from bench.progress import Progress
from bench.records import ResultStore
from bench.runner import run_specs
from bench.suite import load_suite
from repr_runs import blobs_arrays, load_registry, probe_context, run_suite


@pytest.fixture
def reg():
    return load_registry()


def test_linear_probe_matches_an_independent_lbfgs_solution(tmp_path, reg):
    """Raw pixels, one (lr, weight decay) point, no holdout: the protocol's Adam fit must reach the
    test accuracy of the exact minimiser of mean cross-entropy + wd/2 ||W||^2 on standardised pixels."""
    wd = 0.01
    _, _, _, (record,) = run_suite(
        tmp_path,
        reg,
        f"""
runs:
  - datasets: blobs
    methods: raw-pixels
    protocol: {{name: linear-probe, holdout: 0.0, lrs: [0.05], weight_decays: [{wd}], epochs: 300, batch_size: 300}}
""",
    )
    (x, y), (xt, yt) = blobs_arrays()
    mean, std = x.mean(0), x.std(0)
    x, xt = (x - mean) / (std + 1e-6), (xt - mean) / (std + 1e-6)
    n, d, c = x.shape[0], x.shape[1], repr_toy.CLASSES
    onehot = np.eye(c)[y]

    def objective(theta):
        w, b = theta[: d * c].reshape(c, d), theta[d * c :]
        logits = x @ w.T + b
        logits -= logits.max(1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(1, keepdims=True)
        loss = -np.log((p * onehot).sum(1)).mean() + wd / 2 * (w**2).sum()
        g = (p - onehot) / n
        return loss, np.concatenate([(g.T @ x + wd * w).ravel(), g.sum(0)])

    theta = scipy.optimize.minimize(
        objective, np.zeros(d * c + c), jac=True, method="L-BFGS-B", options={"maxiter": 2000, "gtol": 1e-10}
    ).x
    w, b = theta[: d * c].reshape(c, d), theta[d * c :]
    expected = 100.0 * ((xt @ w.T + b).argmax(1) == yt).mean()
    assert 40 < expected < 98, "the toy task should be neither trivial nor hopeless"
    assert record.metrics["test_accuracy"] == pytest.approx(expected, abs=100 / len(yt) + 1e-9)
    assert record.details["probe"]["chosen"] == {"lr": 0.05, "weight_decay": wd}
    assert record.metric_info["test_accuracy"]["protocol"] == "linear-probe"


def test_linear_probe_sweep_is_chosen_on_held_out_training_images(tmp_path, reg):
    _, _, _, (record,) = run_suite(
        tmp_path,
        reg,
        """
runs:
  - datasets: blobs
    methods: raw-pixels
    protocol: {name: linear-probe, holdout: 0.2, lrs: [0.05], weight_decays: [0.001, 50.0], epochs: 20}
""",
    )
    sweep = record.details["probe"]["sweep"]
    assert [p["weight_decay"] for p in sweep] == [0.001, 50.0]
    assert record.details["probe"]["chosen"]["weight_decay"] == 0.001  # 50 crushes the weights
    assert record.metrics["val_accuracy"] == max(p["val_accuracy"] for p in sweep)
    assert record.details["split"]["val"] == 60 and record.throughput["feature_images_per_s"]["items_per_s"] > 0


def test_a_sweep_without_holdout_is_refused(tmp_path, reg):
    path = tmp_path / "suite.yaml"
    path.write_text("runs: [{datasets: blobs, methods: raw-pixels, protocol: {name: linear-probe, holdout: 0.0}}]\n")
    suite = load_suite(path, reg)
    store = ResultStore(tmp_path / "r")
    run_specs(suite.runs, reg, store, DataStore(tmp_path / "data"), Progress(quiet=True))
    record = store.read(suite.runs[0])
    assert record.status == "failed" and "held-out" in record.error.message


@pytest.mark.parametrize("setting", ["ddae-official", "mae-official"])
def test_heads_trained_from_one_pass_equal_separate_probes(setting):
    """Each head of a sweep trains as it would alone: the same gradients (Adam), its own BatchNorm
    statistics and LARS norms (mae-official)."""
    from bench.data.loader import Augment
    from bench.protocols.linear_probe import LinearHeads, head_accuracies, train_heads

    data = repr_toy.load_blobs("train", None)
    projections = [torch.randn(36, d, generator=torch.Generator().manual_seed(d)) for d in (5, 12, 36)]
    read_all = lambda x: [x.flatten(1) @ w for w in projections]  # three read-outs of widths 5, 12, 36
    fit = dict(epochs=3, batch_size=64, lr=0.01, weight_decay=1e-3, augment=Augment(flip=True, crop_padding=1))
    head_options = {}
    if setting == "mae-official":
        fit.update(lr=0.5, weight_decay=0.0, optimizer="lars", lr_schedule="step", warmup_epochs=1.0)
        fit["augment"] = Augment(resized_crop=(0.5, 1.0), flip=True)
        head_options = dict(norm=True, init_std=0.01)
    ctx = probe_context(data.images)
    heads = LinearHeads([5, 12, 36], repr_toy.CLASSES, generator=torch.Generator().manual_seed(0), **head_options)
    starts = [heads.select(k) for k in range(3)]
    train_heads(read_all, heads, data, ctx, **fit)
    together = head_accuracies(read_all, heads, data, ctx, 100)
    for k, head in enumerate(starts):
        ctx = probe_context(data.images)  # the same batches and augmentations
        train_heads(lambda x, k=k: [read_all(x)[k]], head, data, ctx, **fit)
        alone = heads.select(k)
        assert torch.allclose(alone.weight, head.weight, atol=1e-5) and torch.allclose(alone.bias, head.bias, atol=1e-5)
        assert head_accuracies(lambda x, k=k: [read_all(x)[k]], head, data, ctx, 100)[0] == pytest.approx(together[k])
    assert torch.all(heads.weight[0, 5:] == 0)  # padding stays out of the heads
    if setting == "mae-official":  # BatchNorm's running statistics moved, each head's its own
        assert not torch.allclose(heads.select(0).norm.running_var, torch.ones(5))
        assert torch.allclose(heads.select(1).norm.running_mean, starts[1].norm.running_mean)


def test_lars_is_maes_arithmetic_on_a_linear_head():
    """Our LARS on a one-head LinearHeads against facebookresearch/mae util/lars.py's update
    (written out here for a plain (C, D) Linear): the same weights after steps with weight decay."""
    from bench.protocols.linear_probe import Lars, LinearHeads

    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(64, 7, generator=g), torch.randint(0, 3, (64,), generator=g)
    heads = LinearHeads([7], 3, generator=g, init_std=0.01)
    ref_w = heads.weight[0].detach().t().clone().requires_grad_()  # (C, D) as torch.nn.Linear's
    ref_b = heads.bias[0].detach().clone().requires_grad_()
    ours = Lars([{"params": [heads.weight], "weight_decay": 0.1}, {"params": [heads.bias], "trust": False}], lr=2.0)
    mu = {}
    for _ in range(5):
        ours.zero_grad()
        torch.nn.functional.cross_entropy(heads([x])[0], y).backward()
        ours.step()
        loss = torch.nn.functional.cross_entropy(x @ ref_w.t() + ref_b, y)
        grads = torch.autograd.grad(loss, [ref_w, ref_b])
        with torch.no_grad():
            for name, p, dp in (("w", ref_w, grads[0]), ("b", ref_b, grads[1])):
                if p.ndim > 1:  # util/lars.py: weight decay and trust ratio for >1-D parameters only
                    dp = dp.add(p, alpha=0.1)
                    q = torch.where(p.norm() > 0, torch.where(dp.norm() > 0, 0.001 * p.norm() / dp.norm(), 1.0), 1.0)
                    dp = dp.mul(q)
                mu[name] = mu.get(name, torch.zeros_like(p)).mul(0.9).add(dp)
                p.add_(mu[name], alpha=-2.0)
    assert torch.allclose(heads.weight[0].t(), ref_w, atol=1e-6) and torch.allclose(heads.bias[0], ref_b, atol=1e-6)
    assert not torch.allclose(ref_b, heads.bias.new_zeros(3))  # the bias moved (plain momentum SGD)


def test_heads_start_normal_of_the_given_std_with_zero_bias_and_zero_padding():
    from bench.protocols.linear_probe import LinearHeads

    heads = LinearHeads([400, 3], 10, generator=torch.Generator().manual_seed(0), init_std=0.01)
    assert heads.weight[0].std().item() == pytest.approx(0.01, rel=0.05) and torch.all(heads.bias == 0)
    assert torch.all(heads.weight[1, 3:] == 0)
