"""Fine-tune: the whole encoder plus a new head, trained end to end with the protocol's own budget.

The model is encoder -> head (by the ``head`` option: BatchNorm1d without affine parameters +
Linear, LayerNorm + Linear as MAE's fc_norm, or a plain Linear). AdamW (or SGD with Nesterov
momentum 0.9, timm's ``sgd``), linear warm-up then cosine decay, label smoothing, batched
augmentation. ``epochs`` is the protocol's budget; like every budget it is multiplied by the suite's
``budget_scale`` (smoke runs). Trained on the training split without its held-out part; the
held-out part is scored each epoch (curves) and at the end.

Weight decay never applies to 1-D parameters (biases, norms) nor to those the encoder names in an
optional ``no_weight_decay()`` (timm's convention: class tokens, position embeddings), unless
``decay_all`` is set (a plain ``AdamW(model.parameters())``, as the CIFAR reimplementation).

``recipe`` names a whole training setting (``RECIPES``): ``bench`` (the options as given),
``mae-official`` (facebookresearch/mae main_finetune.py with FINETUNE.md's ViT-B command),
``mae-cifar-reimpl`` (IcarusWizard/MAE train_classifier.py, behind the 89.77 / 74.13 pair) or
``onepfrac-official`` (SUPER-TADORY/1p-frac train/finetuning.sh: SGD on images upscaled to 224 px,
behind its 84.2). A named recipe sets every option it lists; the ``overrides`` option ({option:
value}) changes some of them (``representation.apply_setting``); the record lists the recipe, its
overrides and what it lacks.

Optional encoder interface (checked only when a recipe asks for it):
- ``layer_groups() -> list[list[str]]``: parameter names from the input upwards, one list per depth
  (embeddings, block 1, ...); parameters not named (a final norm) and the head sit at the top.
  ``layer_decay`` d scales the LR of depth k of n by d ** (n - k) (BEiT / MAE util/lr_decay.py).
- ``set_drop_path(rate)``: stochastic depth up to ``rate`` (``drop_path``).
- ``no_weight_decay() -> set[str]``: parameter names never decayed.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace

import numpy as np
import torch

from bench.context import bookkeeping
from bench.data.loader import Augment, mix_batch, random_erase
from bench.protocols.classify import accuracy
from bench.protocols.representation import accuracy_info, apply_setting, common_sections, prepare
from bench.timing import measure

PROTOCOL = "finetune"
HEADS = ("batchnorm", "layernorm", "linear")
SCHEDULES = ("step", "epoch", "timm")
OPTIMIZERS = {"adamw": "AdamW", "sgd": "SGD, Nesterov momentum 0.9"}
#: timm's sgd (optim_factory.create_optimizer_v2): SGD(momentum=0.9, nesterov=True).
SGD_MOMENTUM = 0.9

#: Named fine-tune settings: option values, and what of the original the host does not do.
RECIPES: dict[str, dict] = {
    "bench": {"options": {}, "missing": []},
    # main_finetune.py defaults + FINETUNE.md's ViT-B command (the only published recipe for small
    # ViTs is none: ViT-B's is the one with drop path 0.1); util/datasets.py's timm train transform.
    "mae-official": {
        "options": {
            "epochs": 100,
            "batch_size": 1024,
            "lr": 5e-4 * 1024 / 256,
            "min_lr": 1e-6,
            "warmup_epochs": 5.0,
            "weight_decay": 0.05,
            "layer_decay": 0.65,
            "drop_path": 0.1,
            "label_smoothing": 0.1,
            "mixup": 0.8,
            "cutmix": 1.0,
            "random_erasing": 0.25,
            "resized_crop": [0.08, 1.0],
            "crop_padding": 0,
            "flip": True,
            "rand_augment": "rand-m9-mstd0.5-inc1",  # --aa; timm drops colour jitter when it is set
            "head": "layernorm",
            "head_init_std": 2e-5,
            "lr_schedule": "step",
        },
        "missing": [
            "global average pooling is the encoder's read-out: give the method its mean-pool param (MAE: pool: mean); "
            "ours averages the final-LayerNorm'd tokens, the official drops that norm and averages the block outputs",
            "evaluation resize 256/224 + centre crop (images are scored at their own size)",
            "the official run reports the best epoch's test accuracy; ours is the last epoch's",
        ],
    },
    # train_classifier.py: AdamW(model.parameters()) with lr 1e-3 x 128 / 256, per-epoch
    # min(warm-up, cosine), no augmentation, no label smoothing, a Linear on the class token, all
    # 50,000 training images.
    "mae-cifar-reimpl": {
        "options": {
            "epochs": 100,
            "batch_size": 128,
            "lr": 1e-3 * 128 / 256,
            "warmup_epochs": 5.0,
            "lr_schedule": "epoch",
            "weight_decay": 0.05,
            "decay_all": True,
            "label_smoothing": 0.0,
            "crop_padding": 0,
            "flip": False,
            "head": "linear",
            "holdout": 0.0,
        },
        "missing": ["the reimplementation reports the best epoch's test accuracy; ours is the last epoch's"],
    },
    # SUPER-TADORY/1p-frac train/finetuning.sh (CIFAR-100, 8 GPUs x 96 = 768) on main.py, with
    # configs/model/vit.yaml (drop path 0.1, timm cosine per epoch) and configs/data/
    # colorimagefolder.yaml (timm create_transform at 224 px, bicubic; Mixup with smoothing 0.1);
    # main.py scales lr, warmup_lr and min_lr by batch / 512; timm 0.4.12's sgd is Nesterov 0.9 with
    # no decay on 1-D parameters, pos_embed and cls_token; its ViT head is trunc-normal 0.02.
    "onepfrac-official": {
        "options": {
            "input_size": 224,
            "crop_pct": 0.875,  # timm's eval transform: resize 256, centre crop 224
            "holdout": 0.0,  # all 50,000 training images; the test split is its validation set
            "epochs": 1000,
            "batch_size": 768,
            "optimizer": "sgd",
            "lr": 0.01 * 768 / 512,
            "weight_decay": 1e-4,
            "layer_decay": 1.0,
            "lr_schedule": "timm",
            "warmup_epochs": 10.0,
            "warmup_lr": 1e-6 * 768 / 512,
            "min_lr": 1e-5 * 768 / 512,
            "drop_path": 0.1,
            "label_smoothing": 0.1,
            "mixup": 0.8,
            "cutmix": 1.0,
            "random_erasing": 0.25,
            "resized_crop": [0.08, 1.0],
            "crop_padding": 0,
            "flip": True,
            "rand_augment": "rand-m9-mstd0.5-inc1",  # timm drops the colour jitter 0.4 when it is set
            "head": "linear",
            "head_init_std": 0.02,
        },
        "missing": [
            "the official run reports the best epoch's test accuracy (main.py: max_accuracy); ours is the last epoch's",
            "crop, flip, RandAugment, random erasing and mixup / cutmix act on the images at their own size before "
            "the upscale; timm crops straight to 224 px and augments there",
            "the host's normalisation (the training split's statistics); the official uses ImageNet's mean and std",
            "fp16 autocast with a loss scaler (main.py); ours runs at the suite's precision",
            "each epoch's last partial batch is trained on (the official loader drops it)",
        ],
    },
}


def resolve_recipe(options: dict) -> tuple[dict, dict, list[str]]:
    """(options the run uses, the suite's overrides of the recipe, what the recipe lacks)."""
    resolved, overrides = apply_setting(options, PROTOCOL, "recipe", {k: r["options"] for k, r in RECIPES.items()})
    return resolved, overrides, list(RECIPES[options["recipe"]]["missing"])


class Finetuned(torch.nn.Module):
    def __init__(
        self,
        encoder: torch.nn.Module,
        feature_dim: int,
        num_classes: int,
        head: str = "batchnorm",
        head_init_std: float = 0.0,
    ):
        super().__init__()
        if head not in HEADS:
            raise ValueError(f"finetune: head must be one of {HEADS}, got {head!r}")
        self.encoder = encoder
        self.norm = {
            "batchnorm": lambda: torch.nn.BatchNorm1d(feature_dim, affine=False),
            "layernorm": lambda: torch.nn.LayerNorm(feature_dim, eps=1e-6),
            "linear": torch.nn.Identity,
        }[head]()
        self.head = torch.nn.Linear(feature_dim, num_classes)
        if head_init_std:
            torch.nn.init.trunc_normal_(self.head.weight, std=head_init_std)
            torch.nn.init.zeros_(self.head.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.norm(self.encoder(x).float()))  # (B, num_classes)


def _unwrapped(module: torch.nn.Module) -> torch.nn.Module:
    return getattr(module, "_orig_mod", module)  # torch.compile wraps the module it was given


def param_groups(
    model: Finetuned, lr: float, weight_decay: float, *, layer_decay: float = 1.0, decay_all: bool = False
) -> list[dict]:
    """AdamW groups: weight decay only on the parameters it should reach (module docstring), and
    with ``layer_decay`` < 1 the LR of each depth scaled by the encoder's ``layer_groups``."""
    encoder = _unwrapped(model.encoder)
    skip = set() if decay_all else set(getattr(encoder, "no_weight_decay", set)())
    depth, top = {}, 0
    if layer_decay != 1:
        if not hasattr(encoder, "layer_groups"):
            raise ValueError(
                f"finetune: layer_decay {layer_decay} needs the encoder to expose layer_groups() "
                f"(parameter names by depth); {type(encoder).__name__} does not (use layer_decay: 1)"
            )
        layers = encoder.layer_groups()
        depth = {name: k for k, names in enumerate(layers) for name in names}
        top = len(layers)
    named = [(n, q, depth.get(n, top)) for n, q in encoder.named_parameters()]
    named += [(f"head.{n}", q, top) for n, q in [*model.norm.named_parameters(), *model.head.named_parameters()]]
    groups: dict[tuple, dict] = {}
    for name, param, k in named:
        if not param.requires_grad:
            continue
        decayed = decay_all or (param.ndim > 1 and name not in skip)
        scale = layer_decay ** (top - k)
        group = groups.setdefault(
            (k, decayed),
            {"params": [], "weight_decay": weight_decay if decayed else 0.0, "lr": lr * scale, "lr_scale": scale},
        )
        group["params"].append(param)
    return list(groups.values())


def lr_factor(
    schedule: str,
    *,
    steps: int,
    warmup: int,
    steps_per_epoch: int,
    epochs: int,
    warmup_epochs: float,
    min_ratio: float = 0.0,
    warmup_ratio: float = 0.0,
):
    """The LR factor per step: ``step``: linear warm-up over ``warmup`` steps, then half-cosine to
    ``min_ratio`` (MAE's lr_sched, per iteration); ``epoch``: constant within an epoch e, min((e + 1)
    / warmup_epochs, half-cosine of e / epochs) (the CIFAR reimplementation's LambdaLR per epoch);
    ``timm``: constant within an epoch e, warmup_ratio + e (1 - warmup_ratio) / warmup_epochs while
    e < warmup_epochs, then half-cosine of e / epochs (over all epochs: the warm-up is no prefix) to
    ``min_ratio`` (timm's CosineLRScheduler stepped per epoch, as 1p-frac's main.py)."""
    if schedule not in SCHEDULES:
        raise ValueError(f"finetune: lr_schedule must be one of {SCHEDULES}, got {schedule!r}")
    if schedule == "timm":

        def factor(step: int) -> float:
            e = step // steps_per_epoch
            if e < warmup_epochs:
                return warmup_ratio + e * (1 - warmup_ratio) / warmup_epochs
            return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * e / epochs))

        return factor
    if schedule == "epoch":

        def factor(step: int) -> float:
            e = step // steps_per_epoch
            return min((e + 1) / (warmup_epochs + 1e-8), 0.5 * (math.cos(e / epochs * math.pi) + 1))

        return factor

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, steps - warmup)))

    return factor


