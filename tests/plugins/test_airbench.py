"""airbench94 on small synthetic data: shapes, learning, whitening, determinism, budgets, sizes."""

from pathlib import Path

import pytest
import torch

from bench import LabelledImages, MethodSpec, TrainData
from bench.context import RunContext, bookkeeping
from bench.data.loader import Normalize
from bench.params import defaults
from bench.progress import Progress
from bench.specs import Budget
from bench_plugins.methods import airbench
from bench_plugins.methods.airbench import PARAMS, AirbenchNet, fit_airbench94, init_whitening_

#: Small enough for a CPU: a few hundred images, tiny widths, small batches. lr is per 1024
#: summed examples, so 4 epochs of 384 images move the weights ~1/300 as far as airbench's 476
#: steps of 1024: a larger lr lets the synthetic task be learnt in that little.
FAST = {
    "widths": (16, 32, 32),
    "batch_size": 64,
    "lr": 50.0,
    "whiten_samples": 200,
    "whiten_bias_epochs": 2,
    "ema_start_epochs": 1,
}


def synthetic(num_classes: int, n: int, seed: int, channels: int = 3, size: int = 32) -> LabelledImages:
    """Each class a fixed random 4x4 colour pattern upsampled to size x size, plus pixel noise;
    ``seed`` draws the noise and labels, the class patterns are the same for every seed."""
    fixed = torch.Generator().manual_seed(0)
    patterns = torch.randint(30, 226, (num_classes, channels, 4, 4), generator=fixed)
    patterns = torch.nn.functional.interpolate(patterns.float(), size=(size, size), mode="nearest")
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, num_classes, (n,), generator=g)
    images = patterns[labels] + 40 * torch.randn(n, channels, size, size, generator=g)
    classes = tuple(f"c{i}" for i in range(num_classes))
    return LabelledImages(images.clamp(0, 255).to(torch.uint8), labels, classes)


def make_ctx(train: LabelledImages, tmp: Path, *, seed: int = 0, epochs: float = 4, **params) -> RunContext:
    return RunContext(
        device=torch.device("cpu"),
        seed=seed,
        budget=Budget({"epochs": epochs}),
        params={**PARAMS, **FAST, **params},
        normalize=Normalize.fit(train.images),
        artifacts_dir=tmp,
        progress=Progress(quiet=True),
    )


def fit(train: LabelledImages, tmp: Path, **kwargs):
    ctx = make_ctx(train, tmp, **kwargs)
    model = fit_airbench94(TrainData(train=train, val=None, num_classes=train.num_classes), ctx)
    return model, ctx


@torch.no_grad()
def predict(model, data: LabelledImages, ctx: RunContext) -> torch.Tensor:
    return torch.cat([model(x) for x, _ in ctx.batches(data, 100, shuffle=False)])


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    train, test = synthetic(10, 384, seed=1), synthetic(10, 200, seed=2)
    model, ctx = fit(train, tmp_path_factory.mktemp("run"))
    return train, test, model, ctx


def test_registers_a_valid_classifier():
    specs = []
    airbench.bench_register_methods(register=specs.append)
    assert [s.name for s in specs] == ["airbench94"]
    spec: MethodSpec = specs[0]
    assert spec.kind == "classifier" and spec.budget == {"epochs": 9.9}
    params = defaults(spec.params)
    assert params["batch_size"] == 1024 and params["label_smoothing"] == 0.2


@pytest.mark.slow  # the trained fixture: a training, ~29 s of CPU (its loop runs fast in test_syncs)
def test_eval_mode_returns_tta_logits(trained):
    _, test, model, ctx = trained
    assert not model.training and model.tta_level == 2
    logits = predict(model, test, ctx)
    assert logits.shape == (len(test), 10) and torch.isfinite(logits).all()
    x = next(ctx.batches(test, 8, shuffle=False))[0]
    with torch.no_grad():
        plain = model.net(x)
        padded = torch.nn.functional.pad(x, (1,) * 4, mode="reflect")

        def mirror(v):
            return 0.5 * model.net(v) + 0.5 * model.net(v.flip(-1))

        expected = 0.5 * mirror(x) + 0.25 * mirror(padded[..., :32, :32]) + 0.25 * mirror(padded[..., 2:, 2:])
        assert torch.allclose(model(x), expected, atol=1e-5), "eval mode must average the 6 TTA views"
        assert not torch.allclose(model(x), plain), "TTA should change the logits"


@pytest.mark.slow  # the trained fixture: a training, ~29 s of CPU (its loop runs fast in test_syncs)
def test_training_learns(trained):
    train, test, model, ctx = trained
    losses = [e.loss for e in bookkeeping(ctx).epoch_log]
    assert len(losses) == 4 and losses[-1] < 0.7 * losses[0], f"loss did not fall: {losses}"
    accuracy = (predict(model, test, ctx).argmax(1) == test.labels).float().mean().item()
    assert accuracy > 0.6, f"held-out accuracy {accuracy:.2f} is not clearly above chance (0.10)"


