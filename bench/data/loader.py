"""Batches from device-resident uint8 tensors: indexing, batched augmentation, normalisation.

No per-sample Python: a batch is an index slice, augmentation is a few tensor ops on the whole
batch, and uint8 -> normalised float happens once per batch on the device.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch

from bench.data.images import LabelledImages
from bench.data.randaugment import parse_config, rand_augment


@dataclass(frozen=True)
class Augment:
    """Training-time augmentation, applied to whole uint8 batches, in this order:

    resized_crop: (min, max) area fraction of a random-resized crop (``random_resized_crop``;
        MAE pre-trains with (0.2, 1.0)), with aspect ratios in ``resized_crop_ratio``; None disables it.
    crop_padding: pad by this many pixels, then take a random crop of the original size
        (the translate augmentation of CIFAR trainers); 0 disables it.
    flip: random horizontal flip with probability 0.5.
    rand_augment: timm's RandAugment config (``rand-m9-mstd0.5-inc1``, ``bench.rand_augment``),
        after crop and flip as in timm's train transform; "" disables it.
    pad_mode: "constant" pads with zeros (black), "reflect" mirrors the border.
    cutout: the side of a square set to ``cutout_fill`` per image, last (``random_cutout``:
        FixMatch's strong augmentation ends with one); 0 disables it.
    """

    resized_crop: tuple[float, float] | None = None
    crop_padding: int = 0
    flip: bool = False
    rand_augment: str = ""
    pad_mode: str = "constant"
    resized_crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)
    cutout: int = 0
    cutout_fill: int = 127

    def __post_init__(self) -> None:
        if self.rand_augment:
            parse_config(self.rand_augment)  # a bad config fails before the first batch

    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        if self.resized_crop is not None:
            images = random_resized_crop(images, generator, self.resized_crop, self.resized_crop_ratio)
        if self.crop_padding:
            images = random_crop(images, self.crop_padding, generator, self.pad_mode)
        if self.flip:
            images = random_flip(images, generator)
        if self.rand_augment:  # integers in 0..255 either way: back to the batch's dtype is exact
            images = rand_augment(images.float(), generator, **parse_config(self.rand_augment)).to(images.dtype)
        if self.cutout:
            images = random_cutout(images, self.cutout, generator, self.cutout_fill)
        return images


def random_cutout(images: torch.Tensor, size: int, generator: torch.Generator, fill: int = 127) -> torch.Tensor:
    """Cutout (DeVries & Taylor 2017) as FixMatch's CTAugment op draws it: per image a centre
    (y, x) uniform over the pixels, the box [y - size // 2, y + size // 2) x [x - size // 2,
    x + size // 2) clipped to the image and set to ``fill`` in every channel. images: (B, C, H, W)."""
    b, _, h, w = images.shape
    half = size // 2
    cy = torch.randint(0, h, (b,), device=images.device, generator=generator)
    cx = torch.randint(0, w, (b,), device=images.device, generator=generator)
    rows = torch.arange(h, device=images.device)[None, :]
    cols = torch.arange(w, device=images.device)[None, :]
    in_rows = (rows >= (cy - half)[:, None]) & (rows < (cy + half)[:, None])  # (B, H)
    in_cols = (cols >= (cx - half)[:, None]) & (cols < (cx + half)[:, None])  # (B, W)
    box = (in_rows[:, :, None] & in_cols[:, None, :])[:, None]  # (B, 1, H, W)
    return torch.where(box, torch.full_like(images, fill), images)


def random_flip(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Flip each image left-right with probability 0.5. images: (B, C, H, W)."""
    flip = torch.rand(images.shape[0], device=images.device, generator=generator) < 0.5
    return torch.where(flip[:, None, None, None], images.flip(3), images)


def random_crop(images: torch.Tensor, padding: int, generator: torch.Generator, mode: str = "constant") -> torch.Tensor:
    """Pad by ``padding`` and crop back to (H, W) at a random offset per image, in one gather."""
    b, c, h, w = images.shape
    if mode == "constant":
        padded = torch.nn.functional.pad(images, (padding,) * 4)
    else:  # reflect padding is not implemented for uint8: pad in float, exact for integers
        padded = torch.nn.functional.pad(images.float(), (padding,) * 4, mode=mode).to(images.dtype)
    dy = torch.randint(0, 2 * padding + 1, (b,), device=images.device, generator=generator)
    dx = torch.randint(0, 2 * padding + 1, (b,), device=images.device, generator=generator)
    rows = (torch.arange(h, device=images.device) + dy[:, None])[:, None, :, None]  # (B, 1, H, 1)
    cols = (torch.arange(w, device=images.device) + dx[:, None])[:, None, None, :]  # (B, 1, 1, W)
    batch = torch.arange(b, device=images.device)[:, None, None, None]
    chans = torch.arange(c, device=images.device)[None, :, None, None]
    return padded[batch, chans, rows, cols]  # (B, C, H, W)


def resized_crop_boxes(
    batch: int,
    height: int,
    width: int,
    scale: tuple[float, float],
    ratio: tuple[float, float],
    generator: torch.Generator,
    device,
    attempts: int = 10,
) -> torch.Tensor:
    """Boxes (B, 4) int64 as (top, left, box height, box width), sampled as torchvision's
    ``RandomResizedCrop.get_params``: up to ``attempts`` draws of an area fraction ~ U(scale) and a
    log-uniform aspect ratio (width / height) in ``ratio``, the first that fits the image kept,
    else a centred crop of the whole image with its ratio clamped to ``ratio``. Offsets uniform."""
    if len(scale) != 2 or len(ratio) != 2 or not 0 < scale[0] <= scale[1] <= 1 or not 0 < ratio[0] <= ratio[1]:
        raise ValueError(
            f"random-resized-crop: scale must be (min, max) with 0 < min <= max <= 1 and ratio (min, max) with 0 < min <= max, "
            f"got scale {tuple(scale)}, ratio {tuple(ratio)}"
        )
    u = torch.rand(batch, attempts, 2, device=device, generator=generator)
    area = height * width * (scale[0] + (scale[1] - scale[0]) * u[..., 0])
    log_lo, log_hi = math.log(ratio[0]), math.log(ratio[1])
    aspect = torch.exp(log_lo + (log_hi - log_lo) * u[..., 1])
    box_w, box_h = (area * aspect).sqrt().round(), (area / aspect).sqrt().round()  # half to even, as round()
    fits = (box_w > 0) & (box_w <= width) & (box_h > 0) & (box_h <= height)  # (B, attempts)
    first = fits.to(torch.uint8).argmax(1, keepdim=True)  # the first that fits
    in_ratio = width / height
    if in_ratio < ratio[0]:
        fallback = (round(width / ratio[0]), width)
    elif in_ratio > ratio[1]:
        fallback = (height, round(height * ratio[1]))
    else:
        fallback = (height, width)
    found = fits.any(1)
    h = torch.where(found, box_h.gather(1, first)[:, 0], fallback[0]).long()
    w = torch.where(found, box_w.gather(1, first)[:, 0], fallback[1]).long()
    v = torch.rand(batch, 2, device=device, generator=generator)
    top = torch.where(found, (v[:, 0] * (height - h + 1)).long(), (height - h) // 2)
    left = torch.where(found, (v[:, 1] * (width - w + 1)).long(), (width - w) // 2)
    return torch.stack([top, left, h, w], dim=1)


def _bicubic(x: torch.Tensor, a: float = -0.5) -> torch.Tensor:
    """The cubic convolution kernel with PIL's a = -0.5 (torch's interpolate uses -0.75)."""
    x = x.abs()
    near = ((a + 2) * x - (a + 3)) * x * x + 1
    far = (((x - 5) * x + 8) * x - 4) * a
    return torch.where(x < 1, near, torch.where(x < 2, far, torch.zeros_like(x)))


def _resize_matrices(start: torch.Tensor, size: torch.Tensor, full: int, out: int) -> torch.Tensor:
    """(B, out, full) weights that resize each image's [start, start + size) span of a ``full``-long
    axis to ``out`` samples with PIL's bicubic (upscaling or same size: no antialiasing): output
    sample o is centred at (o + 0.5) * size / out in the span, its taps are truncated to the span
    and the weights renormalised, as PIL does for an image cropped first."""
    scale = (size.double() / out)[:, None, None]  # (B, 1, 1)
    center = (torch.arange(out, device=size.device, dtype=torch.float64)[None, :, None] + 0.5) * scale  # (B, out, 1)
    x = (
        torch.arange(full, device=size.device, dtype=torch.float64)[None, None, :] - start[:, None, None]
    )  # in-span position
    lo = torch.trunc(center - 1.5).clamp_min(0)  # PIL: int(center - support + 0.5)
    hi = torch.minimum(torch.trunc(center + 2.5), size[:, None, None].double())
    weights = _bicubic(x - center + 0.5) * ((x >= lo) & (x < hi))
    return (weights / weights.sum(2, keepdim=True)).float()


def random_resized_crop(
    images: torch.Tensor,
    generator: torch.Generator,
    scale: tuple[float, float] = (0.08, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
) -> torch.Tensor:
    """torchvision's RandomResizedCrop per image, batched on the device, output at the input's size:
    a box from ``resized_crop_boxes``, cropped and resized back with bicubic interpolation (as
    MAE's ``interpolation=3``) as two per-image interpolation matrices. images: uint8 (B, C, H, W)."""
    b, c, h, w = images.shape
    boxes = resized_crop_boxes(b, h, w, scale, ratio, generator, images.device)
    rows = _resize_matrices(boxes[:, 0], boxes[:, 2], h, h)  # (B, H, H)
    cols = _resize_matrices(boxes[:, 1], boxes[:, 3], w, w)  # (B, W, W)
    # Columns first, rounded and clipped to uint8 in between, as PIL's two passes.
    wide = (images.float() @ cols.transpose(1, 2)[:, None]).round_().clamp_(0, 255)  # (B, C, H, W)
    return (rows[:, None] @ wide).round_().clamp_(0, 255).to(images.dtype)


def random_erase(images: torch.Tensor, prob: float, generator: torch.Generator, attempts: int = 10) -> torch.Tensor:
    """timm's RandomErasing (mode "pixel", one box) per image of a normalised float batch: with
    probability ``prob`` a box of area U(0.02, 1/3) of the image and log-uniform aspect in
    (0.3, 1/0.3) (the first of ``attempts`` draws that fits strictly inside) is filled with N(0, 1)
    noise; an image none fits is left as it is. images: (B, C, H, W)."""
    b, c, h, w = images.shape
    device = images.device
    u = torch.rand(b, attempts, 2, device=device, generator=generator)
    area = h * w * (0.02 + (1 / 3 - 0.02) * u[..., 0])
    aspect = torch.exp(math.log(0.3) + 2 * math.log(1 / 0.3) * u[..., 1])
    box_h, box_w = (area * aspect).sqrt().round(), (area / aspect).sqrt().round()
    fits = (box_h < h) & (box_w < w)
    first = fits.to(torch.uint8).argmax(1, keepdim=True)
    bh, bw = box_h.gather(1, first)[:, 0], box_w.gather(1, first)[:, 0]
    v = torch.rand(b, 3, device=device, generator=generator)
    top, left = (v[:, 0] * (h - bh + 1)).floor(), (v[:, 1] * (w - bw + 1)).floor()
    erase = fits.any(1) & (v[:, 2] < prob)
    rows = torch.arange(h, device=device)[None, :]
    cols = torch.arange(w, device=device)[None, :]
    in_rows = (rows >= top[:, None]) & (rows < (top + bh)[:, None])  # (B, H)
    in_cols = (cols >= left[:, None]) & (cols < (left + bw)[:, None])  # (B, W)
    mask = (in_rows[:, :, None] & in_cols[:, None, :] & erase[:, None, None])[:, None]  # (B, 1, H, W)
    noise = torch.randn(images.shape, device=device, generator=generator, dtype=images.dtype)
    return torch.where(mask, noise, images)


def mix_batch(
    images: torch.Tensor,
    labels: torch.Tensor,
    num_classes: int,
    rng,
    *,
    mixup: float,
    cutmix: float,
    smoothing: float = 0.0,
    switch_prob: float = 0.5,
) -> tuple[torch.Tensor, torch.Tensor]:
    """timm's Mixup in "batch" mode: one draw per batch mixes every image with the batch reversed.
    With both alphas > 0, cutmix (lam ~ Beta(cutmix, cutmix), a box of side sqrt(1 - lam) pasted,
    lam corrected to the pasted area) with probability ``switch_prob``, else mixup (lam ~
    Beta(mixup, mixup)). Returns the images and soft targets (B, num_classes) with label smoothing.
    ``rng``: a seeded numpy Generator (the per-batch draws stay on the host, as timm's)."""
    off = smoothing / num_classes
    targets = torch.full((labels.shape[0], num_classes), off, device=labels.device)
    targets.scatter_(1, labels[:, None], 1 - smoothing + off)
    use_cutmix = cutmix > 0 and (mixup <= 0 or rng.random() < switch_prob)
    if not use_cutmix and mixup <= 0:
        return images, targets
    lam = float(rng.beta(cutmix, cutmix) if use_cutmix else rng.beta(mixup, mixup))
    if use_cutmix:
        h, w = images.shape[-2:]
        cut_h, cut_w = int(h * math.sqrt(1 - lam)), int(w * math.sqrt(1 - lam))
        cy, cx = int(rng.integers(0, h)), int(rng.integers(0, w))
        y0, y1 = min(max(cy - cut_h // 2, 0), h), min(max(cy + cut_h // 2, 0), h)
        x0, x1 = min(max(cx - cut_w // 2, 0), w), min(max(cx + cut_w // 2, 0), w)
        images = images.clone()
        images[:, :, y0:y1, x0:x1] = images.flip(0)[:, :, y0:y1, x0:x1]
        lam = 1 - (y1 - y0) * (x1 - x0) / (h * w)
    else:
        images = images * lam + images.flip(0) * (1 - lam)
    return images, targets * lam + targets.flip(0) * (1 - lam)


class Normalize:
    """uint8 (B, C, H, W) -> float32 normalised by per-channel mean/std given on the 0-1 scale."""

    def __init__(self, mean: Sequence[float], std: Sequence[float], device: torch.device):
        self.mean = tuple(float(m) for m in mean)
        self.std = tuple(float(s) for s in std)
        # Fold /255 and the normalisation into one multiply-add.
        scale = torch.tensor([1.0 / (255.0 * s) for s in self.std], device=device)
        shift = torch.tensor([-m / s for m, s in zip(self.mean, self.std)], device=device)
        self._scale = scale[None, :, None, None]
        self._shift = shift[None, :, None, None]

    @classmethod
    def fit(cls, images: torch.Tensor) -> Normalize:
        """Channel statistics of a uint8 image set, exact: from each channel's histogram of its 256
        values (one counting pass, no float copy of the set: the host's main cost per run)."""
        channels = images.shape[1]
        values = torch.arange(256, dtype=torch.float64, device=images.device) / 255.0
        counts = torch.stack([torch.bincount(images[:, c].reshape(-1), minlength=256) for c in range(channels)])
        counts = counts.to(torch.float64)  # (C, 256)
        count = images.shape[0] * images.shape[2] * images.shape[3]
        mean = counts @ values / count
        std = (counts @ (values * values) / count - mean * mean).clamp_min(1e-12).sqrt()
        return cls(mean.tolist(), std.tolist(), images.device)

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        return torch.addcmul(self._shift, images.float(), self._scale)

    def as_dict(self) -> dict:
        return {"mean": [round(m, 6) for m in self.mean], "std": [round(s, 6) for s in self.std]}


def iterate_batches(
    data: LabelledImages,
    batch_size: int,
    normalize: Normalize,
    generator: torch.Generator,
    *,
    shuffle: bool = True,
    augment: Augment | None = None,
    drop_last: bool = False,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield (images float (B, C, H, W), labels int64 (B,)) batches on the data's device."""
    n = len(data)
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    device = data.images.device
    order = torch.randperm(n, device=device, generator=generator) if shuffle else None
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        if order is None:
            images = data.images[start : start + batch_size]
            labels = data.labels[start : start + batch_size]
        else:
            index = order[start : start + batch_size]
            images, labels = data.images[index], data.labels[index]
        if augment is not None:
            images = augment(images, generator)
        yield normalize(images), labels
