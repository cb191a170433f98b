"""Introspective CNN (Jin, Lazarow, Tu, "Introspective Classification with Convolutional Nets",
NIPS 2017): one CNN that is both the classifier and a generator, trained by reclassification-by-synthesis.

The CNN has 2K outputs (a positive and a pseudo-negative role per class); each round synthesises
pseudo-negatives by SGLD on the classifier's ratio of the two roles times a Gaussian, adds them to
a pool and trains on, with BatchNorm frozen for them. The formulation, where each sampler choice
comes from (SGLD, jlazarow/inn, kjunelee/WINN), the defaults (ours) and the control are in
docs/METHODS.md#introspective-cnn.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn

from bench import Augment, Classifier, Param, RunContext, TrainData, hookimpl, param_defaults, rate, save_image
from bench_plugins.methods.supervised import small_cnn

#: Pseudo-negatives made per second, timed where each round makes them: its column in tables.
SYNTHESIS_RATE = rate("synthesis_images_per_s", label="synth img/s", unit="images/s")

# -- backbones ------------------------------------------------------------------------------------------


class BasicBlock(nn.Module):
    """3x3 conv-BN-ReLU, 3x3 conv-BN, + shortcut (1x1 conv-BN where the shape changes), ReLU."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(cin, cout, 3, stride, 1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, 1, 1, bias=False),
            nn.BatchNorm2d(cout),
        )
        self.shortcut = (
            nn.Identity()
            if stride == 1 and cin == cout
            else nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.shortcut(x))


def cifar_resnet(in_channels: int, num_outputs: int, width: int, blocks: int) -> nn.Module:
    """The CIFAR ResNet of He et al. (2016): a 3x3 stem, three stages of ``blocks`` basic blocks at
    widths w, 2w, 4w (stride 2 between stages), global average pooling, linear: 6 * blocks + 2
    layers (blocks = 5, width 16: ResNet-32). (B, C, H, W) -> (B, num_outputs)."""
    layers: list[nn.Module] = [
        nn.Conv2d(in_channels, width, 3, 1, 1, bias=False),
        nn.BatchNorm2d(width),
        nn.ReLU(inplace=True),
    ]
    cin = width
    for stage in range(3):
        cout = width * 2**stage
        for i in range(blocks):
            layers.append(BasicBlock(cin, cout, 2 if stage and i == 0 else 1))
            cin = cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, num_outputs)]
    return nn.Sequential(*layers)


def build_backbone(p: dict, image_shape: tuple[int, int, int], num_outputs: int) -> nn.Module:
    channels, height, width = image_shape
    if p["backbone"] == "small-cnn":
        return small_cnn(channels, num_outputs, p["width"], (height, width))
    if p["backbone"] == "resnet":
        return cifar_resnet(channels, num_outputs, p["width"], p["blocks"])
    raise ValueError(f"icn: backbone must be 'small-cnn' or 'resnet', got {p['backbone']!r}")


class PositiveScores(nn.Module):
    """The classifier the host scores: the K positive-role logits of the 2K-output network."""

    def __init__(self, net: nn.Module, num_classes: int):
        super().__init__()
        self.net, self.num_classes = net, num_classes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)[:, : self.num_classes]


# -- synthesis ------------------------------------------------------------------------------------------


def log_ratio(net: nn.Module, x: torch.Tensor, classes: torch.Tensor, num_classes: int) -> torch.Tensor:
    """z_k(x) - z_-k(x) for each sample's class k: (B,)."""
    logits = net(x).float()  # (B, 2K)
    return logits.gather(1, classes[:, None])[:, 0] - logits.gather(1, num_classes + classes[:, None])[:, 0]


def reference_samples(
    shape: tuple[int, ...], lo: torch.Tensor, hi: torch.Tensor, device, generator: torch.Generator
) -> torch.Tensor:
    """Samples of q0 = N(0, I) in normalised pixels, kept in the valid pixel range [lo, hi]."""
    return torch.randn(shape, device=device, generator=generator).clamp(lo, hi)


@dataclass
class Chains:
    """The sampler's output: the samples, the log ratio z_k - z_-k of each and whether its chain
    met the stopping rule (all on the device)."""

    x: torch.Tensor
    log_ratio: torch.Tensor
    stopped: torch.Tensor


