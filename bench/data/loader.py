"""Batches from device-resident uint8 tensors: indexing, batched augmentation, normalisation.

No per-sample Python: a batch is an index slice, augmentation is a few tensor ops on the whole
batch, and uint8 -> normalised float happens once per batch on the device.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

import torch

from bench.data.images import LabelledImages


@dataclass(frozen=True)
class Augment:
    """Training-time augmentation, applied to whole uint8 batches.

    crop_padding: pad by this many pixels, then take a random crop of the original size
        (the translate augmentation of CIFAR trainers); 0 disables it.
    flip: random horizontal flip with probability 0.5.
    pad_mode: "constant" pads with zeros (black), "reflect" mirrors the border.
    """

    crop_padding: int = 0
    flip: bool = False
    pad_mode: str = "constant"

    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        if self.crop_padding:
            images = random_crop(images, self.crop_padding, generator, self.pad_mode)
        if self.flip:
            images = random_flip(images, generator)
        return images


def random_flip(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Flip each image left-right with probability 0.5. images: (B, C, H, W)."""
    flip = torch.rand(images.shape[0], device=images.device, generator=generator) < 0.5
    return torch.where(flip[:, None, None, None], images.flip(3), images)


def random_crop(
    images: torch.Tensor, padding: int, generator: torch.Generator, mode: str = "constant"
) -> torch.Tensor:
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
    def fit(cls, images: torch.Tensor) -> "Normalize":
        """Channel statistics of a uint8 image set, exact: from each channel's histogram of its 256
        values (one counting pass, no float copy of the set: the host's main cost per run)."""
        channels = images.shape[1]
        values = torch.arange(256, dtype=torch.float64, device=images.device) / 255.0
        counts = torch.stack([torch.bincount(images[:, c].reshape(-1), minlength=256) for c in range(channels)])
        counts = counts.to(torch.float64)                                 # (C, 256)
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
