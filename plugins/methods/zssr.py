"""ZSSR: "Zero-Shot" Super-Resolution using Deep Internal Learning (Shocher, Cohen, Irani, CVPR 2018).

An image-specific network is trained at test time on pairs made from the LR image alone: a random
augmented crop of it is the "HR father", its bicubic downscaling (the host's operator, the same one
that made the LR image) the "LR son"; the network learns son -> father and is then applied to the
LR image itself, gradually by default (``schedule: gradual``). The official settings
(github.com/assafshocher/ZSSR, with file:line citations), our schedule for other factors than x2
and the budget are in docs/METHODS.md#zssr.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from bench import Param, Problem, Published, RestoreContext, Restorer, hookimpl, imresize


class ZSSRNet(nn.Module):
    """(B, C, H, W) bicubic-upsampled image -> (B, C, H, W): input + 8-layer residual."""

    def __init__(self, channels: int, width: int = 64, depth: int = 8, init_variance: float = 0.1):
        super().__init__()
        sizes = [channels] + [width] * (depth - 1) + [channels]
        self.convs = nn.ModuleList(nn.Conv2d(a, b, 3, padding=1, bias=False) for a, b in zip(sizes[:-1], sizes[1:]))
        for conv in self.convs:
            fan_in = conv.in_channels * 9
            nn.init.normal_(conv.weight, std=math.sqrt(init_variance / fan_in))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        for conv in self.convs[:-1]:
            h = F.relu(conv(h))
        return x + self.convs[-1](h).to(x.dtype)  # the residual added at the input's precision


def random_augment(
    rng: np.random.Generator, shapes: list[tuple[int, int]], base_scales: list[float], p: dict
) -> tuple[int, np.ndarray]:
    """ZSSR's ``random_augment`` (utils.py:13-137): which HR-father source to crop (an index into
    ``shapes``, the (H, W) of the LR image and of the earlier stages' outputs, at ``base_scales``
    relative to the LR image, ascending) and the 3x3 map from its pixel (x, y, 1) to the crop's.
    The scale is drawn up to the newest source's (ZSSR.py:303) and picks the smallest source
    larger than it (utils.py:55-57); an affine warp then scales relative to that source
    (utils.py:76-77). The random draws come in the official order."""
    r = rng.random()
    if r < p["augment_leave_as_is_probability"]:
        mode = "leave"
    elif r < p["augment_leave_as_is_probability"] + p["augment_no_interpolate_probability"]:
        mode = "no_interp"
    else:
        mode = "affine"
    crop = p["crop_size"]
    max_scale = base_scales[-1]
    scale = 1.0 if mode == "leave" else rng.random() * (max_scale - p["augment_min_scale"]) + p["augment_min_scale"]
    source = next(i for i, base in enumerate(base_scales) if base > scale - 1e-6)
    height, width = shapes[source]
    to_center = np.array([[1, 0, -width / 2.0], [0, 1, -height / 2.0], [0, 0, 1]])
    back = np.array([[1, 0, width / 2.0], [0, 1, height / 2.0], [0, 0, 1]])
    if mode != "affine":
        to_center, back = np.round(to_center), np.round(back)
    if mode == "affine":
        scale /= base_scales[source]
        scale_diff = rng.standard_normal() * p["augment_scale_diff_sigma"]
    else:
        scale, scale_diff = 1.0, 0.0
    reflect = 1.0 if mode == "leave" else float(np.sign(rng.standard_normal()) or 1.0)
    scale_mat = np.array([[reflect * (scale + scale_diff / 2), 0, 0], [0, scale - scale_diff / 2, 0], [0, 0, 1]])
    shift_x = rng.random() * np.clip(scale * width - crop, 0, None)
    shift_y = rng.random() * np.clip(scale * height - crop, 0, None)
    shift = np.array([[1, 0, -shift_x], [0, 1, -shift_y], [0, 0, 1]])
    if mode != "affine":
        shift = np.round(shift)
    theta = (
        rng.random() * 2 * math.pi
        if mode == "affine"
        else (rng.integers(4) * math.pi / 2 if mode == "no_interp" else 0.0)
    )
    rotation = np.array([[math.cos(theta), math.sin(theta), 0], [-math.sin(theta), math.cos(theta), 0], [0, 0, 1]])
    if mode == "affine":
        shear_x, shear_y = (
            rng.standard_normal() * p["augment_shear_sigma"],
            rng.standard_normal() * p["augment_shear_sigma"],
        )
    else:
        shear_x = shear_y = 0.0
    shear = np.array([[1, shear_x, 0], [shear_y, 1, 0], [0, 0, 1]])
    return source, back @ shift @ shear @ rotation @ scale_mat @ to_center


def augment_matrix(rng: np.random.Generator, height: int, width: int, p: dict) -> np.ndarray:
    """The crop map of :func:`random_augment` when the LR image is the only source (one jump)."""
    return random_augment(rng, [(height, width)], [1.0], p)[1]


def warp(image: torch.Tensor, matrix: np.ndarray, size: int) -> torch.Tensor:
    """(C, H, W) -> (C, size, size): crop pixel q takes the source at matrix^-1 q (pixel centres
    at integer coordinates), bicubic (a = -0.75, as cv2), zero outside, clipped to [0, 1].
    The sampling grid is built on the image's device (float64, as the official code's), the
    matrix entering as scalars: nothing is copied from the host."""
    _, h, w = image.shape
    (a, b, c), (d, e, f), (g, k, m) = np.linalg.inv(matrix).tolist()
    coords = torch.arange(size, dtype=torch.float64, device=image.device)
    xs, ys = coords[None, :], coords[:, None]  # (1, size), (size, 1)
    depth = g * xs + k * ys + m
    sx, sy = (a * xs + b * ys + c) / depth, (d * xs + e * ys + f) / depth  # (size, size)
    grid = torch.stack([2 * sx / max(w - 1, 1) - 1, 2 * sy / max(h - 1, 1) - 1], dim=-1)
    grid = grid.to(image.dtype)[None]
    out = F.grid_sample(image[None], grid, mode="bicubic", padding_mode="zeros", align_corners=True)
    return out[0].clamp(0, 1)


Scale = tuple[float, float]  # (vertical, horizontal), as ZSSR's scale_factors


def per_axis(sf: float | Scale) -> Scale:
    return (float(sf), float(sf)) if not isinstance(sf, tuple) else sf


def upscale_and_refine(
    net: nn.Module, image: torch.Tensor, sf: float | Scale, shape: tuple[int, int], ctx: RestoreContext
) -> torch.Tensor:
    """The network's output on the bicubic upscaling of ``image`` (C, h, w) to ``shape``. The
    base and the residual sum stay in float32 outside autocast (only the residual runs at the
    run's precision: a bf16 base would add a quarter of a grey level of rounding noise)."""
    base = imresize(image, per_axis(sf), shape)[None]
    with ctx.autocast():
        out = net(ctx.layout(base))[0]
    return out.float().clamp(0, 1)


def back_projection(sr: torch.Tensor, lr: torch.Tensor, sf: float | Scale) -> torch.Tensor:
    """One step: add the upscaled residual of the downscaled SR against the LR image, clip."""
    sh, sw = per_axis(sf)
    down = imresize(sr, (1.0 / sh, 1.0 / sw), tuple(lr.shape[-2:]))
    return (sr + imresize(lr - down, (sh, sw), tuple(sr.shape[-2:]))).clamp(0, 1)


#: The official gradual SR x2 (configs.py:76-78, ``X2_GRADUAL_IDEAL_CONF``): each stage's
#: (vertical, horizontal) scale of the LR image; its back-projection steps are the param
#: ``gradual_back_projection_iters`` ([6, 6, 8, 10, 10, 12], configs.py:78).
GRADUAL_X2: tuple[Scale, ...] = ((1.0, 1.5), (1.5, 1.0), (1.5, 1.5), (1.5, 2.0), (2.0, 1.5), (2.0, 2.0))


def schedule(sf: float, p: dict) -> list[tuple[Scale, int]]:
    """The stages to run, each (scale of the LR image, back-projection steps). ``one-jump``: one
    stage at ``sf`` (configs.py:7, 20). ``gradual``: the official x2 schedule; the official code
    gives none for other factors, so for ``sf`` its axes step 1 -> (1 + sf) / 2 -> sf in the same
    order (the official one for sf = 2; x4: 2.5, then 4)."""
    if p["schedule"] == "one-jump":
        return [((sf, sf), p["back_projection_iters"])]
    steps = p["gradual_back_projection_iters"]
    if len(steps) != len(GRADUAL_X2):
        raise ValueError(
            f"zssr: param 'gradual_back_projection_iters' needs {len(GRADUAL_X2)} values, one per stage "
            f"of the gradual schedule, got {len(steps)}"
        )
    to = {1.0: 1.0, 1.5: (1.0 + sf) / 2, 2.0: sf}
    return [((to[h], to[w]), bp) for (h, w), bp in zip(GRADUAL_X2, steps)]


def restore_zssr(problem: Problem, ctx: RestoreContext) -> torch.Tensor:
    if problem.task != "sr":
        raise ValueError(f"zssr restores SR only, not {problem.task!r}")
    p = ctx.params
    lr_image = problem.observed  # (C, h, w) in [0, 1]
    net = ZSSRNet(lr_image.shape[0], p["width"], p["depth"], p["init_variance"])
    model = ctx.prepare(net)  # compiled / channels-last as the suite asks; ``net`` is trained
    optimizer = torch.optim.Adam(net.parameters(), lr=p["learning_rate"])
    rng = np.random.default_rng(ctx.seed)
    # HR-father sources (ZSSR.py:85, 113): the LR image, then each stage's output, at its scale.
    sources, source_scales = [lr_image], [1.0]
    stages = schedule(float(problem.scale), p)
    total, n = ctx.budget.iterations, len(stages)
    for stage, (sf, bp_steps) in enumerate(stages):
        iterations = min(p["max_iters"], total * (stage + 1) // n - total * stage // n)  # an even share
        last = stage == n - 1
        train_stage(model, net, optimizer, rng, sources, source_scales, sf, stage, iterations, last, problem, ctx)
        sr = final_test(model, lr_image, sf, bp_steps, p, ctx)
        sources.append(sr)
        source_scales.append(min(sf))  # the source's scale is its smaller axis' (utils.py:55)
    return sr


def train_stage(
    model: nn.Module,
    net: nn.Module,
    optimizer: torch.optim.Optimizer,
    rng: np.random.Generator,
    sources: list[torch.Tensor],
    source_scales: list[float],
    sf: Scale,
    stage: int,
    iterations: int,
    last: bool,
    problem: Problem,
    ctx: RestoreContext,
) -> None:
    """One stage's training (ZSSR.py:293-328): the weights and Adam's moments go on from the
    previous stage (``init_net_for_each_sf = False``, configs.py:24; ZSSR.py:104), the learning
    rate and its policy's history start afresh (ZSSR.py:188-192)."""
    p = ctx.params
    lr_image = problem.observed
    h, w = lr_image.shape[-2:]
    shapes = [tuple(s.shape[-2:]) for s in sources]
    inverse = (1.0 / sf[0], 1.0 / sf[1])
    rate = p["learning_rate"]
    for group in optimizer.param_groups:
        group["lr"] = rate

    def son_of(father: torch.Tensor) -> torch.Tensor:
        return imresize(father, inverse).clamp(0, 1)

    reconstruction_errors, error_steps, last_change = [], [], 0
    points = p["learning_rate_slope_range"] // p["run_test_every"]
    net.train()
    for i in ctx.iterations(iterations):
        if i == 0:
            ctx.log(stage=stage, scale_h=sf[0], scale_w=sf[1])
        source, matrix = random_augment(rng, shapes, source_scales, p)
        father = warp(sources[source], matrix, p["crop_size"])  # (C, 128, 128)
        son = son_of(father)
        interpolated = imresize(son, sf, tuple(father.shape[-2:]))[None]
        with ctx.autocast():
            out = model(ctx.layout(interpolated))
        loss = (out.float() - father[None]).abs().mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        ctx.step(loss)
        if i % p["run_test_every"] == 0:
            with torch.no_grad():
                rebuilt = upscale_and_refine(model, son_of(lr_image), sf, (h, w), ctx)
                reconstruction_errors.append(torch.mean((lr_image - rebuilt) ** 2))  # read back when the policy looks
                error_steps.append(i)
            if last and ctx.should_monitor(i):  # only the last stage's output has the clean image's size
                with torch.no_grad():
                    ctx.monitor(i, upscale_and_refine(model, lr_image, sf, problem.output_shape[1:], ctx))
        if (
            (1 + i) % p["learning_rate_policy_check_every"] == 0
            and i - last_change > p["min_iters"]
            and len(reconstruction_errors) >= max(points, 3)
        ):
            recent = torch.stack(reconstruction_errors[-points:]).tolist()
            (slope, _), cov = np.polyfit(error_steps[-points:], recent, 1, cov=True)
            if -p["learning_rate_change_ratio"] * slope < math.sqrt(cov[0, 0]):
                rate /= 10
                for group in optimizer.param_groups:
                    group["lr"] = rate
                last_change = i
                ctx.log(stage=stage, learning_rate=rate)
        if rate < p["min_learning_rate"]:
            break


def final_test(
    model: nn.Module, lr_image: torch.Tensor, sf: Scale, bp_steps: int, p: dict, ctx: RestoreContext
) -> torch.Tensor:
    """ZSSR.py:335-372: the network on the rotations / mirrors of the LR image (only the 180-degree
    ones when the stage's scale differs per axis), each un-rotated and back-projected, their
    median, back-projected again."""
    model.eval()
    outputs = []
    with torch.no_grad():
        for k in range(0, 8 if p["output_flip"] else 1, 1 if sf[0] == sf[1] else 2):
            view = torch.rot90(lr_image, k % 4, dims=(-2, -1))
            if k >= 4:
                view = torch.flip(view, dims=(-1,))
            vh, vw = view.shape[-2:]
            shape = (math.ceil(vh * sf[0] - 1e-9), math.ceil(vw * sf[1] - 1e-9))  # ceil(size * sf), ZSSR.py:101
            out = upscale_and_refine(model, view, sf, shape, ctx)
            if k >= 4:
                out = torch.flip(out, dims=(-1,))
            out = torch.rot90(out, -(k % 4), dims=(-2, -1))
            for _ in range(bp_steps):
                out = back_projection(out, lr_image, sf)
            outputs.append(out)
        sr = torch.stack(outputs).median(dim=0).values
        for _ in range(bp_steps):
            sr = back_projection(sr, lr_image, sf)
    return sr


#: Set5, bicubic kernel, full budget (up to 3000 iterations per stage, ensemble, back-projection), PSNR dB / SSIM.
PUBLISHED = tuple(
    Published(
        "set5",
        metric,
        value,
        setting=f"sr x{scale}",
        source="Shocher et al., CVPR 2018, Table 1 (Set5, bicubic kernel; secondary source: no copy of the "
        "paper's table could be read here)",
        note="the paper ran gradual SR (6 increments, official README.md:11) with the ensemble and "
        "back-projection; up to 3000 iterations per stage",
    )
    for scale, values in {2: (37.37, 0.9570), 3: (33.42, 0.9188), 4: (31.13, 0.8796)}.items()
    for metric, value in zip(("psnr", "ssim"), values)
)


@hookimpl
def bench_register_methods(register):
    register(
        Restorer(
            name="zssr",
            restore=restore_zssr,
            restorations=("sr",),
            check_params={"width": 8, "depth": 3, "crop_size": 16, "back_projection_iters": 2, "run_test_every": 2},
            published=PUBLISHED,
            budget={"iterations": 6 * 3000},  # the official max_iters for each gradual stage
            params={
                "width": Param(64, ge=1),
                "depth": Param(8, ge=2),
                "init_variance": Param(0.1, gt=0),
                "crop_size": Param(128, ge=1),
                "learning_rate": Param(1e-3, gt=0),
                "min_learning_rate": Param(9e-6, gt=0),
                "max_iters": Param(3000, ge=1, help="iterations at most per stage (configs.py:9)"),
                "min_iters": Param(256, ge=0),
                "learning_rate_change_ratio": Param(1.5, gt=0),
                "learning_rate_policy_check_every": Param(60, ge=1),
                "learning_rate_slope_range": Param(256, ge=1),
                "run_test_every": Param(50, ge=1),
                "augment_leave_as_is_probability": Param(0.05, ge=0, le=1),
                "augment_no_interpolate_probability": Param(0.45, ge=0, le=1),
                "augment_min_scale": Param(0.5, gt=0, le=1),
                "augment_scale_diff_sigma": Param(0.25, ge=0),
                "augment_shear_sigma": Param(0.1, ge=0),
                "schedule": Param(
                    "gradual",
                    choices=("gradual", "one-jump"),
                    help="gradual: the official six-stage increments (configs.py:76-78); one-jump: straight to the scale",
                ),
                "back_projection_iters": Param(10, ge=0, help="one-jump: back-projection steps (configs.py:20)"),
                "gradual_back_projection_iters": Param(
                    [6, 6, 8, 10, 10, 12], ge=0, help="gradual: back-projection steps per stage (configs.py:78)"
                ),
                "output_flip": True,
            },
            description="ZSSR: image-specific 8-layer 64-channel residual CNN trained on (downscaled crop -> "
            "crop) pairs of the LR image with ZSSR's augmentations and learning-rate policy; geometric "
            "self-ensemble and back-projection; gradual SR in six stages by default (schedule: one-jump "
            "for one). Budget: iterations over all stages (official: up to 3000 per stage).",
            citation="Shocher, Cohen, Irani, Zero-Shot Super-Resolution using Deep Internal Learning, CVPR 2018",
        )
    )
