"""Introspective CNN (Jin, Lazarow, Tu, "Introspective Classification with Convolutional Nets",
NIPS 2017): one CNN that is both the classifier and a generator, trained by reclassification-by-synthesis.

Multi-class formulation: the CNN has 2K outputs, a positive role k and a pseudo-negative role -k for
each of the K classes; training samples of class k carry label k, pseudo-negatives synthesised for
class k carry label -k, and all share one softmax cross-entropy. The host scores the K positive
outputs. Class k's generative model is the reference distribution q0 (a Gaussian: N(0, I) in the
host's normalised pixels, i.e. the data's per-channel mean and standard deviation) reweighted by the
classifier's ratio of the two roles, as the binary ICN's:

    p_k(x) ~ q(y = k | x) / q(y = -k | x) * q0(x) = exp(z_k(x) - z_-k(x)) * q0(x).

Each round (``rounds`` in all, the budget's epochs spread evenly over them):
1. Synthesis: ``negatives_per_class`` samples per class start from q0 and follow ``langevin_steps``
   steps of Langevin dynamics on log p_k, x <- x + step * grad log p_k(x) + noise * N(0, I) (step
   and noise set apart, as usual for images; step must stay well below 1, where the Gaussian's pull
   -x would reset x every step), kept in the valid pixel range, with the network in eval mode. In the first round the pseudo-negatives are q0's own samples (p_0 = q0), as the
   paper's first pseudo-negatives are. The round's samples are saved as a grid (one row per class).
2. They join the pseudo-negatives of all earlier rounds.
3. Reclassification: training goes on (same network and optimiser, one schedule over the whole
   budget) with batches of ``batch_size`` training images plus ``negative_ratio`` times as many
   pseudo-negatives drawn from the pool.

The plain control (``introspective: false``; suites use ``grid: {introspective: [true, false]}`` so
both share every other parameter and the budget) is the same backbone with a K-way head, the same
optimiser, schedule, augmentation and rounds of training on the training images alone.

Our sources (docs/METHODS.md#introspective-cnn) give neither the paper's error tables nor its Langevin step sizes
and round sizes; the defaults here are ours and say so. The host records the sampler's rate
(``synthesis_images_per_s``: pseudo-negatives per second, timed where they are made).
"""

from __future__ import annotations

import math
from typing import Iterator

import torch
from torch import nn

from bench import Augment, Classifier, Param, RunContext, TrainData, hookimpl, param_defaults, save_image
from bench_plugins.methods.supervised import small_cnn


# -- backbones ------------------------------------------------------------------------------------------