def langevin(
    net: nn.Module,
    x: torch.Tensor,
    classes: torch.Tensor,
    num_classes: int,
    *,
    steps: int,
    step_size: float,
    noise: float,
    lo: torch.Tensor,
    hi: torch.Tensor,
    generator: torch.Generator,
    stop_at: float = math.inf,
    chunk: int | None = None,
    autocast=contextlib.nullcontext,
    layout=lambda v: v,
) -> Chains:
    """Stochastic gradient Langevin dynamics (Welling and Teh, 2011) on log p_k(x) = z_k(x) - z_-k(x)
    - |x|^2 / 2 (+ const) for each sample's class k, at most ``steps`` steps of

        x <- clamp(x + step_size / 2 * grad log p_k(x) + noise * sqrt(step_size) * N(0, I), lo, hi),

    so ``noise = 1`` is Langevin dynamics proper (noise variance = step size) and ``noise = 0`` plain
    gradient ascent. A chain stops for good (its sample stays as it is) once z_k - z_-k >= ``stop_at``:
    the classifier then takes it for class k rather than for its pseudo-negative. Stopped chains are
    masked, not dropped, so the loop never reads the device. Runs ``chunk`` samples at a time
    (all at once when None), the network called under ``autocast()`` on ``layout(x)`` (the run's
    mixed precision and memory format), scores and gradients in fp32. The network's parameters
    get no gradient; call it with the network in eval mode."""
    size = chunk or len(x)
    parts = [
        run_chains(net, part, k, num_classes, steps, step_size, noise, lo, hi, generator, stop_at, autocast, layout)
        for part, k in zip(x.split(size), classes.split(size))
    ]
    return Chains(
        torch.cat([c.x for c in parts]), torch.cat([c.log_ratio for c in parts]), torch.cat([c.stopped for c in parts])
    )


def run_chains(
    net, x, classes, num_classes, steps, step_size, noise, lo, hi, generator, stop_at, autocast, layout
) -> Chains:
    def score(v):
        with autocast():
            return log_ratio(net, layout(v), classes, num_classes)

    x = x.detach()
    stopped = torch.zeros(len(x), dtype=torch.bool, device=x.device)
    for _ in range(steps):
        x = x.requires_grad_(True)
        ratio = score(x)
        stopped = stopped | (ratio.detach() >= stop_at)
        energy = ratio.sum() - 0.5 * (x.float() ** 2).sum()
        (grad,) = torch.autograd.grad(energy, x)
        moved = x.detach() + 0.5 * step_size * grad
        if noise:
            moved = moved + noise * math.sqrt(step_size) * torch.randn(x.shape, device=x.device, generator=generator)
        x = torch.where(stopped[:, None, None, None], x.detach(), torch.maximum(torch.minimum(moved, hi), lo))
    with torch.no_grad():
        ratio = score(x)
    return Chains(x.detach(), ratio, stopped | (ratio >= stop_at))


def to_uint8(x: torch.Tensor, ctx: RunContext) -> torch.Tensor:
    """Normalised images (B, C, H, W) back to uint8 pixels."""
    mean = torch.tensor(ctx.normalize.mean, device=x.device)[None, :, None, None]
    std = torch.tensor(ctx.normalize.std, device=x.device)[None, :, None, None]
    return ((x * std + mean).clamp(0, 1) * 255).round().to(torch.uint8)


def save_grid(
    samples: torch.Tensor,
    classes: torch.Tensor,
    num_classes: int,
    ctx: RunContext,
    round_: int,
    caption: str,
    per_class: int = 8,
) -> None:
    """One row per class of up to ``per_class`` samples, 1-pixel gaps."""
    pixels = to_uint8(samples, ctx)
    c, h, w = pixels.shape[1:]
    grid = torch.full(
        (c, num_classes * (h + 1) - 1, per_class * (w + 1) - 1), 255, dtype=torch.uint8, device=pixels.device
    )
    for k in range(num_classes):
        for j, image in enumerate(pixels[classes == k][:per_class]):
            grid[:, k * (h + 1) : k * (h + 1) + h, j * (w + 1) : j * (w + 1) + w] = image
    save_image(ctx.artifacts_dir, "pseudo-negatives", f"round-{round_:02d}", grid, caption=caption)


# -- training ---------------------------------------------------------------------------------------------


