"""Linear probe: a linear classifier on frozen features, extracted once.

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

import torch

from bench.protocols.representation import (
    accuracy_info, choose_features, common_sections, extract, feature_throughput, prepare,
)

PROTOCOL = "linear-probe"


def standardize(train: torch.Tensor, *others: torch.Tensor, eps: float = 1e-6) -> list[torch.Tensor]:
    """Each feature dimension to zero mean and unit variance with ``train``'s statistics."""
    mean = train.mean(0, keepdim=True)
    std = train.std(0, unbiased=False, keepdim=True)
    return [(x - mean) / (std + eps) for x in (train, *others)]


def train_linear(
    features: torch.Tensor, labels: torch.Tensor, num_classes: int, *, lr: float, weight_decay: float,
    epochs: int, batch_size: int, generator: torch.Generator,
) -> torch.nn.Linear:
    """A linear classifier on standardised features: Adam, cosine schedule over all steps."""
    head = torch.nn.Linear(features.shape[1], num_classes).to(features.device)
    torch.nn.init.zeros_(head.weight)
    torch.nn.init.zeros_(head.bias)
    optimizer = torch.optim.Adam([
        {"params": [head.weight], "weight_decay": weight_decay},
        {"params": [head.bias], "weight_decay": 0.0},
    ], lr=lr)
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
    train_x: torch.Tensor, train_y: torch.Tensor, val_x: torch.Tensor, val_y: torch.Tensor,
    sweep: list[tuple[float, float]], num_classes: int, **fit,
) -> list[dict]:
    """Held-out accuracy of a probe trained on the train part at each (lr, weight decay)."""
    tx, vx = standardize(train_x, val_x)
    points = []
    for lr, wd in sweep:
        head = train_linear(tx, train_y, num_classes, lr=lr, weight_decay=wd, **fit)
        points.append({"lr": lr, "weight_decay": wd, "val_accuracy": top1(head, vx, val_y)})
    return points


def run(spec, method, dataset, env) -> dict:
    options = spec.protocol_options
    sweep = [(float(lr), float(wd)) for lr in options["lrs"] for wd in options["weight_decays"]]
    if not sweep:
        raise ValueError("linear-probe: lrs and weight_decays must each name at least one value")
    if len(sweep) > 1 and not options["holdout"]:
        raise ValueError("linear-probe: a sweep over several lrs/weight_decays needs holdout > 0 "
                         "(the choice is made on a held-out part of the training split, never on the test split)")
    num_classes = dataset.num_classes
    fit = dict(epochs=options["epochs"], batch_size=options["batch_size"])
    p = prepare(spec, method, dataset, env)

    def val_accuracy(train_x, val_x, ctx) -> float:
        points = sweep_probe(train_x, p.train.labels, val_x, p.val.labels, sweep, num_classes,
                             generator=ctx.generator, **fit)
        return max(q["val_accuracy"] for q in points)

    choose_features(p, spec, method, env, val_accuracy)
    ctx, batch = p.ctx, options["eval_batch_size"]

    t_features = time.perf_counter()
    train_x = extract(p.encoder, p.train.images, ctx, batch)
    val_x = extract(p.encoder, p.val.images, ctx, batch) if p.val is not None else None
    test_x = extract(p.encoder, p.test.images, ctx, batch)
    features_seconds = time.perf_counter() - t_features

    t_probe = time.perf_counter()
    seeded = dict(fit, generator=ctx.generator)
    points = []
    if p.val is not None:
        points = sweep_probe(train_x, p.train.labels, val_x, p.val.labels, sweep, num_classes, **seeded)
        best = max(points, key=lambda q: q["val_accuracy"])  # ties: the first listed
        all_x, all_y = torch.cat([train_x, val_x]), torch.cat([p.train.labels, p.val.labels])
    else:
        best = {"lr": sweep[0][0], "weight_decay": sweep[0][1]}
        all_x, all_y = train_x, p.train.labels
    ax, sx = standardize(all_x, test_x)
    head = train_linear(ax, all_y, num_classes, lr=best["lr"], weight_decay=best["weight_decay"], **seeded)
    metrics = {"test_accuracy": top1(head, sx, p.test.labels)}
    if "val_accuracy" in best:
        metrics["val_accuracy"] = best["val_accuracy"]
    probe_seconds = time.perf_counter() - t_probe

    sections = common_sections(p, PROTOCOL, options)
    sections["throughput"]["feature_images_per_s"] = feature_throughput(p.encoder, p.test, ctx, batch)
    sections["timings"].update(features_seconds=round(features_seconds, 3), probe_seconds=round(probe_seconds, 3))
    sections["details"].update(
        feature_dim=int(train_x.shape[1]),
        probe={"features": "standardised with the training features' mean/std (BatchNorm without affine)",
               "optimizer": "Adam, cosine schedule, L2 on weights", "epochs": options["epochs"],
               "batch_size": options["batch_size"], "sweep": points,
               "chosen": {"lr": best["lr"], "weight_decay": best["weight_decay"]},
               "final_fit": f"chosen point re-trained on the whole training split ({len(all_y)} images)"},
    )
    what = "linear classifier on frozen, standardised features; lr and weight decay chosen on held-out training images"
    return {"metrics": metrics, "metric_info": accuracy_info(PROTOCOL, what, p, options), **sections}
