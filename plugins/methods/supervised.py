"""Supervised baselines for small grayscale/colour images: a small CNN and an MLP.

Honest floors for every label-efficient method: trained on the labelled training split with a
standard recipe (AdamW, one-cycle schedule, label smoothing, light translation augmentation).
"""

from __future__ import annotations

import torch
from torch import nn

from bench import Augment, Classifier, Param, RunContext, TrainData, hookimpl


def small_cnn(in_channels: int, num_classes: int, width: int, size: tuple[int, int]) -> nn.Module:
    """conv5-BN-ReLU-pool, conv3-BN-ReLU-pool, linear: (B, C, H, W) -> (B, num_classes).

    Small enough to train an MNIST epoch in ~15 s on two CPU cores, and still above 99%.
    """
    h, w = size[0] // 4, size[1] // 4
    return nn.Sequential(
        nn.Conv2d(in_channels, width, 5, padding=2, bias=False),
        nn.BatchNorm2d(width),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),  # (B, w, H/2, W/2)
        nn.Conv2d(width, 2 * width, 3, padding=1, bias=False),
        nn.BatchNorm2d(2 * width),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),  # (B, 2w, H/4, W/4)
        nn.Flatten(),
        nn.Linear(2 * width * h * w, num_classes),
    )


def mlp(in_features: int, num_classes: int, hidden: int) -> nn.Module:
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(in_features, hidden),
        nn.ReLU(inplace=True),
        nn.Linear(hidden, hidden),
        nn.ReLU(inplace=True),
        nn.Linear(hidden, num_classes),
    )


def train_supervised(model: nn.Module, data: TrainData, ctx: RunContext) -> nn.Module:
    """Standard supervised training under the host's budget (``epochs``) and data path."""
    p = ctx.params
    model = ctx.prepare(model)  # on the device; channels-last on CUDA
    batch_size = p["batch_size"]
    steps = ctx.budget.epochs * -(-len(data.train) // batch_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=p["lr"], weight_decay=p["weight_decay"])
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=p["lr"], total_steps=steps, pct_start=0.25)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=p["label_smoothing"])
    augment = Augment(crop_padding=p["crop_padding"], flip=p["flip"])
    model.train()
    for _ in ctx.epochs(ctx.budget.epochs):
        for images, labels in ctx.batches(data.train, batch_size, augment=augment):
            with ctx.autocast():
                loss = loss_fn(model(ctx.layout(images)), labels)
            ctx.optimize(loss, optimizer, schedule, n=len(images))
        if data.val is not None:
            ctx.log(val_accuracy=ctx.accuracy(model, data.val))
    return model.eval()


def fit_small_cnn(data: TrainData, ctx: RunContext) -> nn.Module:
    _, channels, height, width = data.train.images.shape
    model = small_cnn(channels, data.num_classes, ctx.params["width"], (height, width))
    return train_supervised(model, data, ctx)


def fit_mlp(data: TrainData, ctx: RunContext) -> nn.Module:
    features = data.train.images[0].numel()
    return train_supervised(mlp(features, data.num_classes, ctx.params["hidden"]), data, ctx)


_COMMON = {
    "batch_size": Param(128, ge=1),
    "lr": Param(2e-3, gt=0),
    "weight_decay": Param(5e-4, ge=0),
    "label_smoothing": Param(0.1, ge=0, lt=1),
}


@hookimpl
def bench_register_methods(register):
    register(
        Classifier(
            name="small-cnn",
            train=fit_small_cnn,
            budget={"epochs": 10},
            params={**_COMMON, "width": Param(16, ge=1), "crop_padding": Param(2, ge=0), "flip": False},
            description="Supervised small CNN (two conv-BN-ReLU-pool stages and a linear head); "
            "the baseline for MNIST-like data.",
        )
    )
    register(
        Classifier(
            name="mlp",
            train=fit_mlp,
            budget={"epochs": 10},
            params={**_COMMON, "hidden": Param(512, ge=1), "crop_padding": Param(0, ge=0), "flip": False},
            description="Supervised 3-layer MLP on raw pixels: the floor any image model must beat.",
        )
    )