def run(spec, method, dataset, env) -> dict:
    options, overrides, missing = resolve_recipe(spec.protocol_options)
    spec = replace(spec, protocol_options=options)
    prepared = prepare(spec, method, dataset, env)
    ctx = prepared.ctx
    # The module itself, not prepare's compiled wrapper: the whole model is prepared (compiled) once below.
    encoder = _unwrapped(prepared.encoder)
    with torch.no_grad():
        dim = encoder(ctx.layout(ctx.normalize(prepared.train.images[:2]))).shape[1]
    if options["drop_path"]:
        if not hasattr(encoder, "set_drop_path"):
            raise ValueError(
                f"finetune: drop_path {options['drop_path']} needs the encoder to expose set_drop_path(rate); "
                f"{type(encoder).__name__} does not (use drop_path: 0)"
            )
        encoder.set_drop_path(options["drop_path"])
    model = ctx.prepare(Finetuned(encoder, dim, dataset.num_classes, options["head"], options["head_init_std"]))

    epochs = max(1, math.ceil(options["epochs"] * spec.budget_scale))
    batch_size = options["batch_size"]
    steps_per_epoch = math.ceil(len(prepared.train) / batch_size)
    steps = epochs * steps_per_epoch
    warmup = min(steps, round(options["warmup_epochs"] / options["epochs"] * steps))
    groups = param_groups(
        _unwrapped(model),
        options["lr"],
        options["weight_decay"],
        layer_decay=options["layer_decay"],
        decay_all=options["decay_all"],
    )
    if options["optimizer"] not in OPTIMIZERS:
        raise ValueError(f"finetune: optimizer must be one of {tuple(OPTIMIZERS)}, got {options['optimizer']!r}")
    if options["optimizer"] == "sgd":
        optimizer = torch.optim.SGD(groups, lr=options["lr"], momentum=SGD_MOMENTUM, nesterov=True)
    else:
        optimizer = torch.optim.AdamW(groups, lr=options["lr"])
    factor = lr_factor(
        options["lr_schedule"],
        steps=steps,
        warmup=warmup,
        steps_per_epoch=steps_per_epoch,
        epochs=epochs,
        warmup_epochs=options["warmup_epochs"] * epochs / options["epochs"],
        min_ratio=options["min_lr"] / options["lr"],
        warmup_ratio=options["warmup_lr"] / options["lr"],
    )
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    mixing = options["mixup"] > 0 or options["cutmix"] > 0
    smoothing = options["label_smoothing"]
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=0.0 if mixing else smoothing)  # mixing smooths its targets
    rng = np.random.default_rng(spec.seed)  # per-batch mixing draws, on the host as timm's
    scale = options["resized_crop"]
    augment = Augment(
        resized_crop=tuple(scale) if scale else None,
        crop_padding=options["crop_padding"],
        flip=options["flip"],
        rand_augment=options["rand_augment"],
    )
    t_train = time.perf_counter()
    model.train()
    for _ in ctx.epochs(epochs):
        for images, labels in ctx.batches(prepared.train, batch_size, augment=augment):
            if options["random_erasing"]:
                images = random_erase(images, options["random_erasing"], ctx.generator)
            targets = labels
            if mixing:
                images, targets = mix_batch(
                    images,
                    labels,
                    dataset.num_classes,
                    rng,
                    mixup=options["mixup"],
                    cutmix=options["cutmix"],
                    smoothing=smoothing,
                )
            with ctx.autocast():
                loss = loss_fn(model(ctx.layout(images)).float(), targets)
            ctx.optimize(loss, optimizer, schedule, n=len(images))
        if prepared.val is not None:
            ctx.log(val_accuracy=ctx.accuracy(model, prepared.val, options["eval_batch_size"]))
            model.train()
    train_seconds = time.perf_counter() - t_train
    model.eval()

    batch = options["eval_batch_size"]
    metrics = {"test_accuracy": accuracy(model, prepared.test, ctx, batch)}
    if prepared.val is not None:
        metrics["val_accuracy"] = accuracy(model, prepared.val, ctx, batch)
    images = ctx.normalize(prepared.test.images[:batch])

    @torch.inference_mode()
    def forward():
        with ctx.autocast():
            model(ctx.layout(images))

    sections = common_sections(prepared, PROTOCOL, options)
    sections["throughput"]["inference_images_per_s"] = {
        **measure(forward, ctx.device, items=len(images), warmup=2, repeats=5),
        "batch_size": len(images),
        "precision": ctx.precision,
    }
    rate = bookkeeping(ctx).train_throughput()
    if rate is not None:
        sections["throughput"]["train_images_per_s"] = rate
    sections["timings"]["train_seconds"] = round(train_seconds, 3)
    sections["details"].update(
        feature_dim=int(dim),
        curves=bookkeeping(ctx).curves,
        finetune={
            "recipe": options["recipe"],
            "overrides": overrides,
            "missing": missing,
            "epochs": epochs,
            "steps": steps,
            "warmup_steps": warmup,
            "batch_size": batch_size,
            "lr": options["lr"],
            "min_lr": options["min_lr"],
            "lr_schedule": options["lr_schedule"],
            "weight_decay": options["weight_decay"],
            "optimizer": OPTIMIZERS[options["optimizer"]],
            "warmup_lr": options["warmup_lr"],
            "weight_decay_on": "every parameter"
            if options["decay_all"]
            else "weight matrices only (no 1-D parameters, nor the encoder's no_weight_decay())",
            "layer_decay": options["layer_decay"],
            "drop_path": options["drop_path"],
            "label_smoothing": smoothing,
            "mixup": options["mixup"],
            "cutmix": options["cutmix"],
            "random_erasing": options["random_erasing"],
            "resized_crop": options["resized_crop"],
            "crop_padding": options["crop_padding"],
            "flip": options["flip"],
            "rand_augment": options["rand_augment"] or None,
            "head": {
                "batchnorm": "BatchNorm1d(affine=False) + Linear",
                "layernorm": "LayerNorm (fc_norm) + Linear",
                "linear": "Linear",
            }[options["head"]],
            "head_init_std": options["head_init_std"] or "default",
        },
    )
    what = f"whole encoder + linear head fine-tuned for {epochs} epochs, recipe {options['recipe']}"
    if options["input_size"]:
        what += f", images resized to {options['input_size']} px"
    return {"metrics": metrics, "metric_info": accuracy_info(PROTOCOL, what, prepared, options), **sections}