def endless_batches(
    data, batch_size: int, ctx: RunContext, augment: Augment
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    while True:
        yield from ctx.batches(data, batch_size, augment=augment)


def draw_pseudo_negatives(
    pool_x: torch.Tensor, pool_y: torch.Tensor, n: int, num_classes: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` pseudo-negatives drawn from the pool; one synthesised for class k is labelled K + k,
    class k's pseudo-negative role."""
    pick = torch.randint(len(pool_y), (n,), device=pool_y.device, generator=generator)
    return pool_x[pick], num_classes + pool_y[pick]


@contextlib.contextmanager
def batchnorm_frozen(net: nn.Module):
    """The network's BatchNorm layers in eval mode (normalising with their running statistics and
    leaving them as they are) for the duration; the rest of the network keeps its mode."""
    layers = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.training]
    for m in layers:
        m.eval()
    try:
        yield
    finally:
        for m in layers:
            m.train()


def reclassification_logits(
    net: nn.Module, images: torch.Tensor, negatives: torch.Tensor, layout=lambda v: v
) -> torch.Tensor:
    """Logits of the training images, then of the pseudo-negatives, in two passes: the training
    images in train mode (BatchNorm on their batch statistics, which its running statistics
    track), the pseudo-negatives with BatchNorm frozen, so the statistics the classifier is tested
    with never see them, and they are normalised as the sampler and the test see their inputs."""
    real = net(layout(images))
    with batchnorm_frozen(net):
        fake = net(layout(negatives))
    return torch.cat([real, fake])


def fit_icn(data: TrainData, ctx: RunContext) -> nn.Module:
    p = ctx.params
    k_classes = data.num_classes
    introspective = p["introspective"]
    image_shape = tuple(data.train.images.shape[1:])
    net = ctx.prepare(build_backbone(p, image_shape, 2 * k_classes if introspective else k_classes))
    model = PositiveScores(net, k_classes) if introspective else net

    rounds, batch_size = p["rounds"], p["batch_size"]
    steps_per_epoch = math.ceil(len(data.train) / batch_size)
    total = max(rounds, round(ctx.budget.epochs * steps_per_epoch))
    bounds = [round(total * r / rounds) for r in range(rounds + 1)]  # steps at each round's end
    optimizer = torch.optim.AdamW(net.parameters(), lr=p["lr"], weight_decay=p["weight_decay"])
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=p["lr"], total_steps=total, pct_start=0.25)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=p["label_smoothing"])
    positives = endless_batches(data.train, batch_size, ctx, Augment(crop_padding=p["crop_padding"], flip=p["flip"]))

    zeros = torch.zeros(1, len(ctx.normalize.mean), 1, 1, device=ctx.device)
    lo = ctx.normalize(zeros)  # pixel 0 and 255, normalised
    hi = ctx.normalize(zeros + 255)
    per_class = p["negatives_per_class"]
    classes = torch.arange(k_classes, device=ctx.device).repeat_interleave(per_class)  # (K * n,)
    pool_x = torch.empty(0, *image_shape, device=ctx.device)
    pool_y = torch.empty(0, dtype=torch.long, device=ctx.device)
    n_neg = round(batch_size * p["negative_ratio"])
    latest = None  # the last round's samples

    for r in ctx.epochs(rounds):
        if introspective:
            fresh = reference_samples((len(classes), *image_shape), lo, hi, ctx.device, ctx.generator)
            start = latest if p["warm_start"] and latest is not None else fresh
            net.eval()
            if r == 0:  # p_0 = q0
                chains = Chains(
                    start,
                    torch.zeros(len(classes), device=ctx.device),
                    torch.zeros(len(classes), dtype=torch.bool, device=ctx.device),
                )
                caption = (
                    f"round 0: samples of q0 (N(0, I) in normalised pixels), {per_class} per class, one row per class"
                )
            else:
                chains = ctx.timed(
                    SYNTHESIS_RATE,
                    lambda start=start: langevin(  # called at once by ctx.timed: bound for clarity
                        net,
                        start,
                        classes,
                        k_classes,
                        steps=p["langevin_steps"],
                        step_size=p["langevin_step"],
                        noise=p["langevin_noise"],
                        lo=lo,
                        hi=hi,
                        generator=ctx.generator,
                        stop_at=p["stop_log_ratio"],
                        chunk=p["synthesis_chunk"],
                        autocast=ctx.autocast,
                        layout=ctx.layout,
                    ),
                    items=len(classes),
                    langevin_steps=p["langevin_steps"],
                )
                caption = (
                    f"round {r}: pseudo-negatives after at most {p['langevin_steps']} Langevin steps on "
                    f"z_k - z_-k - |x|^2/2 from {'the last round' if p['warm_start'] else 'q0'}, "
                    f"one row per class k = 0..{k_classes - 1}"
                )
            with torch.no_grad(), ctx.autocast():  # how much more the classifier believes in its samples than in q0's
                before = log_ratio(net, ctx.layout(fresh), classes, k_classes).mean().item()
                after = log_ratio(net, ctx.layout(chains.x), classes, k_classes).mean().item()
            net.train()
            save_grid(chains.x, classes, k_classes, ctx, r, caption)
            latest = chains.x
            pool_x, pool_y = torch.cat([pool_x, chains.x]), torch.cat([pool_y, classes])
            ctx.log(
                log_ratio_q0=before,
                log_ratio_synthesised=after,
                sampler_stopped=chains.stopped.float().mean().item(),
                pseudo_negatives=len(pool_y),
            )
        for _ in range(bounds[r + 1] - bounds[r]):
            images, labels = next(positives)
            with ctx.autocast():
                if introspective:
                    neg_x, neg_y = draw_pseudo_negatives(pool_x, pool_y, n_neg, k_classes, ctx.generator)
                    loss = loss_fn(reclassification_logits(net, images, neg_x, ctx.layout), torch.cat([labels, neg_y]))
                else:
                    loss = loss_fn(net(ctx.layout(images)), labels)
            ctx.optimize(loss, optimizer, schedule, n=len(labels))
        if data.val is not None:
            ctx.log(val_accuracy=ctx.accuracy(model, data.val))
    return model.eval()


#: Every hyper-parameter with its default and the values it allows (checked when a suite loads).
DECLARED_PARAMS = {
    "introspective": True,  # false: the plain control (same backbone, K-way head, no synthesis)
    "backbone": Param("resnet", choices=("resnet", "small-cnn")),
    "width": Param(16, ge=1),
    "blocks": Param(5, ge=1),  # ResNet-32; "small-cnn" uses width only
    "rounds": Param(10, ge=1),
    "negatives_per_class": Param(500, ge=1),  # synthesised per class and round (our default)
    "negative_ratio": Param(0.5, ge=0),  # pseudo-negatives per training image in each batch (our default)
    # at most this many SGLD steps of this size (our defaults)
    "langevin_steps": Param(60, ge=0),
    "langevin_step": Param(0.1, ge=0),
    "langevin_noise": Param(1.0, ge=0, help="noise / sqrt(step): 1 is Langevin dynamics (SGLD), 0 gradient ascent"),
    "stop_log_ratio": Param(0.0, help="a chain stops once z_k - z_-k reaches this (taken for class k)"),
    "warm_start": Param(True, help="each round's chains go on from the last round's samples"),
    "synthesis_chunk": Param(1000, ge=1, help="samples per sampler batch (memory)"),
    "batch_size": Param(128, ge=1),
    "lr": Param(2e-3, gt=0),
    "weight_decay": Param(5e-4, ge=0),
    "label_smoothing": Param(0.0, ge=0, lt=1),
    "crop_padding": Param(4, ge=0),
    "flip": True,
}
PARAMS = param_defaults(DECLARED_PARAMS)  # the defaults: what ctx.params holds unless a suite says otherwise


@hookimpl
def bench_register_methods(register):
    register(
        Classifier(
            name="icn",
            train=fit_icn,
            check_params={
                "backbone": "small-cnn",
                "width": 4,
                "rounds": 2,
                "negatives_per_class": 2,
                "langevin_steps": 2,
                "batch_size": 16,
            },
            budget={"epochs": 100.0},  # a float: fractional epochs are allowed
            params=DECLARED_PARAMS,
            description="Introspective CNN: one CNN with a positive and a pseudo-negative output per class; "
            "each round synthesises pseudo-negatives by Langevin dynamics on its own class scores and "
            "retrains on them (reclassification-by-synthesis). introspective=false: the same backbone "
            "trained plainly, its control.",
            citation="Jin, Lazarow, Tu, Introspective Classification with Convolutional Nets, NIPS 2017",
        )
    )
