"""Fine-tune: the whole encoder plus a new head, trained end to end with the protocol's own budget.

The model is encoder -> BatchNorm1d without affine parameters -> Linear (the head of the linear
probe, now trained with the encoder). AdamW, linear warm-up then cosine decay per step, label
smoothing, batched crop/flip augmentation. ``epochs`` is the protocol's budget; like every
budget it is multiplied by the suite's ``budget_scale`` (smoke runs). Trained on the training
split without its held-out part; the held-out part is scored each epoch (curves) and at the end.
"""

from __future__ import annotations

import math
import time

import torch

from bench.data.loader import Augment
from bench.protocols.classify import accuracy
from bench.protocols.representation import accuracy_info, common_sections, prepare
from bench.timing import measure

PROTOCOL = "finetune"


class Finetuned(torch.nn.Module):
    def __init__(self, encoder: torch.nn.Module, feature_dim: int, num_classes: int):
        super().__init__()
        self.encoder = encoder
        self.norm = torch.nn.BatchNorm1d(feature_dim, affine=False)
        self.head = torch.nn.Linear(feature_dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.norm(self.encoder(x).float()))  # (B, num_classes)


def run(spec, method, dataset, env) -> dict:
    options = spec.protocol_options
    p = prepare(spec, method, dataset, env)
    ctx = p.ctx
    with torch.no_grad():
        dim = p.encoder(ctx.normalize(p.train.images[:2])).shape[1]
    model = ctx.prepare(Finetuned(p.encoder, dim, dataset.num_classes))

    epochs = max(1, math.ceil(options["epochs"] * spec.budget_scale))
    batch_size = options["batch_size"]
    steps = epochs * math.ceil(len(p.train) / batch_size)
    warmup = min(steps, round(options["warmup_epochs"] / options["epochs"] * steps))
    optimizer = torch.optim.AdamW(model.parameters(), lr=options["lr"], weight_decay=options["weight_decay"])

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, steps - warmup)))

    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=options["label_smoothing"])
    augment = Augment(crop_padding=options["crop_padding"], flip=options["flip"])
    t_train = time.perf_counter()
    model.train()
    for _ in ctx.epochs(epochs):
        for images, labels in ctx.batches(p.train, batch_size, augment=augment):
            with ctx.autocast():
                loss = loss_fn(model(ctx.layout(images)), labels)
            ctx.optimize(loss, optimizer, schedule, n=len(images))
        if p.val is not None:
            ctx.log(val_accuracy=ctx.accuracy(model, p.val, options["eval_batch_size"]))
            model.train()
    train_seconds = time.perf_counter() - t_train
    model.eval()

    batch = options["eval_batch_size"]
    metrics = {"test_accuracy": accuracy(model, p.test, ctx, batch)}
    if p.val is not None:
        metrics["val_accuracy"] = accuracy(model, p.val, ctx, batch)
    images = ctx.normalize(p.test.images[:batch])

    @torch.inference_mode()
    def forward():
        with ctx.autocast():
            model(ctx.layout(images))

    sections = common_sections(p, PROTOCOL, options)
    sections["throughput"]["inference_images_per_s"] = {
        **measure(forward, ctx.device, items=len(images), warmup=2, repeats=5),
        "batch_size": len(images), "precision": ctx.precision}
    rate = ctx.train_throughput()
    if rate is not None:
        sections["throughput"]["train_images_per_s"] = rate
    sections["timings"]["train_seconds"] = round(train_seconds, 3)
    sections["details"].update(
        feature_dim=int(dim), curves=ctx.curves,
        finetune={"epochs": epochs, "steps": steps, "warmup_steps": warmup, "batch_size": batch_size,
                  "lr": options["lr"], "weight_decay": options["weight_decay"], "optimizer": "AdamW, warm-up + cosine",
                  "label_smoothing": options["label_smoothing"], "crop_padding": options["crop_padding"],
                  "flip": options["flip"], "head": "BatchNorm1d(affine=False) + Linear"},
    )
    what = f"whole encoder + linear head fine-tuned for {epochs} epochs"
    return {"metrics": metrics, "metric_info": accuracy_info(PROTOCOL, what, p, options), **sections}