@pytest.mark.slow  # the trained fixture: a training, ~29 s of CPU (its loop runs fast in test_syncs)
def test_whitening_is_set_from_data_and_frozen(trained):
    train, _, model, ctx = trained
    fresh = AirbenchNet(3, 10, FAST["widths"]).whiten.weight
    weight = model.net.whiten.weight
    assert weight.shape == (24, 3, 2, 2) and torch.isfinite(weight).all()
    assert not torch.allclose(weight, fresh)
    assert torch.equal(weight[:12], -weight[12:]), "filters come in +/- pairs"
    # Frozen: equal to a fresh whitening of the same images after training.
    conv = torch.nn.Conv2d(3, 24, 2)
    subset = train.subset(torch.arange(FAST["whiten_samples"]))
    init_whitening_(conv, list(ctx.batches(subset, 1000, shuffle=False)), PARAMS["whiten_eps"])
    assert torch.allclose(weight, conv.weight)
    # It whitens: the patches' covariance becomes diagonal (eigenvalues / (eigenvalues + eps)).
    x = ctx.normalize(subset.images)
    out = torch.nn.functional.conv2d(x, weight[:12]).permute(1, 0, 2, 3).reshape(12, -1)
    cov = out @ out.T / out.shape[1]
    assert (cov - torch.diag(cov.diag())).abs().max() < 1e-3
    assert ((cov.diag() > 0.5) & (cov.diag() <= 1 + 1e-4)).all()


@pytest.mark.slow  # two trainings: ~21 s of CPU
def test_deterministic_given_seed(tmp_path):
    train, test = synthetic(10, 192, seed=3), synthetic(10, 64, seed=4)
    runs = [fit(train, tmp_path, seed=seed, epochs=2) for seed in (5, 5, 6)]
    a, b, c = (predict(model, test, ctx) for model, ctx in runs)
    assert torch.equal(a, b), "two fits with the same seed must predict identically on CPU"
    assert not torch.equal(a, c)


@pytest.mark.slow  # a training: ~11 s of CPU
def test_hundred_classes_grayscale_and_28x28(tmp_path):
    train = synthetic(100, 256, seed=7)
    model, ctx = fit(train, tmp_path, epochs=1)
    assert predict(model, train, ctx).shape == (256, 100)
    small = synthetic(10, 128, seed=8, channels=1, size=28)
    model, ctx = fit(small, tmp_path, epochs=1)
    assert model.net.whiten.weight.shape == (8, 1, 2, 2)
    assert predict(model, small, ctx).shape == (128, 10)


def test_too_small_images_fail_clearly(tmp_path):
    with pytest.raises(ValueError, match="32x32"):
        fit(synthetic(10, 64, seed=9, size=8), tmp_path, epochs=1)


def test_fractional_epochs_stop_inside_the_last_epoch(tmp_path):
    train = synthetic(10, 200, seed=10)  # 3 full batches of 64 per epoch; the last 8 dropped
    _, ctx = fit(train, tmp_path, epochs=1.5)
    assert [e.images for e in bookkeeping(ctx).epoch_log] == [192, 128]  # ceil(3 * 1.5) = 5 steps


def test_no_flip_training_leaves_mirror_views_out_of_tta(tmp_path):
    train = synthetic(10, 128, seed=11)
    model, ctx = fit(train, tmp_path, epochs=1, flip=False)
    x = next(ctx.batches(train, 8, shuffle=False))[0]
    with torch.no_grad():
        padded = torch.nn.functional.pad(x, (1,) * 4, mode="reflect")
        shifted = model.net(padded[..., :32, :32]) + model.net(padded[..., 2:, 2:])
        expected = 0.5 * model.net(x) + 0.25 * shifted
        assert torch.allclose(model(x), expected, atol=1e-5)


def test_alternating_flip_shows_every_image_both_ways_in_each_pair_of_epochs(tmp_path, monkeypatch):
    """airbench's flip: mirrored at random once, then all mirrored on odd epochs; so over epochs 0
    and 1 each image is seen once as it is and once mirrored (random per-epoch flips would show
    half of them the same way twice)."""
    train = synthetic(4, 256, seed=3)
    seen = []
    made = airbench.AirbenchNet.__init__

    def init(self, *args, **kwargs):
        made(self, *args, **kwargs)
        self.whiten.register_forward_pre_hook(lambda m, args: seen.append(args[0].clone()) if m.training else None)

    monkeypatch.setattr(airbench.AirbenchNet, "__init__", init)
    fit(train, tmp_path, epochs=2, batch_size=256, translate=0, ema=False)
    assert len(seen) == 2  # one full batch per epoch
    ctx = make_ctx(train, tmp_path)
    plain = ctx.normalize(train.images.float())
    key = lambda batch: sorted(tuple(v.tolist()) for v in batch.flatten(1)[:, ::97])
    as_is = {tuple(v.tolist()) for v in plain.flatten(1)[:, ::97]}
    first, second = seen
    assert key(second) == key(first.flip(-1))  # epoch 1 = epoch 0, all mirrored
    share = sum(tuple(v.tolist()) in as_is for v in first.flatten(1)[:, ::97]) / len(first)
    assert 0.35 < share < 0.65  # epoch 0: mirrored at random
    assert torch.equal(airbench.epoch_view(first, 2), first) and torch.equal(
        airbench.epoch_view(first, 3), first.flip(-1)
    )


