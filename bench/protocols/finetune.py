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

``recipe`` names a whole training setting: ``bench`` (the host's own: the options as given) or a
recipe the method registers (``RepresentationLearner(recipes={name: bench.Setting(...)})``: MAE's
``mae-official`` and ``mae-cifar-reimpl``, 1p-frac's ``onepfrac-official``; ``bench plugins
METHOD`` lists them). A named recipe sets every option it lists; the ``overrides`` option ({option:
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
from dataclasses import dataclass, replace

import numpy as np
import torch

from bench.context import bookkeeping
from bench.data.loader import Augment, mix_batch, random_erase
from bench.protocols.classify import accuracy
from bench.protocols.representation import Prepared, accuracy_info, apply_setting, common_sections, prepare
from bench.specs import Setting
from bench.timing import measure, synchronize

PROTOCOL = "finetune"
HEADS = ("batchnorm", "layernorm", "linear")
SCHEDULES = ("step", "epoch", "timm")
OPTIMIZERS = {"adamw": "AdamW", "sgd": "SGD, Nesterov momentum 0.9"}
#: timm's sgd (optim_factory.create_optimizer_v2): SGD(momentum=0.9, nesterov=True).
SGD_MOMENTUM = 0.9


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
        layer_groups = getattr(encoder, "layer_groups", None)  # an optional method of the plugin's encoder
        if layer_groups is None:
            raise ValueError(
                f"finetune: layer_decay {layer_decay} needs the encoder to expose layer_groups() "
                f"(parameter names by depth); {type(encoder).__name__} does not (use layer_decay: 1)"
            )
        layers = layer_groups()
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

        def timm_factor(step: int) -> float:
            e = step // steps_per_epoch
            if e < warmup_epochs:
                return warmup_ratio + e * (1 - warmup_ratio) / warmup_epochs
            return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * e / epochs))

        return timm_factor
    if schedule == "epoch":

        def epoch_factor(step: int) -> float:
            e = step // steps_per_epoch
            return min((e + 1) / (warmup_epochs + 1e-8), 0.5 * (math.cos(e / epochs * math.pi) + 1))

        return epoch_factor

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, steps - warmup)))

    return factor


def run(spec, method, dataset, env) -> dict:
    options, overrides, recipe = apply_setting(spec.protocol_options, PROTOCOL, method)
    spec = replace(spec, protocol_options=options)
    prepared = prepare(spec, method, dataset, env)
    model, dim = build_model(prepared, options, dataset.num_classes)
    plan = Plan.of(options, len(prepared.train), spec.budget_scale)
    optimizer, schedule = make_optimizer(model, options, plan)
    train_seconds = train(model, prepared, options, plan, optimizer, schedule, dataset.num_classes, spec.seed)
    metrics = evaluate(model, prepared, options["eval_batch_size"])
    sections = common_sections(prepared, PROTOCOL, options)
    sections["throughput"].update(throughputs(model, prepared, options["eval_batch_size"]))
    sections["timings"]["train_seconds"] = round(train_seconds, 3)
    sections["details"].update(
        feature_dim=int(dim),
        curves=bookkeeping(prepared.ctx).curves,
        finetune=details(options, plan, overrides, recipe),
    )
    what = f"whole encoder + linear head fine-tuned for {plan.epochs} epochs, recipe {options['recipe']}"
    if options["input_size"]:
        what += f", images resized to {options['input_size']} px"
    return {"metrics": metrics, "metric_info": accuracy_info(PROTOCOL, what, prepared, options), **sections}


def build_model(prepared: Prepared, options: dict, num_classes: int) -> tuple[torch.nn.Module, int]:
    """The encoder (its drop path set) under a new head, prepared (compiled) as one; the feature width."""
    ctx = prepared.ctx
    # The module itself, not prepare's compiled wrapper: the whole model is prepared (compiled) once below.
    encoder = _unwrapped(prepared.encoder)
    with torch.no_grad():
        dim = encoder(ctx.layout(ctx.normalize(prepared.train.images[:2]))).shape[1]
    if options["drop_path"]:
        set_drop_path = getattr(encoder, "set_drop_path", None)  # an optional method of the plugin's encoder
        if set_drop_path is None:
            raise ValueError(
                f"finetune: drop_path {options['drop_path']} needs the encoder to expose set_drop_path(rate); "
                f"{type(encoder).__name__} does not (use drop_path: 0)"
            )
        set_drop_path(options["drop_path"])
    model = ctx.prepare(Finetuned(encoder, dim, num_classes, options["head"], options["head_init_std"]))
    return model, dim


