"""Host-owned degradations: the same degraded input for every method, from a fixed seed per image.

- ``denoise``: additive white Gaussian noise, ``y = x / 255 + n``, ``n ~ N(0, (sigma / 255)^2)``
  in float64 from a generator seeded by (noise seed, image name), so every method, device and
  run sees the same noise. Clipping policy (option ``noise_clip``): ``"none"`` (default) keeps
  the noisy values outside [0, 1] as KAIR/DnCNN/FFDNet do; ``"clip"`` clips to [0, 1] as the
  Deep Image Prior code does. The noisy image is never quantised.
- ``sr``: the clean image is cropped to a multiple of ``scale`` (modcrop, top-left kept), then
  ``imresize(hr, 1 / scale)`` (MATLAB bicubic, antialiased) rounded to uint8, as MATLAB does for
  uint8 input. The cropped image is the ground truth.
- ``inpaint``: a mask (1 = known, 0 = missing) either drawn per pixel with probability
  ``drop_ratio`` of missing (seeded per image, shared by all channels) or taken from the set's
  mask images; the degraded image is ``x * mask`` (missing pixels are 0).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from bench.restoration.images import RestorationImage
from bench.restoration.resize import imresize, imresize_uint8
from bench.specs import RESTORATIONS as TASKS  # the degradations restorers declare

NOISE_CLIP = ("none", "clip")
MASKS = ("random", "dataset")


def image_seed(seed: int, name: str) -> int:
    """A per-image seed that depends only on the protocol's seed and the image's name."""
    digest = hashlib.sha256(f"{seed}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def modcrop(image: torch.Tensor, scale: int) -> torch.Tensor:
    """Crop (..., H, W) to multiples of ``scale`` (keeping the top-left), as every SR benchmark does."""
    h, w = image.shape[-2:]
    return image[..., : h - h % scale, : w - w % scale]


@dataclass
class Degradation:
    """What the host does to a clean image; its options are recorded with the results."""

    task: str
    sigma: float = 25.0
    scale: int = 4
    noise_clip: str = "none"
    noise_seed: int = 0
    drop_ratio: float = 0.5
    mask: str = "random"

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"task {self.task!r} is not one of {TASKS}")
        if self.noise_clip not in NOISE_CLIP:
            raise ValueError(f"noise_clip {self.noise_clip!r} is not one of {NOISE_CLIP}")
        if self.mask not in MASKS:
            raise ValueError(f"mask {self.mask!r} is not one of {MASKS}")
        if self.task == "sr" and (not isinstance(self.scale, int) or self.scale < 2):
            raise ValueError(f"scale must be an integer >= 2, got {self.scale!r}")
        if self.task == "denoise" and not self.sigma > 0:
            raise ValueError(f"sigma must be positive, got {self.sigma!r}")
        if self.task == "inpaint" and self.mask == "random" and not 0 < self.drop_ratio < 1:
            raise ValueError(f"drop_ratio must be in (0, 1), got {self.drop_ratio!r}")

    def describe(self) -> str:
        if self.task == "denoise":
            return (
                f"AWGN sigma {self.sigma:g}/255, float64 noise seeded per image (seed {self.noise_seed}, "
                f"image name), clipping: {self.noise_clip}"
            )
        if self.task == "sr":
            return (
                f"modcrop to a multiple of {self.scale}, MATLAB imresize 1/{self.scale} "
                "(antialiased bicubic, symmetric padding), rounded to uint8"
            )
        if self.mask == "dataset":
            return "inpainting with the set's mask images (value > 127 = known)"
        return (
            f"inpainting, random pixel mask: each pixel missing with probability {self.drop_ratio:g} "
            f"(seeded per image, seed {self.noise_seed}), missing pixels set to 0"
        )

    @property
    def label(self) -> str:
        """Short text naming the setting, e.g. ``sr x4``, ``denoise sigma 25``."""
        if self.task == "sr":
            return f"sr x{self.scale}"
        if self.task == "denoise":
            return f"denoise sigma {self.sigma:g}" + (" clipped" if self.noise_clip == "clip" else "")
        return "inpaint " + ("masks" if self.mask == "dataset" else f"drop {self.drop_ratio:g}")

    def apply(self, item: RestorationImage) -> Degraded:
        """The degraded observation of ``item`` (on the CPU) and the clean target it is scored on."""
        clean = item.image
        if self.task == "denoise":
            g = torch.Generator().manual_seed(image_seed(self.noise_seed, item.name))
            noise = torch.randn(clean.shape, generator=g, dtype=torch.float64) * (self.sigma / 255.0)
            noisy = clean.double() / 255.0 + noise
            if self.noise_clip == "clip":
                noisy = noisy.clamp(0, 1)
            return Degraded(self.task, clean, noisy.float(), sigma=self.sigma)
        if self.task == "sr":
            hr = modcrop(clean, self.scale)
            lr = imresize_uint8(hr, 1.0 / self.scale)
            return Degraded(self.task, hr, lr.float() / 255.0, scale=self.scale)
        if self.mask == "dataset":
            if item.mask is None:
                raise ValueError(f"image {item.name!r} has no inpainting mask; use mask: random")
            mask = item.mask.to(torch.uint8)
        else:
            g = torch.Generator().manual_seed(image_seed(self.noise_seed, item.name))
            mask = (torch.rand((1, *clean.shape[1:]), generator=g, dtype=torch.float64) >= self.drop_ratio).to(
                torch.uint8
            )
        observed = clean.float() / 255.0 * mask
        return Degraded(self.task, clean, observed, mask=mask, mask_kind=self.mask)


@dataclass
class Degraded:
    """One degraded image as the host made it (CPU tensors): ``clean`` uint8 (C, H, W) is the
    ground truth (the modcropped HR for SR); ``observed`` float32 is the method's input."""

    task: str
    clean: torch.Tensor
    observed: torch.Tensor
    sigma: float | None = None
    scale: int | None = None
    mask: torch.Tensor | None = None
    mask_kind: str | None = None  # inpainting: "random" or "dataset"

    def checksum(self) -> str:
        """sha256 of the method's input exactly (shape, float32 values, mask): two records with
        the same checksum for an image restored the same noise realisation, LR image or mask."""
        digest = hashlib.sha256(repr(tuple(self.observed.shape)).encode())
        digest.update(self.observed.to(torch.float32).contiguous().numpy().tobytes())
        if self.mask is not None:
            digest.update(self.mask.to(torch.uint8).contiguous().numpy().tobytes())
        return digest.hexdigest()


