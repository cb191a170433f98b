"""Linear probe: a linear classifier on frozen features; ``probe`` names the setting.

``probe: cached`` (the default, fast): features extracted once, as below. Any other ``probe`` is a
per-step probe the method registers (``RepresentationLearner(probes={name: bench.Setting(...)})``:
MAE and DDAE register their official repositories' ``mae-official`` and ``ddae-official``; ``bench
plugins METHOD`` lists them). A per-step probe (``per_step_probe``) re-extracts features at every
step from augmented images (``flip``, ``crop_padding``, ``resized_crop``) with the encoder's own
randomness (DDAE: fresh diffusion noise), the encoder frozen and in eval mode; its head is a Linear
(PyTorch's init, or trunc-normal with ``head_init_std``), after a BatchNorm1d without affine with
``head_norm: batchnorm`` (eps 1e-6, batch statistics in training, running ones at test), trained
by Adam or LARS (``optimizer``; :class:`Lars`, MAE's util/lars.py) with a cosine per epoch or a
warm-up + cosine per step (``lr_schedule``).

With a ``feature_sweep`` the heads of every read-out are trained together from one encoder pass per
step (an encoder with ``read_outs`` gives them all from one call; DDAE: one UNet pass per
timestep), each exactly as it would be alone (its own BatchNorm statistics and LARS norms), and the
best on the held-out part is scored on the test split. The official probes train on all the
training images: give ``holdout: 0`` (without a feature sweep) to match them.

The cached probe:

1. Features of the train part, the held-out part and the test split, extracted once by the frozen
   encoder (see ``bench.protocols.representation``).
2. Feature normalisation: each dimension standardised with the training features' mean and
   standard deviation (what the MAE linear probe's BatchNorm without affine parameters does).
3. A linear layer trained with softmax cross-entropy plus (weight_decay / 2) * ||W||^2 (the bias is
   not decayed) by Adam with a cosine schedule, mini-batches from a seeded generator.
4. The learning rate x weight decay sweep is scored on the held-out part of the training split;
   the best point is re-trained on the whole training split and scored once on the test split.
   With a ``feature_sweep`` each read-out is scored by its best sweep point on the held-out part.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace

import torch

from bench.context import bookkeeping
from bench.data.loader import Augment
from bench.protocols import SETTINGS, check_feature_sweep
from bench.protocols.finetune import lr_factor
from bench.protocols.representation import (
    accuracy_info,
    apply_setting,
    choose_features,
    common_sections,
    extract_splits,
    feature_candidates,
    feature_throughput,
    prepare,
    read_out,
)
from bench.specs import Setting

PROTOCOL = "linear-probe"


class LinearHeads(torch.nn.Module):
    """K linear classifiers trained as one: weights (K, D, C) over features zero-padded to the widest
    D (padded rows start at zero and get no gradient, so each head is exactly a Linear on its own
    features); initialised as torch.nn.Linear (uniform in +-1/sqrt(its width)), or with
    ``init_std`` > 0 truncated-normal weights of that std and zero biases. With ``norm`` each head's
    features first pass a BatchNorm1d without affine (eps 1e-6, MAE's linear probe): one BatchNorm
    over the K x D padded columns, so every head has its own statistics (a padded column stays 0)."""

    def __init__(
        self,
        dims: list[int],
        num_classes: int,
        device=None,
        generator: torch.Generator | None = None,
        *,
        norm: bool = False,
        init_std: float = 0.0,
    ):
        super().__init__()
        width = max(dims)
        bound = torch.tensor([1 / math.sqrt(d) for d in dims], device=device)[:, None, None]
        rows = torch.arange(width, device=device)[None, :, None] < torch.tensor(dims, device=device)[:, None, None]
        if init_std:
            w = torch.randn(len(dims), width, num_classes, device=device, generator=generator) * init_std
            weight, bias = w.clamp(-2, 2) * rows, torch.zeros(len(dims), num_classes, device=device)  # timm's bounds
        else:
            u = torch.rand(len(dims), width + 1, num_classes, device=device, generator=generator) * 2 - 1
            weight, bias = u[:, :width] * bound * rows, u[:, width] * bound[:, 0]
        self.dims = list(dims)
        self.weight = torch.nn.Parameter(weight)  # (K, D, C)
        self.bias = torch.nn.Parameter(bias)  # (K, C)
        self.norm = torch.nn.BatchNorm1d(len(dims) * width, affine=False, eps=1e-6, device=device) if norm else None

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        k, width = self.weight.shape[:2]
        x = torch.stack([torch.nn.functional.pad(f, (0, width - f.shape[1])) for f in features])  # (K, B, D)
        if self.norm is not None:
            b = x.shape[1]
            x = self.norm(x.transpose(0, 1).reshape(b, k * width)).reshape(b, k, width).transpose(0, 1)
        return torch.baddbmm(self.bias[:, None], x, self.weight)  # (K, B, C)

    def select(self, k: int) -> LinearHeads:
        """Head k alone, as a LinearHeads of one (a copy, in this one's mode)."""
        d, width = self.dims[k], self.weight.shape[1]
        one = LinearHeads([d], self.bias.shape[1], device=self.bias.device, norm=self.norm is not None)
        with torch.no_grad():
            one.weight.copy_(self.weight[k : k + 1, :d])
            one.bias.copy_(self.bias[k : k + 1])
            if self.norm is not None:
                assert one.norm is not None, "made with norm=True above"
                for name in ("running_mean", "running_var"):
                    getattr(one.norm, name).copy_(getattr(self.norm, name)[k * width : k * width + d])
                tracked, source = one.norm.num_batches_tracked, self.norm.num_batches_tracked
                assert tracked is not None and source is not None, "these norms track running statistics"
                tracked.copy_(source)
        return one.train(self.training)


class Lars(torch.optim.Optimizer):
    """LARS as facebookresearch/mae util/lars.py: momentum SGD whose update of a weight is first
    given weight decay and then scaled by ``trust_coefficient * ||w|| / ||update||``; parameters of
    a group with ``trust: False`` (biases) get neither. Norms are taken per slice of dimension 0
    (one per stacked head), so each of LinearHeads' heads moves exactly as it would alone."""

    def __init__(self, params, lr: float, weight_decay: float = 0.0, momentum: float = 0.9, trust_coefficient=0.001):
        super().__init__(
            params,
            dict(lr=lr, weight_decay=weight_decay, momentum=momentum, trust_coefficient=trust_coefficient, trust=True),
        )

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                update = p.grad
                if group["trust"]:
                    update = update.add(p, alpha=group["weight_decay"])
                    dims = tuple(range(1, p.ndim))
                    p_norm, u_norm = p.norm(dim=dims, keepdim=True), update.norm(dim=dims, keepdim=True)
                    trust = torch.where((p_norm > 0) & (u_norm > 0), group["trust_coefficient"] * p_norm / u_norm, 1.0)
                    update = update * trust
                mu = self.state[p].setdefault("mu", torch.zeros_like(p))
                mu.mul_(group["momentum"]).add_(update)
                p.add_(mu, alpha=-group["lr"])


def train_heads(
    read,
    heads: LinearHeads,
    data,
    ctx,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    weight_decay: float,
    augment: Augment | None,
    optimizer: str = "adam",
    lr_schedule: str = "epoch",
    warmup_epochs: float = 0.0,
) -> LinearHeads:
    """Train every head on features read afresh at each step: ``read(images) -> [features (B, D_k)]``
    (no gradient into the encoder). ``optimizer``: Adam (L2 ``weight_decay`` on the weights) or
    :class:`Lars`; ``lr_schedule``: ``epoch``, a cosine stepped per epoch (CosineAnnealingLR(T_max=
    epochs), DDAE's), or ``step``, linear warm-up over ``warmup_epochs`` then a half-cosine to 0 per
    step (MAE's lr_sched). The loss is the sum of the heads' mean cross-entropies, so each head gets
    exactly the gradient it would alone."""
    groups = [{"params": [heads.weight], "weight_decay": weight_decay}, {"params": [heads.bias], "weight_decay": 0.0}]
    opt: torch.optim.Optimizer
    if optimizer == "lars":
        groups[1]["trust"] = False
        opt = Lars(groups, lr=lr)
    else:
        opt = torch.optim.Adam(groups, lr=lr)
    steps_per_epoch = math.ceil(len(data) / batch_size)
    steps = epochs * steps_per_epoch
    if lr_schedule == "step":
        factor = lr_factor(
            "step",
            steps=steps,
            warmup=round(warmup_epochs * steps_per_epoch),
            steps_per_epoch=steps_per_epoch,
            epochs=epochs,
            warmup_epochs=warmup_epochs,
        )
    else:

        def factor(step: int) -> float:
            return 0.5 * (1 + math.cos(math.pi * (step // steps_per_epoch) / epochs))

    schedule = torch.optim.lr_scheduler.LambdaLR(opt, factor)
    k = len(heads.dims)
    heads.train()
    for _ in ctx.epochs(epochs):
        for images, labels in ctx.batches(data, batch_size, augment=augment):
            with torch.no_grad(), ctx.autocast():
                features = [f.float() for f in read(ctx.layout(images))]
            logits = heads(features)  # (K, B, C)
            loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), labels.repeat(k)) * k
            ctx.optimize(loss, opt, schedule, n=len(images))
    return heads.eval()


@torch.no_grad()
def head_accuracies(read, heads: LinearHeads, data, ctx, batch_size: int) -> list[float]:
    """Top-1 accuracy in % of every head on ``data`` (features read once per batch, no augmentation)."""
    correct = torch.zeros(len(heads.dims), device=ctx.device)
    for images, labels in ctx.batches(data, batch_size, shuffle=False):
        with ctx.autocast():
            features = [f.float() for f in read(ctx.layout(images))]
        correct += (heads(features).argmax(2) == labels).sum(1)
    return (100.0 * correct / len(data)).tolist()


def reader(prepared, spec, method, env, choices: list[dict]):
    """``read(images, ks=None) -> [features]`` for the read-outs ``ks`` (indices into ``choices``;
    None: all of them): one call of the encoder's ``read_outs`` when it has one, else one encoder
    per read-out (rebuilt with those params once, here)."""
    if hasattr(prepared.encoder, "read_outs"):
        return lambda images, ks=None: prepared.encoder.read_outs(
            images, choices if ks is None else [choices[k] for k in ks]
        )
    if choices == [{}]:
        return lambda images, ks=None: [prepared.encoder(images)]
    encoders = [read_out(prepared, spec, method, env, c)[0] for c in choices]
    return lambda images, ks=None: [encoders[k](images) for k in (range(len(encoders)) if ks is None else ks)]


def per_step_probe(spec, method, dataset, env, overrides: dict, probe: Setting) -> dict:
    """A per-step probe (module docstring): every read-out's head trained together on features
    re-read at each step, the best on the held-out part scored on the test split."""
    options = spec.protocol_options
    check_per_step(options, method)
    prepared = prepare(spec, method, dataset, env)
    ctx, batch = prepared.ctx, options["eval_batch_size"]
    choices = feature_candidates(options) or [{}]
    read = reader(prepared, spec, method, env, choices)
    with torch.no_grad(), ctx.autocast():
        dims = [f.shape[1] for f in read(ctx.layout(ctx.normalize(prepared.train.images[:2])))]
    scale = options["resized_crop"]
    augment = Augment(
        resized_crop=tuple(scale) if scale else None, crop_padding=options["crop_padding"], flip=options["flip"]
    )
    t_probe = time.perf_counter()
    heads = fit_heads(read, dims, prepared, options, augment, dataset.num_classes)
    best, metrics = score_heads(read, heads, prepared, options, choices)
    probe_seconds = time.perf_counter() - t_probe

    sections = common_sections(prepared, PROTOCOL, options)
    sections["throughput"]["feature_images_per_s"] = feature_throughput(prepared.encoder, prepared.test, ctx, batch)
    rate = bookkeeping(ctx).train_throughput()
    if rate is not None:
        sections["throughput"]["probe_images_per_s"] = rate
    sections["timings"].update(probe_seconds=round(probe_seconds, 3))
    sections["details"].update(
        feature_dim=int(dims[best]),
        probe=per_step_details(options, overrides, probe, len(choices), bookkeeping(ctx).curves),
    )
    what = (
        f"linear classifier on frozen features re-extracted every step (probe {options['probe']}), "
        f"trained on {len(prepared.train)} training images"
    )
    return {"metrics": metrics, "metric_info": accuracy_info(PROTOCOL, what, prepared, options), **sections}


def check_per_step(options: dict, method) -> None:
    """A per-step probe trains one lr and weight decay; its feature sweep must be the method's."""
    if len(options["lrs"]) != 1 or len(options["weight_decays"]) != 1:
        raise ValueError(
            f"linear-probe: probe {options['probe']} trains one lr and weight decay; "
            f"got lrs {options['lrs']} and weight_decays {options['weight_decays']}"
        )
    problems = check_feature_sweep(options["feature_sweep"], method, options["holdout"])
    if problems:
        raise ValueError("feature_sweep: " + "; ".join(problems))


def fit_heads(read, dims: list[int], prepared, options: dict, augment: Augment, num_classes: int) -> LinearHeads:
    """One head per read-out (of widths ``dims``), all trained together on the train part."""
    heads = LinearHeads(
        dims,
        num_classes,
        device=prepared.ctx.device,
        generator=prepared.ctx.generator,
        norm=options["head_norm"] == "batchnorm",
        init_std=options["head_init_std"],
    )
    return train_heads(
        read,
        heads,
        prepared.train,
        prepared.ctx,
        epochs=options["epochs"],
        batch_size=options["batch_size"],
        lr=options["lrs"][0],
        weight_decay=options["weight_decays"][0],
        augment=augment,
        optimizer=options["optimizer"],
        lr_schedule=options["lr_schedule"],
        warmup_epochs=options["warmup_epochs"],
    )


def score_heads(read, heads: LinearHeads, prepared, options: dict, choices: list[dict]) -> tuple[int, dict]:
    """(the head chosen on the held-out part (the first without one), its accuracies): the held-out
    accuracy and the test accuracy of that head alone. A feature sweep's points go to ``prepared.features``."""
    ctx, batch = prepared.ctx, options["eval_batch_size"]
    best, metrics = 0, {}
    if prepared.val is not None:
        val = head_accuracies(read, heads, prepared.val, ctx, batch)
        best = max(range(len(val)), key=val.__getitem__)  # ties: the first listed
        metrics["val_accuracy"] = val[best]
        if choices != [{}]:
            prepared.features = {
                "sweep": options["feature_sweep"],
                "chosen": choices[best],
                "points": [{**c, "val_accuracy": a} for c, a in zip(choices, val)],
                "criterion": "held-out accuracy of its head, all heads trained in the same passes",
            }
    chosen = heads.select(best)
    metrics["test_accuracy"] = head_accuracies(lambda x: read(x, [best]), chosen, prepared.test, ctx, batch)[
        0
    ]  # one read-out
    return best, metrics


def per_step_details(options: dict, overrides: dict, probe: Setting, heads: int, curves: list[dict]) -> dict:
    """The record's ``details.probe`` of a per-step probe: the setting, its overrides and what it lacks, and how it trained."""
    return {
        "setting": options["probe"],
        "overrides": overrides,
        "missing": list(probe.missing),
        "features": "re-extracted at every step from augmented images (the encoder's own noise each time), "
        + ("BatchNorm1d without affine before the head" if options["head_norm"] == "batchnorm" else "not normalised"),
        "augmentation": {
            "resized_crop": options["resized_crop"] or None,
            "flip": options["flip"],
            "crop_padding": options["crop_padding"],
        },
        "optimizer": {"adam": "Adam, L2 on weights", "lars": "LARS (momentum 0.9, trust 0.001)"}[options["optimizer"]],
        "lr_schedule": "cosine per epoch"
        if options["lr_schedule"] == "epoch"
        else f"{options['warmup_epochs']} warm-up epochs + cosine, per step",
        "head_init_std": options["head_init_std"] or "PyTorch's Linear init",
        "epochs": options["epochs"],
        "batch_size": options["batch_size"],
        "lr": options["lrs"][0],
        "weight_decay": options["weight_decays"][0],
        "heads": heads,
        "curves": curves,
    }


def standardize(train: torch.Tensor, *others: torch.Tensor, eps: float = 1e-6) -> list[torch.Tensor]:
    """Each feature dimension to zero mean and unit variance with ``train``'s statistics."""
    mean = train.mean(0, keepdim=True)
    std = train.std(0, unbiased=False, keepdim=True)
    return [(x - mean) / (std + eps) for x in (train, *others)]


def train_linear(
    features: torch.Tensor,
    labels: torch.Tensor,
    num_classes: int,
    *,
    lr: float,
    weight_decay: float,
    epochs: int,
    batch_size: int,
    generator: torch.Generator,
) -> torch.nn.Linear:
    """A linear classifier on standardised features: Adam, cosine schedule over all steps."""
    head = torch.nn.Linear(features.shape[1], num_classes).to(features.device)
    torch.nn.init.zeros_(head.weight)
    torch.nn.init.zeros_(head.bias)
    optimizer = torch.optim.Adam(
        [
            {"params": [head.weight], "weight_decay": weight_decay},
            {"params": [head.bias], "weight_decay": 0.0},
        ],
        lr=lr,
    )
    n = features.shape[0]
    steps = epochs * math.ceil(n / batch_size)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 0.5 * (1 + math.cos(math.pi * s / steps)))
    for _ in range(epochs):
        order = torch.randperm(n, device=features.device, generator=generator)
        for start in range(0, n, batch_size):
            index = order[start : start + batch_size]
            loss = torch.nn.functional.cross_entropy(head(features[index]), labels[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
    return head.eval()


@torch.no_grad()
def top1(head: torch.nn.Linear, features: torch.Tensor, labels: torch.Tensor) -> float:
    return 100.0 * (head(features).argmax(1) == labels).float().mean().item()


def sweep_probe(
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    val_x: torch.Tensor,
    val_y: torch.Tensor,
    sweep: list[tuple[float, float]],
    num_classes: int,
    **fit,
) -> list[dict]:
    """Held-out accuracy of a probe trained on the train part at each (lr, weight decay)."""
    tx, vx = standardize(train_x, val_x)
    points = []
    for lr, wd in sweep:
        head = train_linear(tx, train_y, num_classes, lr=lr, weight_decay=wd, **fit)
        points.append({"lr": lr, "weight_decay": wd, "val_accuracy": top1(head, vx, val_y)})
    return points


def run(spec, method, dataset, env) -> dict:
    options, overrides, probe = apply_setting(spec.protocol_options, PROTOCOL, method)
    spec = replace(spec, protocol_options=options)
    if options["probe"] != SETTINGS[PROTOCOL].default:
        return per_step_probe(spec, method, dataset, env, overrides, probe)
    sweep = [(float(lr), float(wd)) for lr in options["lrs"] for wd in options["weight_decays"]]
    if not sweep:
        raise ValueError("linear-probe: lrs and weight_decays must each name at least one value")
    if len(sweep) > 1 and not options["holdout"]:
        raise ValueError(
            "linear-probe: a sweep over several lrs/weight_decays needs holdout > 0 "
            "(the choice is made on a held-out part of the training split, never on the test split)"
        )
    num_classes = dataset.num_classes
    fit = dict(epochs=options["epochs"], batch_size=options["batch_size"])
    prepared = prepare(spec, method, dataset, env)

    def val_accuracy(train_x, val_x, ctx) -> float:
        assert prepared.val is not None, "read-outs are chosen on the held-out part"
        points = sweep_probe(
            train_x,
            prepared.train.labels,
            val_x,
            prepared.val.labels,
            sweep,
            num_classes,
            generator=ctx.generator,
            **fit,
        )
        return max(q["val_accuracy"] for q in points)

    choose_features(prepared, spec, method, env, val_accuracy)
    ctx, batch = prepared.ctx, options["eval_batch_size"]

    train_x, val_x, test_x, features_seconds = extract_splits(prepared, batch)

    t_probe = time.perf_counter()
    seeded = dict(fit, generator=ctx.generator)
    points = []
    if prepared.val is not None:
        points = sweep_probe(train_x, prepared.train.labels, val_x, prepared.val.labels, sweep, num_classes, **seeded)
        best = max(points, key=lambda q: q["val_accuracy"])  # ties: the first listed
        all_x, all_y = torch.cat([train_x, val_x]), torch.cat([prepared.train.labels, prepared.val.labels])
    else:
        best = {"lr": sweep[0][0], "weight_decay": sweep[0][1]}
        all_x, all_y = train_x, prepared.train.labels
    ax, sx = standardize(all_x, test_x)
    head = train_linear(ax, all_y, num_classes, lr=best["lr"], weight_decay=best["weight_decay"], **seeded)
    metrics = {"test_accuracy": top1(head, sx, prepared.test.labels)}
    if "val_accuracy" in best:
        metrics["val_accuracy"] = best["val_accuracy"]
    probe_seconds = time.perf_counter() - t_probe

    sections = common_sections(prepared, PROTOCOL, options)
    sections["throughput"]["feature_images_per_s"] = feature_throughput(prepared.encoder, prepared.test, ctx, batch)
    sections["timings"].update(features_seconds=round(features_seconds, 3), probe_seconds=round(probe_seconds, 3))
    sections["details"].update(
        feature_dim=int(train_x.shape[1]),
        probe={
            "setting": "cached",
            "overrides": overrides,
            "features": "extracted once, standardised with the training features' mean/std (BatchNorm without affine)",
            "optimizer": "Adam, cosine schedule, L2 on weights",
            "epochs": options["epochs"],
            "batch_size": options["batch_size"],
            "sweep": points,
            "chosen": {"lr": best["lr"], "weight_decay": best["weight_decay"]},
            "final_fit": f"chosen point re-trained on the whole training split ({len(all_y)} images)",
        },
    )
    what = "linear classifier on frozen, standardised features; lr and weight decay chosen on held-out training images"
    return {"metrics": metrics, "metric_info": accuracy_info(PROTOCOL, what, prepared, options), **sections}
