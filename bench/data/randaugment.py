"""RandAugment (Cubuk, Zoph, Shlens, Le, 2020) as timm's ``rand-m{M}-mstd{S}-inc1`` applies it, on
whole batches on the device (DeiT's recipe: ``rand-m9-mstd0.5-inc1``).

timm (``timm/data/auto_augment.py``, ``RandAugment`` with the "increasing" op set): for each image,
``layers`` (n = 2) ops drawn uniformly with replacement from the 15 below, each applied with
probability ``prob`` (0.5) at a magnitude drawn from N(M, S) clipped to [0, 10]; signed ops take
either sign with probability 1/2. At level l = magnitude / 10: Rotate 30 l degrees, ShearX/Y 0.3 l,
TranslateX/YRel 0.45 l of the side, Posterize to 4 - int(4 l) bits, Solarize above 256 - int(256 l),
SolarizeAdd int(110 l) below 128, Color/Contrast/Brightness/Sharpness blends with factor 1 +- 0.9 l;
AutoContrast, Equalize and Invert have no magnitude. The pixel ops follow PIL's (``ImageOps``,
``ImageEnhance``), the geometric ones PIL's affine transforms (bilinear, uncovered pixels ``fill``,
timm's image mean). Here every op of a layer is computed for the whole batch and kept where drawn,
so no step reads the device; the draws come from the caller's (seeded) generator.

Images: float (B, C, H, W) on the 0-255 scale (C = 1 or 3); the output holds integers in 0..255,
as PIL's uint8 images do.
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch
from torch import nn

#: timm's ``_RAND_INCREASING_TRANSFORMS``, in its order.
OPS = (
    "AutoContrast",
    "Equalize",
    "Invert",
    "Rotate",
    "PosterizeIncreasing",
    "SolarizeIncreasing",
    "SolarizeAdd",
    "ColorIncreasing",
    "ContrastIncreasing",
    "BrightnessIncreasing",
    "SharpnessIncreasing",
    "ShearX",
    "ShearY",
    "TranslateXRel",
    "TranslateYRel",
)
GEOMETRIC = ("Rotate", "ShearX", "ShearY", "TranslateXRel", "TranslateYRel")
#: timm's fill for geometric ops: the ImageNet mean as pixels.
IMAGENET_MEAN_PIXELS = (124, 116, 104)
MAX_LEVEL = 10.0


def draw(
    batch: int, layers: int, magnitude: float, magnitude_std: float, prob: float, generator: torch.Generator, device
) -> dict[str, torch.Tensor]:
    """Per image and layer (B, layers): the op index into OPS, whether it applies, its magnitude in
    [0, 10] and its sign (+-1)."""
    shape = (batch, layers)
    op = torch.randint(len(OPS), shape, generator=generator, device=device)
    applies = torch.rand(shape, generator=generator, device=device) < prob
    noise = torch.randn(shape, generator=generator, device=device)
    level = (magnitude + magnitude_std * noise).clamp(0, MAX_LEVEL)
    sign = torch.where(torch.rand(shape, generator=generator, device=device) < 0.5, -1.0, 1.0)
    return {"op": op, "applies": applies, "magnitude": level, "sign": sign}


def parse_config(config: str) -> dict:
    """timm's config string (``rand_augment_transform``: ``rand-m9-mstd0.5-inc1``; sections ``m``
    magnitude, ``mstd`` its std, ``n`` layers, ``p`` probability, ``inc1`` the increasing op set)
    as keyword arguments of :func:`rand_augment`. Only the increasing op set is implemented."""
    sections = config.split("-")
    if sections[0] != "rand":
        raise ValueError(f"RandAugment config {config!r}: expected timm's form rand-m9-mstd0.5-inc1")
    names = {"mstd": "magnitude_std", "m": "magnitude", "n": "layers", "p": "prob"}
    kwargs: dict = {}
    increasing = False
    for section in sections[1:]:
        key = next((k for k in names if section.startswith(k)), None)  # "mstd" before "m"
        try:
            if section.startswith("inc"):
                increasing = bool(int(section[3:]))
            elif key is not None:
                kwargs[names[key]] = (int if key == "n" else float)(section[len(key) :])
            else:
                raise ValueError
        except ValueError:
            raise ValueError(
                f"RandAugment config {config!r}: cannot read section {section!r} (known: m, mstd, n, p, inc)"
            ) from None
    if not increasing:
        raise ValueError(f"RandAugment config {config!r}: only the increasing op set is implemented (add -inc1)")
    return kwargs


def rand_augment(
    images: torch.Tensor,
    generator: torch.Generator,
    *,
    magnitude: float = 9.0,
    magnitude_std: float = 0.5,
    layers: int = 2,
    prob: float = 0.5,
    fill: tuple[float, ...] = IMAGENET_MEAN_PIXELS,
) -> torch.Tensor:
    """RandAugment of a batch (B, C, H, W), 0-255 scale, each image its own ops (see the module)."""
    x = images.round().clamp(0, 255)
    d = draw(len(x), layers, magnitude, magnitude_std, prob, generator, x.device)
    fill_value = fill_tensor(fill, x)
    for layer in range(layers):
        op, level, sign = d["op"][:, layer], d["magnitude"][:, layer] / MAX_LEVEL, d["sign"][:, layer]
        op = torch.where(d["applies"][:, layer], op, -1)  # -1: this layer leaves the image
        x = apply_ops(x, op, level, sign, fill_value)
    return x


def apply_ops(
    x: torch.Tensor, op: torch.Tensor, level: torch.Tensor, sign: torch.Tensor, fill: torch.Tensor
) -> torch.Tensor:
    """Op ``op[i]`` (index into OPS; -1: none) at ``level[i]`` in [0, 1] with ``sign[i]`` on image i."""

    def col(v: torch.Tensor) -> torch.Tensor:
        return v[:, None, None, None]

    factor = 1 + 0.9 * level * sign  # the "Increasing" enhancers
    pixel_ops = {
        "AutoContrast": lambda: autocontrast(x),
        "Equalize": lambda: equalize(x),
        "Invert": lambda: 255 - x,
        "PosterizeIncreasing": lambda: posterize(x, 4 - (4 * level).floor()),
        "SolarizeIncreasing": lambda: torch.where(x >= col(256 - (256 * level).floor()), 255 - x, x),
        "SolarizeAdd": lambda: torch.where(x < 128, (x + col((110 * level).floor())).clamp(max=255), x),
        "ColorIncreasing": lambda: blend(grayscale(x).expand_as(x), x, factor),
        "ContrastIncreasing": lambda: blend(
            grayscale(x).mean((1, 2, 3), keepdim=True).add(0.5).floor().expand_as(x), x, factor
        ),
        "BrightnessIncreasing": lambda: blend(torch.zeros_like(x), x, factor),
        "SharpnessIncreasing": lambda: blend(smooth(x), x, factor),
    }
    out = x
    for name, fn in pixel_ops.items():
        out = torch.where(col(op == OPS.index(name)), fn(), out)
    geometric = torch.stack([op == OPS.index(name) for name in GEOMETRIC]).any(dim=0)
    moved = affine(x, pixel_affine(op, level, sign, x.shape[-2:]), fill)
    return torch.where(col(geometric), moved, out)


def fill_tensor(fill: tuple[float, ...], x: torch.Tensor) -> torch.Tensor:
    """(1, C, 1, 1) fill: per channel for RGB, the mean of ``fill`` for one channel."""
    values = tuple(fill) if x.shape[1] == len(fill) else (sum(fill) / len(fill),) * x.shape[1]
    return _constant(values, x.dtype, x.device)[None, :, None, None]


@lru_cache(maxsize=64)
def _constant(values: tuple[float, ...], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """A small constant on the device, copied there once (a copy per step would make a GPU wait)."""
    return torch.tensor(values, dtype=dtype, device=device)


def grayscale(x: torch.Tensor) -> torch.Tensor:
    """PIL's "L" conversion (ITU-R 601-2 luma, rounded): (B, 1, H, W)."""
    if x.shape[1] == 1:
        return x
    weights = _constant((0.299, 0.587, 0.114), x.dtype, x.device)[None, :, None, None]
    return (x * weights).sum(1, keepdim=True).round()


