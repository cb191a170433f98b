"""MATLAB ``imresize`` (bicubic, antialiased) in torch: exact, separable, differentiable.

Every published SR table makes its low-resolution inputs with MATLAB's ``imresize(hr, 1/s)``;
matching it is what makes our bicubic numbers equal the published ones. MATLAB's procedure, per
axis (``contributions`` in ``imresize.m``):

- output index ``x`` (1-based) maps to input coordinate ``u = x / s + 0.5 * (1 - 1 / s)``;
- the cubic kernel (Keys, a = -0.5) has support 4; when shrinking (``s < 1``) with antialiasing
  it is stretched to ``h(x) = s * cubic(s * x)`` with support ``4 / s``;
- each output pixel takes ``ceil(width) + 2`` taps starting at ``floor(u - width / 2)``; the
  weights are normalised to sum to one; taps outside the image are mirrored (symmetric padding:
  ``..., 2, 1, 1, 2, ..., n, n, n-1, ...``).

Each axis becomes one (out, in) matrix, so resizing is two matrix products: exact (float64 when
asked), differentiable (DIP optimises through it) and the same on every device. MATLAB resizes
the dimension with the smaller scale first; the two products commute, so the order only matters
for rounding, and we round once, at the end, like the Python ports used by BasicSR and KAIR.
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch


def cubic(x: torch.Tensor) -> torch.Tensor:
    """Keys' cubic convolution kernel with a = -0.5 (MATLAB's ``cubic``)."""
    ax = x.abs()
    ax2, ax3 = ax * ax, ax * ax * ax
    near = (1.5 * ax3 - 2.5 * ax2 + 1) * (ax <= 1)
    far = (-0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2) * ((ax > 1) & (ax <= 2))
    return near + far


@lru_cache(maxsize=256)
def _matrix(in_len: int, out_len: int, scale: float, antialias: bool) -> torch.Tensor:
    """The (out_len, in_len) float64 resampling matrix of one axis (CPU, cached)."""
    shrink = scale < 1 and antialias
    width = 4.0 / scale if shrink else 4.0
    x = torch.arange(1, out_len + 1, dtype=torch.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)  # (out,) input coordinate, 1-based
    left = torch.floor(u - width / 2)
    taps = math.ceil(width) + 2
    idx = left[:, None] + torch.arange(taps, dtype=torch.float64)[None, :]  # (out, taps), 1-based
    dist = u[:, None] - idx
    weights = scale * cubic(scale * dist) if shrink else cubic(dist)
    weights = weights / weights.sum(dim=1, keepdim=True)
    # Symmetric padding: mirror indices into 0..in_len-1 (period 2 * in_len).
    i0 = idx.long() - 1
    period = 2 * in_len
    i0 = torch.remainder(i0, period)
    i0 = torch.where(i0 >= in_len, period - 1 - i0, i0)
    matrix = torch.zeros(out_len, in_len, dtype=torch.float64)
    matrix.scatter_add_(1, i0, weights)
    return matrix


def resize_matrix(
    in_len: int,
    out_len: int,
    scale: float,
    *,
    antialias: bool = True,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """The (out_len, in_len) matrix that resamples one axis by ``scale`` as MATLAB does.

    ``scale`` and ``out_len`` are separate on purpose: MATLAB (and ZSSR) resize by a scale into a
    given size when ``in_len * scale`` is not an integer.
    """
    if in_len < 1 or out_len < 1 or not scale > 0:
        raise ValueError(f"resize: need positive sizes and scale, got {in_len} -> {out_len} at {scale}")
    return _matrix_on(int(in_len), int(out_len), float(scale), bool(antialias), dtype, torch.device(device))


@lru_cache(maxsize=512)
def _matrix_on(
    in_len: int, out_len: int, scale: float, antialias: bool, dtype: torch.dtype, device: torch.device
) -> torch.Tensor:
    """The matrix in ``dtype`` on ``device``, cached: training loops resize every iteration."""
    return _matrix(in_len, out_len, scale, antialias).to(device=device, dtype=dtype)


def output_size(size: tuple[int, int], scale: float | tuple[float, float]) -> tuple[int, int]:
    """MATLAB's output size for a scale: ``ceil(size * scale)`` per axis."""
    sh, sw = (scale, scale) if not isinstance(scale, tuple) else scale
    return math.ceil(size[0] * sh - 1e-9), math.ceil(size[1] * sw - 1e-9)


def imresize(
    image: torch.Tensor,
    scale: float | tuple[float, float],
    output_size_hw: tuple[int, int] | None = None,
    *,
    antialias: bool = True,
) -> torch.Tensor:
    """Bicubic resize of ``image`` (..., H, W) by ``scale`` like MATLAB ``imresize``.

    ``scale``: one factor or (vertical, horizontal); < 1 shrinks (antialiased). ``output_size_hw``
    defaults to ``ceil((H, W) * scale)``. Values are not clipped or rounded (the caller decides:
    MATLAB on uint8 input rounds and saturates). Works on any float dtype and device and is
    differentiable; compute in float64 for reference numbers.
    """
    if not image.is_floating_point():
        raise TypeError(f"imresize needs a float tensor, got {image.dtype}; convert (and scale) it first")
    sh, sw = (scale, scale) if not isinstance(scale, tuple) else scale
    h, w = image.shape[-2:]
    oh, ow = output_size_hw if output_size_hw is not None else output_size((h, w), (sh, sw))
    rows = resize_matrix(h, oh, sh, antialias=antialias, dtype=image.dtype, device=image.device)  # (oh, h)
    cols = resize_matrix(w, ow, sw, antialias=antialias, dtype=image.dtype, device=image.device)  # (ow, w)
    out = torch.matmul(rows, image)  # (..., oh, w)
    return torch.matmul(out, cols.transpose(0, 1))  # (..., oh, ow)


def imresize_uint8(image: torch.Tensor, scale: float, output_size_hw: tuple[int, int] | None = None) -> torch.Tensor:
    """MATLAB ``imresize`` on a uint8 image: computed in float64, rounded and saturated to uint8."""
    if image.dtype != torch.uint8:
        raise TypeError(f"imresize_uint8 needs a uint8 tensor, got {image.dtype}")
    out = imresize(image.double(), scale, output_size_hw)
    return out.round().clamp(0, 255).to(torch.uint8)
