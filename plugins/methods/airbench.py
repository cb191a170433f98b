"""airbench94: Keller Jordan's fast CIFAR-10 trainer (arXiv:2404.00498, 2024), as a bench classifier.

The official ``legacy/airbench94.py`` (github.com/KellerJordan/cifar10-airbench) in our own code:
a frozen data-whitened 2x2 stem and three conv groups, Nesterov SGD with decoupled
hyper-parameters, Lookahead-EMA, the alternating flip and test-time augmentation. The network,
the settings with their sources, the published 94.01% and the declared deviations (bf16 autocast
where the original runs fp16, no compile by default) are in docs/METHODS.md#airbench94.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from bench import Augment, Classifier, LabelledImages, Param, Published, RunContext, TrainData, hookimpl, param_defaults

# --------------------------------------------------------------------------------------------
# Network
# --------------------------------------------------------------------------------------------


class FrozenScaleBatchNorm(nn.BatchNorm2d):
    """BatchNorm whose scale stays 1 (not trained) and whose shift is learned.

    ``momentum`` is airbench's convention, the weight kept by the running average (0.6), i.e.
    PyTorch's ``1 - momentum``.
    """

    def __init__(self, channels: int, momentum: float, eps: float):
        super().__init__(channels, eps=eps, momentum=1.0 - momentum)
        self.weight.requires_grad_(False)


def conv3x3(channels_in: int, channels_out: int) -> nn.Conv2d:
    """3x3 'same' conv without bias; PyTorch's default init, then identity (dirac) on the first
    ``channels_in`` filters: an implicit residual path at initialisation."""
    conv = nn.Conv2d(channels_in, channels_out, 3, padding=1, bias=False)
    with torch.no_grad():
        nn.init.dirac_(conv.weight[:channels_in])
    return conv


class ConvGroup(nn.Module):
    """conv - maxpool2 - BN - GELU - conv - BN - GELU: (B, c_in, H, W) -> (B, c_out, H/2, W/2)."""

    def __init__(self, channels_in: int, channels_out: int, bn_momentum: float, bn_eps: float):
        super().__init__()
        self.conv1 = conv3x3(channels_in, channels_out)
        self.pool = nn.MaxPool2d(2)
        self.norm1 = FrozenScaleBatchNorm(channels_out, bn_momentum, bn_eps)
        self.conv2 = conv3x3(channels_out, channels_out)
        self.norm2 = FrozenScaleBatchNorm(channels_out, bn_momentum, bn_eps)
        self.activ = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.activ(self.norm1(self.pool(self.conv1(x))))  # (B, c_out, H/2, W/2)
        return self.activ(self.norm2(self.conv2(x)))


class AirbenchNet(nn.Module):
    """Whitening conv, three ConvGroups, global max pool, scaled linear head."""

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        widths: tuple[int, int, int] = (64, 256, 256),
        *,
        whiten_kernel_size: int = 2,
        bn_momentum: float = 0.6,
        bn_eps: float = 1e-12,
        scaling_factor: float = 1 / 9,
    ):
        super().__init__()
        k = whiten_kernel_size
        whiten_width = 2 * in_channels * k * k  # each eigenvector with both signs
        self.whiten = nn.Conv2d(in_channels, whiten_width, k, padding=0, bias=True)
        self.whiten.weight.requires_grad_(False)  # set from data by init_whitening_, then frozen
        with torch.no_grad():
            self.whiten.bias.zero_()
        self.activ = nn.GELU()
        self.groups = nn.Sequential(
            ConvGroup(whiten_width, widths[0], bn_momentum, bn_eps),
            ConvGroup(widths[0], widths[1], bn_momentum, bn_eps),
            ConvGroup(widths[1], widths[2], bn_momentum, bn_eps),
        )
        self.head = nn.Linear(widths[2], num_classes, bias=False)
        self.scaling_factor = scaling_factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.activ(self.whiten(x))  # (B, 2*C*k*k, H-k+1, W-k+1): 31x31 for 32x32 inputs
        x = self.groups(x)  # (B, widths[2], 3, 3) for 32x32 inputs
        x = x.amax(dim=(2, 3))  # (B, widths[2]); = MaxPool2d(3) on the 3x3 map
        return self.head(x) * self.scaling_factor  # (B, num_classes)


@torch.no_grad()
def init_whitening_(conv: nn.Conv2d, batches, eps: float) -> None:
    """Set ``conv``'s filters to the patch-whitening transform of the images in ``batches``.

    batches: iterable of normalised (B, C, H, W) float images. The uncentred covariance of all
    k x k patches (stride 1) is eigen-decomposed; filter i is eigenvector i (largest eigenvalue
    first) divided by sqrt(eigenvalue_i + eps), followed by the same filters negated.
    """
    _, c, kh, kw = conv.weight.shape
    dim = c * kh * kw
    cov = torch.zeros(dim, dim, device=conv.weight.device)
    count = 0
    for images, _ in batches:
        patches = F.unfold(images.float(), (kh, kw))  # (B, C*kh*kw, L), ordered (c, kh, kw)
        cov += torch.einsum("bdl,bel->de", patches, patches)
        count += patches.shape[0] * patches.shape[2]
    if count == 0:
        raise ValueError("airbench94: no images to initialise the whitening layer from")
    # eigh in float64 on the CPU: tiny (12x12 for RGB), exact and deterministic on every device.
    eigenvalues, eigenvectors = torch.linalg.eigh(cov.double().cpu() / count)  # ascending
    eigenvalues, eigenvectors = eigenvalues.flip(0), eigenvectors.flip(1)  # descending
    filters = (eigenvectors.T / (eigenvalues.clamp_min(0) + eps).sqrt()[:, None]).reshape(dim, c, kh, kw)
    conv.weight.copy_(torch.cat([filters, -filters]).to(conv.weight))  # (2*dim, C, kh, kw)


class TTAClassifier(nn.Module):
    """The trained network; in eval mode its logits are averaged over flipped/translated views.

    tta_level 0: the image; 1: mean of the image and its mirror; 2: 1/2 of level 1 on the image
    plus 1/4 each of level 1 on the image shifted one pixel up-left and down-right (reflect pad).
    With ``mirror=False`` (a network trained without flips, e.g. on digits) the mirror views are
    left out: level 1 is the image alone, level 2 averages the three translations.
    """

    def __init__(self, net: nn.Module, tta_level: int = 2, *, mirror: bool = True, channels_last: bool = False):
        super().__init__()
        self.net = net
        self.tta_level = tta_level
        self.mirror = mirror
        self.channels_last = channels_last

    def _views(self, x: torch.Tensor) -> torch.Tensor:
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        if not self.mirror:
            return self.net(x).float()
        return 0.5 * self.net(x).float() + 0.5 * self.net(x.flip(-1)).float()

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, num_classes)
        if self.training or self.tta_level == 0:
            return self.net(x)
        if self.tta_level == 1:
            return self._views(x)
        h, w = x.shape[-2:]
        padded = F.pad(x, (1, 1, 1, 1), mode="reflect")  # (B, C, H+2, W+2)
        up_left, down_right = padded[..., :h, :w], padded[..., 2:, 2:]
        return 0.5 * self._views(x) + 0.25 * self._views(up_left) + 0.25 * self._views(down_right)


# --------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------


class Lookahead:
    """An EMA of every floating-point tensor in a state dict (weights and BN running statistics)
    that is copied back into the network after each update, as in the Lookahead optimiser."""

    def __init__(self, net: nn.Module):
        self.live = [t for t in net.state_dict().values() if t.is_floating_point()]
        self.ema = [t.detach().clone() for t in self.live]

    @torch.no_grad()
    def update(self, decay: float) -> None:
        for ema, live in zip(self.ema, self.live):
            ema.lerp_(live, 1.0 - decay)
            live.copy_(ema)

    @torch.no_grad()
    def restore(self) -> None:
        """Reset the network to the EMA (an update with decay 1)."""
        for ema, live in zip(self.ema, self.live):
            live.copy_(ema)


def triangle(total_steps: int, start: float, peak_at: float, end: float) -> list[float]:
    """lr multipliers for steps 0..total_steps: linear start -> 1 until step
    int(peak_at * total_steps), then linear 1 -> end at total_steps."""
    top = int(peak_at * total_steps)

    def factor(step: int) -> float:
        if step < top:
            return start + (1.0 - start) * step / top
        return 1.0 + (end - 1.0) * (step - top) / max(1, total_steps - top)

    return [factor(step) for step in range(total_steps + 1)]


def mirrored_at_random(train: LabelledImages, generator: torch.Generator) -> LabelledImages:
    """airbench's "alternating flip", its first half: each training image mirrored (left-right)
    with probability 1/2, once for the whole run (``CifarLoader``'s pre-flip on epoch 0). The
    other half: every odd epoch mirrors all images (``epoch_view``), so each image is seen in both
    orientations in every two epochs, where random flips each epoch repeat one orientation half
    the time."""
    mirror = torch.rand(len(train), device=train.images.device, generator=generator) < 0.5
    images = torch.where(mirror[:, None, None, None], train.images.flip(-1), train.images)
    return LabelledImages(images, train.labels, train.classes)


def epoch_view(images: torch.Tensor, epoch: int) -> torch.Tensor:
    """A batch of the pre-mirrored set as epoch ``epoch`` (0-based) shows it: all mirrored on odd epochs."""
    return images.flip(-1) if epoch % 2 == 1 else images


def _check(p: dict, height: int, width: int) -> tuple[int, int, int]:
    widths = tuple(int(w) for w in p["widths"])
    if len(widths) != 3 or min(widths) < 1:
        raise ValueError(f"airbench94: params.widths must be 3 positive integers, got {p['widths']!r}")
    if p["tta_level"] not in (0, 1, 2):
        raise ValueError(f"airbench94: params.tta_level must be 0, 1 or 2, got {p['tta_level']!r}")
    k = p["whiten_kernel_size"]
    if k < 1:
        raise ValueError(f"airbench94: params.whiten_kernel_size must be >= 1, got {k}")
    if min(height, width) - k + 1 < 8:  # three 2x poolings must leave at least one pixel
        raise ValueError(f"airbench94 expects 32x32 images (any size from {7 + k}x{7 + k} works), got {height}x{width}")
    if p["lr"] <= 0 or p["batch_size"] < 1 or not 0 <= p["momentum"] < 1:
        raise ValueError("airbench94: params need lr > 0, batch_size >= 1 and 0 <= momentum < 1")
    return widths


def make_optimizer(net: AirbenchNet, p: dict, batch_size: int) -> torch.optim.SGD:
    """Nesterov SGD with airbench's decoupled hyper-parameters: with momentum m, steps are
    ~(1 + 1/(1-m)) gradients long, so lr and wd (per 1024 summed examples) are divided by that.
    SGD's decay per step is lr_t * (wd / lr) = wd * schedule factor: independent of lr. BatchNorm
    shifts get ``bias_scaler`` times the lr, not the decay."""
    kilostep_scale = 1024 * (1 + 1 / (1 - p["momentum"]))
    lr = p["lr"] / kilostep_scale
    wd = p["weight_decay"] * batch_size / kilostep_scale
    lr_bias = lr * p["bias_scaler"]
    bn_shifts = [m.bias for m in net.modules() if isinstance(m, FrozenScaleBatchNorm)]
    shift_ids = {id(t) for t in bn_shifts}
    others = [t for t in net.parameters() if t.requires_grad and id(t) not in shift_ids]
    return torch.optim.SGD(
        [
            dict(params=bn_shifts, lr=lr_bias, weight_decay=wd / lr_bias),
            dict(params=others, lr=lr, weight_decay=wd / lr),
        ],
        momentum=p["momentum"],
        nesterov=True,
    )


def fit_airbench94(data: TrainData, ctx: RunContext) -> nn.Module:
    p = ctx.params
    _, channels, height, width = data.train.images.shape
    widths = _check(p, height, width)
    device = ctx.device
    channels_last = ctx.channels_last

    # Initialise from the run's seed alone (CPU RNG forked, so global state is left as it was).
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(ctx.seed)
        net = AirbenchNet(
            channels,
            data.num_classes,
            widths,
            whiten_kernel_size=p["whiten_kernel_size"],
            bn_momentum=p["batchnorm_momentum"],
            bn_eps=p["batchnorm_eps"],
            scaling_factor=p["scaling_factor"],
        )
    net = net.to(device)
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
    whiten_set = data.train.subset(torch.arange(min(p["whiten_samples"], len(data.train)), device=device))
    init_whitening_(net.whiten, ctx.batches(whiten_set, 1000, shuffle=False), p["whiten_eps"])
    # Compiled when its param or the suite asks (``compile: true``, ``bench gpu-check --compile``):
    # the record's switches must say what ran.
    forward = torch.compile(net) if p["compile"] or ctx.compile else net
    model = TTAClassifier(forward, p["tta_level"], mirror=p["flip"], channels_last=channels_last)

    # Steps: the incomplete last batch is dropped (when there is a full one); fractional epochs
    # stop after ceil(steps_per_epoch * epochs) steps, inside the last epoch.
    batch_size = p["batch_size"]
    drop_last = p["drop_last"] and len(data.train) >= batch_size
    steps_per_epoch = len(data.train) // batch_size if drop_last else math.ceil(len(data.train) / batch_size)
    total_steps = max(1, math.ceil(steps_per_epoch * ctx.budget.epochs))
    n_epochs = math.ceil(total_steps / steps_per_epoch)

    optimizer = make_optimizer(net, p, batch_size)
    factors = triangle(total_steps, p["lr_start"], p["lr_peak_at"], p["lr_end"])
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda i: factors[min(i, total_steps)])
    loss_fn = nn.CrossEntropyLoss(label_smoothing=p["label_smoothing"], reduction="sum")
    # Flips are airbench's alternating flip (mirrored_at_random, epoch_view); translation is the
    # host's (reflect padding); both commute, as in CifarLoader (flip, then pad and crop).
    train = mirrored_at_random(data.train, ctx.generator) if p["flip"] else data.train
    augment = Augment(crop_padding=p["translate"], flip=False, pad_mode=p["pad_mode"])
    ema_every = p["ema_every_n_steps"]
    ema_base = p["ema_decay_base"] ** ema_every
    lookahead = Lookahead(net) if p["ema"] else None

    step = 0
    model.train()
    for epoch in ctx.epochs(n_epochs):
        net.whiten.bias.requires_grad_(epoch < p["whiten_bias_epochs"])
        for images, labels in ctx.batches(train, batch_size, augment=augment, drop_last=drop_last):
            if p["flip"]:
                images = epoch_view(images, epoch)
            if channels_last:
                images = images.contiguous(memory_format=torch.channels_last)
            with ctx.autocast():
                loss = loss_fn(forward(images).float(), labels)  # summed over the batch
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            step += 1
            ctx.step(loss.detach() / len(images), n=len(images))
            if lookahead is not None and epoch >= p["ema_start_epochs"] and step % ema_every == 0:
                # the decay warms up: near 0 early (the EMA follows), 0.95^5 at the end
                lookahead.update(ema_base * (step / total_steps) ** p["ema_decay_pow"])
            if step >= total_steps:
                break
    if lookahead is not None:  # the original's final update(decay=1): the network takes the EMA
        lookahead.restore()
    return model.eval()


# Constants of airbench94.py (hyp dict of the repository's airbench94.py).
#: Every hyper-parameter with its default and the values it allows (checked when a suite loads).
DECLARED_PARAMS = {
    "batch_size": Param(1024, ge=1),
    "lr": Param(11.5, gt=0),  # per 1024 examples, decoupled (see fit_airbench94)
    "momentum": Param(0.85, ge=0, lt=1),  # Nesterov
    "weight_decay": Param(0.0153, ge=0),  # per 1024 examples, decoupled from lr
    "bias_scaler": Param(64.0, gt=0),  # lr multiplier (not wd) for BatchNorm shifts
    "label_smoothing": Param(0.2, ge=0, lt=1),
    "lr_start": Param(0.2, ge=0),  # triangular schedule: x0.2 -> x1 at 23% of the steps -> x0.07
    "lr_peak_at": Param(0.23, ge=0, le=1),
    "lr_end": Param(0.07, ge=0),
    "widths": Param((64, 256, 256), ge=1),
    "batchnorm_momentum": Param(0.6, ge=0, le=1),  # airbench convention: PyTorch momentum 0.4
    "batchnorm_eps": Param(1e-12, gt=0),
    "scaling_factor": Param(1 / 9, gt=0),  # logits multiplier
    "whiten_kernel_size": Param(2, ge=1),
    "whiten_samples": Param(5000, ge=1),  # training images whose patches set the whitening filters
    "whiten_eps": Param(5e-4, ge=0),
    "whiten_bias_epochs": Param(3, ge=0),  # the whitening bias trains for this many epochs, then freezes
    "ema": True,  # Lookahead-EMA of the weights
    "ema_start_epochs": Param(0, ge=0),  # the current airbench94 (an earlier version started at epoch 3)
    "ema_decay_base": Param(0.95, ge=0, le=1),  # per step; applied every n steps as 0.95^n * (step/total)^3
    "ema_decay_pow": Param(3.0, ge=0),
    "ema_every_n_steps": Param(5, ge=1),
    "translate": Param(2, ge=0),  # random translation, pixels
    "pad_mode": Param("reflect", choices=("reflect", "constant")),
    "flip": True,
    "drop_last": True,
    "tta_level": Param(2, choices=(0, 1, 2)),  # 0 none, 1 mirror, 2 mirror + one-pixel translations (6 views)
    "compile": False,  # torch.compile the network (airbench94_compiled.py)
}
PARAMS = param_defaults(DECLARED_PARAMS)  # the defaults: what ctx.params holds unless a suite says otherwise


@hookimpl
def bench_register_methods(register):
    register(
        Classifier(
            name="airbench94",
            train=fit_airbench94,
            check_params={"batch_size": 16, "widths": [8, 8, 8], "whiten_samples": 64, "tta_level": 0},
            budget={"epochs": 9.9},
            params=DECLARED_PARAMS,
            description="airbench94: whitened 2x2 conv + three conv-pool-BN-GELU groups (64/256/256), "
            "Nesterov SGD with label smoothing, Lookahead-EMA and flip/translate TTA; 94.01% on "
            "CIFAR-10 in 3.29 s on an A100.",
            citation="Keller Jordan. 94% on CIFAR-10 in 3.29 Seconds on a Single GPU. arXiv:2404.00498, "
            "2024. https://github.com/KellerJordan/cifar10-airbench",
            published=(
                Published(
                    "cifar10",
                    "test_accuracy",
                    94.01,
                    source="KellerJordan/cifar10-airbench legacy/airbench94.py and README (arXiv:2404.00498): "
                    "mean of n = 1000 runs",
                    note="A100, fp16, 9.9 epochs on all 50k training images, TTA level 2; 3.83 s (3.09 s compiled)",
                ),
            ),
        )
    )