@dataclass(frozen=True)
class Plan:
    """How long training runs: the protocol's epochs times the budget scale, in steps of one batch."""

    epochs: int
    batch_size: int
    steps_per_epoch: int
    steps: int
    warmup: int  # steps

    @classmethod
    def of(cls, options: dict, images: int, budget_scale: float) -> Plan:
        epochs = max(1, math.ceil(options["epochs"] * budget_scale))
        steps_per_epoch = math.ceil(images / options["batch_size"])
        steps = epochs * steps_per_epoch
        warmup = min(steps, round(options["warmup_epochs"] / options["epochs"] * steps))
        return cls(epochs, options["batch_size"], steps_per_epoch, steps, warmup)


def make_optimizer(model: torch.nn.Module, options: dict, plan: Plan):
    """(AdamW or timm's SGD over :func:`param_groups`, its LR schedule by :func:`lr_factor`)."""
    finetuned = _unwrapped(model)  # the module prepare was given, also when it compiled it
    assert isinstance(finetuned, Finetuned), f"finetune trains a Finetuned, got {type(finetuned).__name__}"
    groups = param_groups(
        finetuned,
        options["lr"],
        options["weight_decay"],
        layer_decay=options["layer_decay"],
        decay_all=options["decay_all"],
    )
    if options["optimizer"] not in OPTIMIZERS:
        raise ValueError(f"finetune: optimizer must be one of {tuple(OPTIMIZERS)}, got {options['optimizer']!r}")
    optimizer: torch.optim.Optimizer
    if options["optimizer"] == "sgd":
        optimizer = torch.optim.SGD(groups, lr=options["lr"], momentum=SGD_MOMENTUM, nesterov=True)
    else:
        optimizer = torch.optim.AdamW(groups, lr=options["lr"])
    factor = lr_factor(
        options["lr_schedule"],
        steps=plan.steps,
        warmup=plan.warmup,
        steps_per_epoch=plan.steps_per_epoch,
        epochs=plan.epochs,
        warmup_epochs=options["warmup_epochs"] * plan.epochs / options["epochs"],
        min_ratio=options["min_lr"] / options["lr"],
        warmup_ratio=options["warmup_lr"] / options["lr"],
    )
    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def train(
    model, prepared: Prepared, options: dict, plan: Plan, optimizer, schedule, num_classes: int, seed: int
) -> float:
    """Train end to end on augmented, erased and mixed batches, scoring the held-out part each
    epoch (the curve); returns the seconds it took. The model is left in eval mode."""
    ctx = prepared.ctx
    mixing = options["mixup"] > 0 or options["cutmix"] > 0
    smoothing = options["label_smoothing"]
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=0.0 if mixing else smoothing)  # mixing smooths its targets
    rng = np.random.default_rng(seed)  # per-batch mixing draws, on the host as timm's
    scale = options["resized_crop"]
    augment = Augment(
        resized_crop=tuple(scale) if scale else None,
        crop_padding=options["crop_padding"],
        flip=options["flip"],
        rand_augment=options["rand_augment"],
    )
    t_train = time.perf_counter()
    model.train()
    for _ in ctx.epochs(plan.epochs):
        for images, labels in ctx.batches(prepared.train, plan.batch_size, augment=augment):
            if options["random_erasing"]:
                images = random_erase(images, options["random_erasing"], ctx.generator)
            targets = labels
            if mixing:
                images, targets = mix_batch(
                    images,
                    labels,
                    num_classes,
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
    synchronize(ctx.device)  # the last steps may still be queued on the device
    seconds = time.perf_counter() - t_train
    model.eval()
    return seconds


def evaluate(model, prepared: Prepared, batch: int) -> dict:
    """Top-1 accuracy on the test split, and on the held-out part when there is one."""
    metrics = {"test_accuracy": accuracy(model, prepared.test, prepared.ctx, batch)}
    if prepared.val is not None:
        metrics["val_accuracy"] = accuracy(model, prepared.val, prepared.ctx, batch)
    return metrics


def throughputs(model, prepared: Prepared, batch: int) -> dict:
    """Inference images/s (warm, synchronized, on one test batch) and training images/s."""
    ctx = prepared.ctx
    images = ctx.normalize(prepared.test.images[:batch])

    @torch.inference_mode()
    def forward():
        with ctx.autocast():
            model(ctx.layout(images))

    rates = {
        "inference_images_per_s": {
            **measure(forward, ctx.device, items=len(images), warmup=2, repeats=5),
            "batch_size": len(images),
            "precision": ctx.precision,
        }
    }
    rate = bookkeeping(ctx).train_throughput()
    if rate is not None:
        rates["train_images_per_s"] = rate
    return rates


def details(options: dict, plan: Plan, overrides: dict, recipe: Setting) -> dict:
    """The record's ``details.finetune``: the recipe, its overrides and what it lacks, and every setting used."""
    return {
        "recipe": options["recipe"],
        "overrides": overrides,
        "missing": list(recipe.missing),
        "epochs": plan.epochs,
        "steps": plan.steps,
        "warmup_steps": plan.warmup,
        "batch_size": plan.batch_size,
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
        "label_smoothing": options["label_smoothing"],
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
    }