def test_declared_number_is_the_mean_of_1000_runs():
    (published,) = [p for p in registered().published]
    assert published.value == 94.01 and "n = 1000" in published.source and "25" not in published.source


def registered():
    specs = []
    airbench.bench_register_methods(register=specs.append)
    return specs[0]


def official_airbench94(monkeypatch):
    """The PyPI ``airbench`` package's airbench94 module, or a skip where it is not installed. Its
    top-level torchvision import only serves CIFAR-10 downloads; where torchvision is missing an
    empty module stands in for it. ``make_net94`` moves the net to fp16 on CUDA: here both moves
    are no-ops, so the official network is built (and initialised) in fp32 on the CPU."""
    import importlib.util
    import sys
    import types

    if importlib.util.find_spec("airbench") is None:
        pytest.skip("the PyPI package airbench is not installed (pip install airbench --no-deps)")
    if importlib.util.find_spec("torchvision") is None:
        fake = types.ModuleType("torchvision")
        fake.transforms = types.ModuleType("torchvision.transforms")
        monkeypatch.setitem(sys.modules, "torchvision", fake)
        monkeypatch.setitem(sys.modules, "torchvision.transforms", fake.transforms)
    from airbench import lib_airbench94, utils

    monkeypatch.setattr(torch.nn.Module, "half", lambda self: self)
    monkeypatch.setattr(torch.nn.Module, "cuda", lambda self, *a, **k: self)
    return lib_airbench94, utils


@pytest.mark.slow  # ~10 s of CPU
def test_a_training_step_matches_the_official_airbench94_arithmetic(monkeypatch):
    lib, utils = official_airbench94(monkeypatch)
    torch.manual_seed(0)
    theirs = lib.make_net94().float().to(memory_format=torch.contiguous_format)
    ours = AirbenchNet(3, 10)
    assert [t.shape for t in ours.state_dict().values()] == [t.shape for t in theirs.state_dict().values()]
    ours.load_state_dict(dict(zip(ours.state_dict(), theirs.state_dict().values())))
    train = synthetic(10, 64, seed=4)
    images = Normalize.fit(train.images)(train.images)
    # Whitening: the same filters up to the sign of each eigenvector (both signs are kept).
    utils.init_whitening_conv(theirs[0], images)
    init_whitening_(ours.whiten, [(images, None)], 5e-4)
    a, b = ours.whiten.weight.flatten(1), theirs[0].weight.flatten(1)
    same = torch.minimum((a - b).abs().amax(1), (a + b).abs().amax(1))
    assert (same < 1e-3 * b.abs().amax()).all()
    ours.whiten.weight.data.copy_(theirs[0].weight)
    # Three steps of the optimiser and lookahead on the same batch, from the same weights.
    hyp = lib.hyp["opt"]
    p = {
        **PARAMS,
        "lr": hyp["lr"],
        "momentum": hyp["momentum"],
        "weight_decay": hyp["weight_decay"],
        "bias_scaler": hyp["bias_scaler"],
        "label_smoothing": hyp["label_smoothing"],
    }
    batch = len(images)
    opt_ours = airbench.make_optimizer(ours, p, batch)
    scale = 1024 * (1 + 1 / (1 - hyp["momentum"]))  # the official train(): the same groups
    lr, wd = hyp["lr"] / scale, hyp["weight_decay"] * batch / scale
    norm = [q for k, q in theirs.named_parameters() if "norm" in k and q.requires_grad]
    other = [q for k, q in theirs.named_parameters() if "norm" not in k and q.requires_grad]
    opt_theirs = torch.optim.SGD(
        [
            dict(params=norm, lr=lr * hyp["bias_scaler"], weight_decay=wd / (lr * hyp["bias_scaler"])),
            dict(params=other, lr=lr, weight_decay=wd / lr),
        ],
        momentum=hyp["momentum"],
        nesterov=True,
    )
    ours_loss = torch.nn.CrossEntropyLoss(label_smoothing=p["label_smoothing"], reduction="sum")
    theirs_loss = torch.nn.CrossEntropyLoss(label_smoothing=hyp["label_smoothing"], reduction="none")
    ema_ours, ema_theirs = airbench.Lookahead(ours), utils.LookaheadState(theirs)
    for _ in range(3):
        ours.train(), theirs.train()
        loss_a = ours_loss(ours(images), train.labels)
        loss_b = theirs_loss(theirs(images), train.labels).sum()
        assert loss_a.item() == pytest.approx(loss_b.item(), rel=1e-5)
        for opt, loss in ((opt_ours, loss_a), (opt_theirs, loss_b)):
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        ema_ours.update(0.5)
        ema_theirs.update(theirs, decay=0.5)
    for (name, x), y in zip(ours.state_dict().items(), theirs.state_dict().values()):
        assert torch.allclose(x.float(), y.float(), rtol=1e-4, atol=1e-5), name
    ours.eval(), theirs.eval()
    assert torch.allclose(ours(images), theirs(images), rtol=1e-4, atol=1e-5)