def blend(degenerate: torch.Tensor, x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """PIL's ImageEnhance: degenerate + factor * (x - degenerate), clipped to 0..255, truncated."""
    return (degenerate + factor[:, None, None, None] * (x - degenerate)).clamp(0, 255).floor()


def autocontrast(x: torch.Tensor) -> torch.Tensor:
    """Each channel stretched to 0..255 (PIL's autocontrast, no cutoff); flat channels stay."""
    lo, hi = x.amin((2, 3), keepdim=True), x.amax((2, 3), keepdim=True)
    scale = 255 / (hi - lo).clamp_min(1)
    return torch.where(hi > lo, ((x - lo) * scale).clamp(0, 255).floor(), x)


def equalize(x: torch.Tensor) -> torch.Tensor:
    """PIL's equalize per channel: lut[i] = (step // 2 + #pixels below i) // step with step =
    (#pixels - #pixels at the top value) // 255; channels with step 0 stay."""
    b, c, h, w = x.shape
    flat = x.reshape(b * c, h * w).long()
    hist = torch.zeros(b * c, 256, dtype=torch.long, device=x.device).scatter_add_(1, flat, torch.ones_like(flat))
    top = hist.gather(1, flat.amax(1, keepdim=True))  # pixels at the top value
    step = (h * w - top) // 255  # (B*C, 1)
    below = hist.cumsum(1) - hist
    lut = ((step // 2 + below) // step.clamp_min(1)).clamp(0, 255)
    out = lut.gather(1, flat).to(x.dtype)
    return torch.where(step > 0, out, flat.to(x.dtype)).reshape(b, c, h, w)


def posterize(x: torch.Tensor, bits: torch.Tensor) -> torch.Tensor:
    """Keep the top ``bits`` (B,) bits of each pixel."""
    q = (2.0 ** (8 - bits))[:, None, None, None]
    return (x / q).floor() * q


def smooth(x: torch.Tensor) -> torch.Tensor:
    """PIL's ImageFilter.SMOOTH (3x3, centre 5, others 1, / 13, rounded); the border keeps x."""
    c = x.shape[1]
    kernel = torch.ones(3, 3, dtype=x.dtype, device=x.device)
    kernel[1, 1] = 5
    kernel = (kernel / 13).expand(c, 1, 3, 3)
    inner = nn.functional.conv2d(x, kernel, groups=c).round()
    out = x.clone()
    out[..., 1:-1, 1:-1] = inner
    return out


def pixel_affine(op: torch.Tensor, level: torch.Tensor, sign: torch.Tensor, size) -> torch.Tensor:
    """(B, 2, 3) maps from output to input pixel coordinates (x right, y down; PIL's AFFINE data):
    identity for the non-geometric ops."""
    height, width = size
    b = len(op)
    m = torch.zeros(b, 2, 3, dtype=level.dtype, device=level.device)
    m[:, 0, 0] = m[:, 1, 1] = 1
    shear, shift = 0.3 * level * sign, 0.45 * level * sign

    def is_op(name: str) -> torch.Tensor:
        return op == OPS.index(name)

    m[:, 0, 1] = torch.where(is_op("ShearX"), shear, 0.0)
    m[:, 1, 0] = torch.where(is_op("ShearY"), shear, 0.0)
    m[:, 0, 2] = torch.where(is_op("TranslateXRel"), shift * width, 0.0)
    m[:, 1, 2] = torch.where(is_op("TranslateYRel"), shift * height, 0.0)
    # PIL's rotate(degrees): counter-clockwise about the centre; its output->input matrix is the
    # rotation by -degrees (y down), conjugated by the shift to the centre.
    angle = -math.pi / 180 * 30 * level * sign
    cos, sin = angle.cos(), angle.sin()
    cx, cy = width / 2, height / 2
    rot = torch.stack(
        [torch.stack([cos, sin, cx - cos * cx - sin * cy], -1), torch.stack([-sin, cos, cy + sin * cx - cos * cy], -1)],
        -2,
    )
    return torch.where(is_op("Rotate")[:, None, None], rot, m)


def affine(x: torch.Tensor, matrix: torch.Tensor, fill: torch.Tensor) -> torch.Tensor:
    """x resampled bilinearly at ``matrix`` (B, 2, 3) applied to each output pixel's centre;
    pixels from outside the picture take ``fill``."""
    b, _, height, width = x.shape
    ys, xs = torch.meshgrid(
        torch.arange(height, dtype=x.dtype, device=x.device) + 0.5,
        torch.arange(width, dtype=x.dtype, device=x.device) + 0.5,
        indexing="ij",
    )
    points = torch.stack([xs, ys, torch.ones_like(xs)], -1)  # (H, W, 3)
    source = torch.einsum("bij,hwj->bhwi", matrix.to(x.dtype), points)  # (B, H, W, 2) input pixels
    grid = torch.stack([source[..., 0] * 2 / width - 1, source[..., 1] * 2 / height - 1], -1)
    out = nn.functional.grid_sample(x - fill, grid, mode="bilinear", padding_mode="zeros", align_corners=False) + fill
    return out.round().clamp(0, 255)
