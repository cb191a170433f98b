"""FixMatch (Sohn et al. 2020) and its supervised-only control, as built-in classifiers.

A labelled batch and mu times as many unlabelled images, each seen twice: the prediction on a weak
view becomes a hard pseudo-label when confident enough, and the target for the strong view. Every
setting is read from the official code (google-research/fixmatch at d4985a1), file by file; the
citations, the WRN-28-2 network, the declared deviations (the host's RandAugment for CTAugment)
and the control are in docs/METHODS.md#fixmatch.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from bench import Augment, Classifier, Param, RunContext, TrainData, hookimpl

# -- the network (libml/models.py ResNet) --------------------------------------------------------


class _Block(nn.Module):
    """Pre-activation residual block: BN-lrelu-conv(stride)-BN-lrelu-conv, plus the shortcut."""

    def __init__(self, c_in: int, c_out: int, stride: int, activate_before_residual: bool, slope: float, bn: float):
        super().__init__()
        self.slope = slope
        self.activate_before_residual = activate_before_residual
        self.bn1 = _bn(c_in, bn)
        self.conv1 = _conv(c_in, c_out, 3, stride)
        self.bn2 = _bn(c_out, bn)
        self.conv2 = _conv(c_out, c_out, 3, 1)
        self.shortcut = _conv(c_in, c_out, 1, stride) if c_in != c_out else None

    def forward(self, x0: torch.Tensor) -> torch.Tensor:
        x = F.leaky_relu(self.bn1(x0), self.slope)
        if self.activate_before_residual:
            x0 = x
        x = self.conv1(x)
        x = self.conv2(F.leaky_relu(self.bn2(x), self.slope))
        return (x0 if self.shortcut is None else self.shortcut(x0)) + x


def _conv(c_in: int, c_out: int, k: int, stride: int) -> nn.Conv2d:
    conv = nn.Conv2d(c_in, c_out, k, stride=stride, padding=k // 2)  # TF 'same' (k odd; stride 2 on even sides)
    nn.init.normal_(conv.weight, std=math.sqrt(2.0 / (k * k * c_out)))  # rsqrt(0.5 k^2 f)
    nn.init.zeros_(conv.bias)
    return conv


def _bn(c: int, momentum: float) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(c, eps=1e-3, momentum=momentum)  # TF's epsilon; momentum 0.001 is TF's decay 0.999


class WideResNet(nn.Module):
    """FixMatch's WRN-(6 repeat + 4)-(filters / 16): (B, C, H, W) -> logits (B, num_classes)."""

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        scales: int,
        filters: int,
        repeat: int,
        slope: float = 0.1,
        bn_momentum: float = 0.001,
    ):
        super().__init__()
        self.slope = slope
        self.stem = _conv(in_channels, 16, 3, 1)
        blocks, c = [], 16
        for scale in range(scales):
            width = filters << scale
            blocks.append(_Block(c, width, 2 if scale else 1, scale == 0, slope, bn_momentum))
            blocks += [_Block(width, width, 1, False, slope, bn_momentum) for _ in range(repeat - 1)]
            c = width
        self.blocks = nn.Sequential(*blocks)
        self.bn = _bn(c, bn_momentum)
        self.fc = nn.Linear(c, num_classes)
        nn.init.xavier_normal_(self.fc.weight)
        nn.init.zeros_(self.fc.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.stem(x))  # (B, filters << (scales - 1), H / 2^(scales-1), W / ...)
        x = F.leaky_relu(self.bn(x), self.slope).mean((2, 3))  # (B, C)
        return self.fc(x)


def build_network(image_shape: tuple[int, int, int], num_classes: int, params) -> WideResNet:
    c, h, w = image_shape
    scales = params["scales"] or max(1, int(math.log2(min(h, w))) - 2)  # libml: ilog2(width) - 2
    return WideResNet(c, num_classes, scales, params["filters"], params["repeat"], bn_momentum=params["bn_momentum"])


# -- the arithmetic (fixmatch.py FixMatch.model) --------------------------------------------------