class BasicBlock(nn.Module):
    """3x3 conv-BN-ReLU, 3x3 conv-BN, + shortcut (1x1 conv-BN where the shape changes), ReLU."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout),
        )
        self.shortcut = nn.Identity() if stride == 1 and cin == cout else nn.Sequential(
            nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.shortcut(x))


def cifar_resnet(in_channels: int, num_outputs: int, width: int, blocks: int) -> nn.Module:
    """The CIFAR ResNet of He et al. (2016): a 3x3 stem, three stages of ``blocks`` basic blocks at
    widths w, 2w, 4w (stride 2 between stages), global average pooling, linear: 6 * blocks + 2
    layers (blocks = 5, width 16: ResNet-32). (B, C, H, W) -> (B, num_outputs)."""
    layers: list[nn.Module] = [nn.Conv2d(in_channels, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
    cin = width
    for stage in range(3):
        cout = width * 2 ** stage
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
    logits = net(x).float()                                                # (B, 2K)
    return logits.gather(1, classes[:, None])[:, 0] - logits.gather(1, num_classes + classes[:, None])[:, 0]


def reference_samples(shape: tuple[int, ...], lo: torch.Tensor, hi: torch.Tensor, device, generator: torch.Generator) -> torch.Tensor:
    """Samples of q0 = N(0, I) in normalised pixels, kept in the valid pixel range [lo, hi]."""
    return torch.randn(shape, device=device, generator=generator).clamp(lo, hi)


def langevin(net: nn.Module, x: torch.Tensor, classes: torch.Tensor, num_classes: int, *, steps: int, step_size: float,
             noise: float, lo: torch.Tensor, hi: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """``steps`` Langevin steps on log p_k(x) = z_k(x) - z_-k(x) - |x|^2 / 2 (+ const) for each
    sample's class k: x <- clamp(x + step_size * grad + noise * N(0, I), lo, hi). The network's
    parameters get no gradient; call it with the network in eval mode."""
    for _ in range(steps):
        x = x.detach().requires_grad_(True)
        energy = log_ratio(net, x, classes, num_classes).sum() - 0.5 * (x.float() ** 2).sum()
        (grad,) = torch.autograd.grad(energy, x)
        x = x.detach() + step_size * grad
        if noise:
            x = x + noise * torch.randn(x.shape, device=x.device, generator=generator)
        x = torch.maximum(torch.minimum(x, hi), lo)
    return x.detach()


def to_uint8(x: torch.Tensor, ctx: RunContext) -> torch.Tensor:
    """Normalised images (B, C, H, W) back to uint8 pixels."""
    mean = torch.tensor(ctx.normalize.mean, device=x.device)[None, :, None, None]
    std = torch.tensor(ctx.normalize.std, device=x.device)[None, :, None, None]
    return ((x * std + mean).clamp(0, 1) * 255).round().to(torch.uint8)


def save_grid(samples: torch.Tensor, classes: torch.Tensor, num_classes: int, ctx: RunContext, round_: int,
              caption: str, per_class: int = 8) -> None:
    """One row per class of up to ``per_class`` samples, 1-pixel gaps."""
    pixels = to_uint8(samples, ctx)
    c, h, w = pixels.shape[1:]
    grid = torch.full((c, num_classes * (h + 1) - 1, per_class * (w + 1) - 1), 255, dtype=torch.uint8, device=pixels.device)
    for k in range(num_classes):
        for j, image in enumerate(pixels[classes == k][:per_class]):
            grid[:, k * (h + 1) : k * (h + 1) + h, j * (w + 1) : j * (w + 1) + w] = image
    save_image(ctx.artifacts_dir, "pseudo-negatives", f"round-{round_:02d}", grid, caption=caption)


# -- training ---------------------------------------------------------------------------------------------


def endless_batches(data, batch_size: int, ctx: RunContext, augment: Augment) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    while True:
        yield from ctx.batches(data, batch_size, augment=augment)


def with_pseudo_negatives(images: torch.Tensor, labels: torch.Tensor, pool_x: torch.Tensor, pool_y: torch.Tensor,
                          n: int, num_classes: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """The training batch plus ``n`` pseudo-negatives drawn from the pool; one synthesised for
    class k is labelled K + k, class k's pseudo-negative role."""
    pick = torch.randint(len(pool_y), (n,), device=images.device, generator=generator)
    return torch.cat([images, pool_x[pick]]), torch.cat([labels, num_classes + pool_y[pick]])


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
    bounds = [round(total * r / rounds) for r in range(rounds + 1)]           # steps at each round's end
    optimizer = torch.optim.AdamW(net.parameters(), lr=p["lr"], weight_decay=p["weight_decay"])
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=p["lr"], total_steps=total, pct_start=0.25)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=p["label_smoothing"])
    positives = endless_batches(data.train, batch_size, ctx, Augment(crop_padding=p["crop_padding"], flip=p["flip"]))

    zeros = torch.zeros(1, len(ctx.normalize.mean), 1, 1, device=ctx.device)
    lo = ctx.normalize(zeros)                                                   # pixel 0 and 255, normalised
    hi = ctx.normalize(zeros + 255)
    per_class = p["negatives_per_class"]
    pool_x = torch.empty(0, *image_shape, device=ctx.device)
    pool_y = torch.empty(0, dtype=torch.long, device=ctx.device)
    n_neg = round(batch_size * p["negative_ratio"])

    for r in ctx.epochs(rounds):
        if introspective:
            classes = torch.arange(k_classes, device=ctx.device).repeat_interleave(per_class)   # (K * n,)
            start = reference_samples((len(classes), *image_shape), lo, hi, ctx.device, ctx.generator)
            net.eval()
            if r == 0:                                                        # p_0 = q0
                fresh = start
                caption = f"round 0: samples of q0 (N(0, I) in normalised pixels), {per_class} per class, one row per class"
            else:
                fresh = ctx.timed("synthesis_images_per_s", lambda: langevin(
                    net, start, classes, k_classes, steps=p["langevin_steps"], step_size=p["langevin_step"],
                    noise=p["langevin_noise"], lo=lo, hi=hi, generator=ctx.generator),
                    items=len(classes), langevin_steps=p["langevin_steps"], label="synth img/s", unit="images/s")
                caption = (f"round {r}: pseudo-negatives after {p['langevin_steps']} Langevin steps on z_k - z_-k - |x|^2/2 "
                           f"from q0, one row per class k = 0..{k_classes - 1}")
            with torch.no_grad():       # how much more the classifier believes in its samples than in q0's
                before = log_ratio(net, start, classes, k_classes).mean().item()
                after = log_ratio(net, fresh, classes, k_classes).mean().item()
            net.train()
            save_grid(fresh, classes, k_classes, ctx, r, caption)
            pool_x, pool_y = torch.cat([pool_x, fresh]), torch.cat([pool_y, classes])
            ctx.log(log_ratio_q0=before, log_ratio_synthesised=after, pseudo_negatives=len(pool_y))
        for _ in range(bounds[r + 1] - bounds[r]):
            images, labels = next(positives)
            if introspective:
                images, labels = with_pseudo_negatives(images, labels, pool_x, pool_y, n_neg, k_classes, ctx.generator)
            with ctx.autocast():
                loss = loss_fn(net(ctx.layout(images)), labels)
            ctx.optimize(loss, optimizer, schedule, n=len(labels) - (n_neg if introspective else 0))
        if data.val is not None:
            ctx.log(val_accuracy=ctx.accuracy(model, data.val))
    return model.eval()