@dataclass
class Problem:
    """What a restorer gets for one image; the clean image is not part of it.

    - ``observed``: float32 (C, h, w) on ``ctx.device``, 0..1 scale: the noisy image (may leave
      [0, 1] unless the protocol clips), the uint8-rounded LR image / 255, or the masked image.
    - ``task``: ``"denoise"``, ``"sr"`` or ``"inpaint"``; ``sigma`` for denoising: the noise's
      standard deviation on the 0-255 pixel scale (25.0 for "sigma 25"); ``observed`` is on the
      0..1 scale, so the noise in it has standard deviation ``sigma / 255``; ``scale`` for SR; ``mask`` float (1, H, W) on the device (1 = known) for inpainting, and
      ``mask_kind`` how it was made: ``"random"`` (pixels dropped at random) or ``"dataset"``
      (the set's mask image).
    - ``output_shape``: (C, H, W) the restored image must have.
    - ``forward(x)``: the host's degradation operator A on a float batch (N, C, H, W):
      identity, MATLAB bicubic downscaling (differentiable, no rounding) or ``x * mask``; a
      method fits ``A(x)`` to ``observed``.
    - ``upscale(x, scale, size)``: the same bicubic resize upwards (or to any scale/size).
    - ``info``: empty; what the method puts in it (text, numbers: e.g. which of its settings ran)
      is recorded with the image's scores (``details.per_image[i].method_info``).

    Return the restored image as float (C, H, W) in [0, 1] (the host clips and rounds to uint8).
    """

    task: str
    observed: torch.Tensor
    output_shape: tuple[int, int, int]
    sigma: float | None = None
    scale: int | None = None
    mask: torch.Tensor | None = None
    name: str = ""
    info: dict = field(default_factory=dict)
    mask_kind: str | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.task == "sr":
            assert self.scale is not None, "an sr problem has its scale"
            height, width = self.observed.shape[-2:]
            return imresize(x, 1.0 / self.scale, (height, width))
        if self.task == "inpaint":
            assert self.mask is not None, "an inpainting problem has its mask"
            return x * self.mask
        return x

    @staticmethod
    def upscale(x: torch.Tensor, scale: float, size: tuple[int, int] | None = None) -> torch.Tensor:
        return imresize(x, scale, size)


def make_problem(degraded: Degraded, device: torch.device, name: str = "") -> Problem:
    mask = degraded.mask.float().to(device) if degraded.mask is not None else None
    channels, height, width = degraded.clean.shape
    return Problem(
        task=degraded.task,
        observed=degraded.observed.to(device),
        output_shape=(channels, height, width),
        sigma=degraded.sigma,
        scale=degraded.scale,
        mask=mask,
        name=name,
        mask_kind=degraded.mask_kind,
    )


MonitorFn = Callable[[int, torch.Tensor], None]