def pseudo_labels(logits_weak: torch.Tensor, threshold: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(hard pseudo-labels (N,), mask (N,) float: 1 where the weak view's max probability >= threshold)."""
    probs = torch.softmax(logits_weak.detach().float(), dim=1)
    confidence, labels = probs.max(dim=1)
    return labels, (confidence >= threshold).float()


def fixmatch_loss(
    logits_x: torch.Tensor,
    labels: torch.Tensor,
    logits_weak: torch.Tensor,
    logits_strong: torch.Tensor,
    threshold: float,
    lambda_u: float,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The loss and its parts: labelled CE (mean over B) + lambda_u x masked pseudo-label CE
    (mean over all mu B unlabelled images, masked ones counting zero)."""
    loss_x = F.cross_entropy(logits_x.float(), labels)
    targets, mask = pseudo_labels(logits_weak, threshold)
    loss_u = (F.cross_entropy(logits_strong.float(), targets, reduction="none") * mask).mean()
    return loss_x + lambda_u * loss_u, {"loss_x": loss_x, "loss_u": loss_u, "mask": mask.mean()}


def cosine_factor(step: int, total: int) -> float:
    """The official schedule's factor: cos(7 pi k / (16 K)), k clipped to K."""
    return math.cos(7 * math.pi * min(step / total, 1.0) / 16)


class EMA:
    """Exponential moving average of a model's parameters (TF's ExponentialMovingAverage: shadow
    starts at the initial weights, shadow = decay shadow + (1 - decay) w after every step);
    buffers (batch-norm statistics) are copied from the live model."""

    def __init__(self, model: nn.Module, decay: float):
        self.decay = decay
        self.model = _copy(model)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        for shadow, live in zip(self.model.parameters(), model.parameters()):
            shadow.lerp_(live.detach(), 1 - self.decay)
        for shadow, live in zip(self.model.buffers(), model.buffers()):
            shadow.copy_(live)


def _copy(model: nn.Module) -> nn.Module:
    import copy

    clone = copy.deepcopy(model)
    for p in clone.parameters():
        p.requires_grad_(False)
    return clone


# -- training -------------------------------------------------------------------------------


def _optimizer(model: nn.Module, p) -> torch.optim.SGD:
    kernels = [q for q in model.parameters() if q.ndim > 1]  # TF's 'kernel' variables
    others = [q for q in model.parameters() if q.ndim <= 1]
    groups = [{"params": kernels, "weight_decay": p["weight_decay"]}, {"params": others, "weight_decay": 0.0}]
    return torch.optim.SGD(groups, lr=p["lr"], momentum=0.9, nesterov=True)


def _views(p, image_shape) -> tuple[Augment, Augment]:
    side = min(image_shape[1:])
    weak = Augment(crop_padding=p["shift"], flip=p["flip"], pad_mode="reflect")
    cutout = p["cutout"] if p["cutout"] else 1 + int(0.499 * side)
    strong = Augment(
        crop_padding=p["shift"], flip=p["flip"], pad_mode="reflect", rand_augment=p["rand_augment"], cutout=cutout
    )
    return weak, strong


def train_fixmatch(data: TrainData, ctx: RunContext, *, unlabelled: bool = True) -> nn.Module:
    """FixMatch (``unlabelled``) or its supervised-only control, for ``ctx.budget.iterations``
    steps. An epoch is one pass over the unlabelled pool (len(pool) // (mu B) steps; for the control
    the same count, so both log at the same steps)."""
    p = ctx.params
    image_shape = tuple(data.train.images.shape[1:])
    model = ctx.prepare(build_network(image_shape, data.num_classes, p))
    ema = EMA(model, p["ema"])
    optimizer = _optimizer(model, p)
    total = ctx.budget.iterations
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda k: cosine_factor(k, total))
    batch, mu = p["batch_size"], p.get("mu", _SEMI["mu"].default)  # the control counts epochs as FixMatch
    weak, strong = _views(p, image_shape)
    labelled = ctx.endless_batches(data.train, batch, augment=weak)
    per_epoch = max(1, len(data.unlabelled) // (mu * batch))
    step = 0
    model.train()
    for _ in ctx.epochs(-(-total // per_epoch)):
        pool = ctx.view_batches(data.unlabelled, mu * batch, (weak, strong)) if unlabelled else None
        for _ in range(min(per_epoch, total - step)):
            x, y = next(labelled)
            with ctx.autocast():
                if pool is None:
                    loss = F.cross_entropy(model(ctx.layout(x)).float(), y)
                else:
                    u_weak, u_strong = next(pool)
                    logits = model(ctx.layout(torch.cat([x, u_weak, u_strong])))  # (B + 2 mu B, classes)
                    logits_weak, logits_strong = logits[batch:].chunk(2)
                    loss, _ = fixmatch_loss(
                        logits[:batch], y, logits_weak, logits_strong, p["threshold"], p["lambda_u"]
                    )
            ctx.optimize(loss, optimizer, schedule, n=batch * (1 + 2 * mu if pool is not None else 1))
            ema.update(model)
            step += 1
        if data.val is not None:
            ctx.log(val_accuracy=ctx.accuracy(ema.model, data.val))
    return ema.model.eval()


def train_supervised_only(data: TrainData, ctx: RunContext) -> nn.Module:
    return train_fixmatch(data, ctx, unlabelled=False)


# Defaults: the official CIFAR-10 / SVHN setting; suites change what differs per dataset.
_PARAMS = {
    "batch_size": Param(64, ge=1, help="labelled batch B (fixmatch.py: batch)"),
    "lr": Param(0.03, gt=0, help="SGD Nesterov momentum 0.9, lr x cos(7 pi k / 16 K)"),
    "weight_decay": Param(5e-4, ge=0, help="on conv and dense weights (fixmatch.py: wd; 0.001 for CIFAR-100)"),
    "ema": Param(0.999, ge=0, lt=1, help="decay of the evaluated weights' moving average"),
    "filters": Param(32, ge=1, help="channels of the first stage (32: WRN-28-2, 128: WRN-28-8)"),
    "repeat": Param(4, ge=1, help="residual blocks per stage (4: depth 28)"),
    "scales": Param(0, ge=0, help="stages (0: log2(side) - 2, libml's)"),
    "bn_momentum": Param(
        0.001, gt=0, le=1, help="batch-norm statistics' momentum, PyTorch's convention (0.001: libml's decay 0.999)"
    ),
    "shift": Param(4, ge=0, help="weak view: random shift up to this many px, reflect padding"),
    "flip": Param(True, help="weak view: horizontal flip (CIFAR yes, SVHN and digits no)"),
    "rand_augment": Param("rand-m10-n2-mstd0.5-inc1", help="strong view: the host's RandAugment config"),
    "cutout": Param(0, ge=0, help="strong view: cutout side in px (0: 1 + int(0.499 side), CTAugment's)"),
}
_SEMI = {
    "threshold": Param(0.95, gt=0, le=1, help="confidence tau of a pseudo-label (fixmatch.py: confidence)"),
    "mu": Param(7, ge=1, help="unlabelled images per labelled one in a step (fixmatch.py: uratio)"),
    "lambda_u": Param(1.0, ge=0, help="weight of the unlabelled loss (fixmatch.py: wu)"),
}
_PAPER = "Sohn et al., FixMatch, NeurIPS 2020 (arXiv 2001.07685)"


@hookimpl
def bench_register_methods(register):
    register(
        Classifier(
            name="fixmatch",
            train=train_fixmatch,
            budget={"iterations": 2**20},
            params={**_PARAMS, **_SEMI},
            description="FixMatch: confident pseudo-labels of weak views train strong views of the unlabelled pool.",
            citation=_PAPER,
            check_params={"filters": 4, "repeat": 1, "batch_size": 4, "mu": 2},
            check_budget={"iterations": 2},
        )
    )
    register(
        Classifier(
            name="fixmatch-supervised",
            train=train_supervised_only,
            budget={"iterations": 2**20},
            params=_PARAMS,
            description="FixMatch's supervised-only control: the same network, optimiser, schedule and EMA on "
            "the labelled images alone.",
            citation=_PAPER,
            check_params={"filters": 4, "repeat": 1, "batch_size": 4},
            check_budget={"iterations": 2},
        )
    )
