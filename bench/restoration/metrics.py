"""PSNR and SSIM with the conventions of the restoration literature; the convention travels
with the number (``Convention.describe()`` goes into every record).

- Both images are uint8 (the restored image is clipped to [0, 1] and rounded, as when saved).
- SR: the Y channel of ITU-R BT.601 YCbCr, ``Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255``
  for R, G, B in [0, 255] (MATLAB ``rgb2ycbcr``, unrounded), with ``scale`` pixels shaved from
  every border (BasicSR ``crop_border``, ``test_y_channel``). Gray images are used as they are.
- Denoising and inpainting: the image's own channels, no shave.
- PSNR in float64 with peak 255; SSIM is Wang et al. 2004: Gaussian window 11, sigma 1.5,
  K1 = 0.01, K2 = 0.03, L = 255, "valid" window positions only, averaged over pixels and channels.
  Computed here with the separable Gaussian in float64. torchmetrics'
  ``structural_similarity_index_measure`` does not follow this convention: it reflect-pads and
  averages over the border positions too (and its 2-D float64 convolution takes seconds per
  image on a CPU); the tests check our map equals torchmetrics' full map on the valid windows.
- A set's value is the mean of the per-image values (not the PSNR of the pooled MSE).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Convention:
    """How an image pair is scored: which channel and how many border pixels are shaved."""

    y_channel: bool
    shave: int

    def describe(self) -> str:
        where = "Y channel (ITU-R BT.601, MATLAB rgb2ycbcr)" if self.y_channel else "all channels"
        return (
            f"uint8 images; {where}; {self.shave} border pixels shaved; PSNR peak 255 (float64); "
            "SSIM Wang et al. (Gaussian 11x11, sigma 1.5, K1 0.01, K2 0.03, valid windows); "
            "mean of per-image values"
        )

    @staticmethod
    def for_task(task: str, scale: int = 1) -> Convention:
        if task == "sr":
            return Convention(y_channel=True, shave=scale)
        return Convention(y_channel=False, shave=0)


def rgb_to_y(image: torch.Tensor) -> torch.Tensor:
    """(3, H, W) values in [0, 255] -> (1, H, W) BT.601 luma in [16, 235], float64."""
    r, g, b = image.double()
    return (16.0 + (65.481 * r + 128.553 * g + 24.966 * b) / 255.0)[None]


def to_uint8(image: torch.Tensor) -> torch.Tensor:
    """A float image in [0, 1] (any range accepted) -> uint8, clipped and rounded."""
    return (image.detach().double().clamp(0, 1) * 255.0).round().to(torch.uint8)


def prepare(image: torch.Tensor, convention: Convention) -> torch.Tensor:
    """uint8 (C, H, W) -> float64 (C', H', W') in [0, 255]: Y channel if asked, border shaved."""
    if image.dtype != torch.uint8 or image.ndim != 3:
        raise ValueError(f"metrics take uint8 (C, H, W) images, got {image.dtype} {tuple(image.shape)}")
    x = image.double()
    if convention.y_channel and x.shape[0] == 3:
        x = rgb_to_y(x)
    s = convention.shave
    if s:
        x = x[:, s:-s, s:-s]
    return x


def psnr(restored: torch.Tensor, clean: torch.Tensor, convention: Convention) -> float:
    """PSNR in dB of two uint8 (C, H, W) images under ``convention``."""
    _check_pair(restored, clean)
    a, b = prepare(restored, convention), prepare(clean, convention)
    mse = torch.mean((a - b) ** 2).item()
    return float("inf") if mse == 0 else 10.0 * torch.log10(torch.tensor(255.0**2 / mse, dtype=torch.float64)).item()


def ssim(restored: torch.Tensor, clean: torch.Tensor, convention: Convention) -> float:
    """SSIM (Wang et al.) of two uint8 (C, H, W) images under ``convention``."""
    _check_pair(restored, clean)
    a, b = prepare(restored, convention), prepare(clean, convention)
    return float(ssim_map(a, b).mean())


def _gaussian(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def ssim_map(
    a: torch.Tensor,
    b: torch.Tensor,
    data_range: float = 255.0,
    size: int = 11,
    sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
) -> torch.Tensor:
    """The SSIM map of two float (C, H, W) images over valid window positions: (C, H-10, W-10)."""
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    g = _gaussian(size, sigma).to(a.device)
    channels = a.shape[0]
    gv = g.view(1, 1, size, 1).expand(channels, 1, size, 1)
    gh = g.view(1, 1, 1, size).expand(channels, 1, 1, size)

    def blur(x: torch.Tensor) -> torch.Tensor:  # (C, H, W) -> (C, H-10, W-10), separable, valid
        return F.conv2d(F.conv2d(x[None], gv, groups=channels), gh, groups=channels)[0]

    a, b = a.double(), b.double()
    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a**2
    var_b = blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    return ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))


def _check_pair(restored: torch.Tensor, clean: torch.Tensor) -> None:
    if restored.shape != clean.shape:
        raise ValueError(f"restored image {tuple(restored.shape)} and clean image {tuple(clean.shape)} differ in shape")