#: Every hyper-parameter with its default and the values it allows (checked when a suite loads).
DECLARED_PARAMS = {
    "introspective": True,         # false: the plain control (same backbone, K-way head, no synthesis)
    "backbone": Param("resnet", choices=("resnet", "small-cnn")),
    "width": Param(16, ge=1), "blocks": Param(5, ge=1),   # ResNet-32; "small-cnn" uses width only
    "rounds": Param(10, ge=1),
    "negatives_per_class": Param(500, ge=1),   # synthesised per class and round (our default)
    "negative_ratio": Param(0.5, ge=0),        # pseudo-negatives per training image in each batch (our default)
    "langevin_steps": Param(60, ge=0), "langevin_step": Param(0.1, ge=0), "langevin_noise": Param(0.01, ge=0),
    "batch_size": Param(128, ge=1), "lr": Param(2e-3, gt=0), "weight_decay": Param(5e-4, ge=0),
    "label_smoothing": Param(0.0, ge=0, lt=1),
    "crop_padding": Param(4, ge=0), "flip": True,
}
PARAMS = param_defaults(DECLARED_PARAMS)  # the defaults: what ctx.params holds unless a suite says otherwise


@hookimpl
def bench_register_methods(register):
    register(Classifier(
        name="icn",
        train=fit_icn,
        budget={"epochs": 100.0},  # a float: fractional epochs are allowed
        params=DECLARED_PARAMS,
        description="Introspective CNN: one CNN with a positive and a pseudo-negative output per class; "
        "each round synthesises pseudo-negatives by Langevin dynamics on its own class scores and "
        "retrains on them (reclassification-by-synthesis). introspective=false: the same backbone "
        "trained plainly, its control.",
        citation="Jin, Lazarow, Tu, Introspective Classification with Convolutional Nets, NIPS 2017",
    ))
