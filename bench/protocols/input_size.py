"""The representation protocols' ``input_size`` option: images resized to the encoder's input side.

Papers that fine-tune on CIFAR at 224 px (1p-frac, FractalDB) let timm's transforms resize every
image to the network's input size. With ``input_size`` S > 0 the host does the same on the device:

- the encoder is built and pre-trained for (C, S, S) (``input_shape``): the pre-training images a
  method gets are resized once (``resize_images``, uint8 as a decoded picture would be);
- every batch the encoder sees afterwards (training batches after the host's augmentation,
  evaluation batches, features) is resized by a forward pre-hook on the encoder
  (``resize_inputs``), so no protocol's data path changes and the encoder's parameter names (weight
  decay, layer groups) stay its own.

Bicubic as PIL's, which timm's ``interpolation: bicubic`` is (``resize``). 0: the images' own size.
``crop_pct`` < 1 (timm's eval transform, 0.875 by default there) reads evaluation batches from a
larger resize's centre instead of the whole image.
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

from bench.data.loader import Normalize

#: Pre-training images resized per chunk: a float copy of the whole split would not fit.
CHUNK = 512


def input_shape(shape: tuple, size: int) -> tuple:
    """The (C, H, W) the encoder is built for: ``shape`` itself, or (C, size, size)."""
    return tuple(shape) if not size else (shape[0], size, size)


def resize(images: torch.Tensor, size: int, low, high, *, levels: bool = False) -> torch.Tensor:
    """Float images (B, C, H, W) -> (B, C, size, size), bicubic as PIL's: its kernel (a = -0.5,
    widened when shrinking: torch's antialiased bicubic), the horizontal pass saturated to [low,
    high] before the vertical one as PIL keeps it in uint8 (one pass overshoots where PIL clips);
    ``levels``: each pass also rounded to whole levels (uint8 images: PIL's to within one level)."""
    for shape in ((images.shape[-2], size), (size, size)):
        images = F.interpolate(images, size=shape, mode="bicubic", align_corners=False, antialias=True)
        images = torch.clamp(images.round() if levels else images, low, high)
    return images


def resize_images(images: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 images (N, C, H, W) at size x size, rounded and saturated (``images`` when already so)."""
    if not size or tuple(images.shape[-2:]) == (size, size):
        return images
    out = torch.empty((*images.shape[:2], size, size), dtype=torch.uint8, device=images.device)
    for start in range(0, len(images), CHUNK):
        out[start : start + CHUNK] = resize(images[start : start + CHUNK].float(), size, 0, 255, levels=True)
    return out


def resize_inputs(encoder: torch.nn.Module, size: int, normalize: Normalize, crop_pct: float = 1.0) -> torch.nn.Module:
    """``encoder``, its inputs (float batches normalised by ``normalize``, to ``forward`` and to an
    optional ``read_outs``) resized to size x size from now on when they are not already;
    ``encoder`` as it is when ``size`` is 0. With ``crop_pct`` < 1 an encoder in eval mode reads
    them as timm's eval transform does: resized to floor(size / crop_pct), then the centre size x
    size (224 of 256 at timm's 0.875)."""
    if not size:
        if crop_pct != 1:
            raise ValueError(f"protocol option crop_pct {crop_pct} needs input_size (the side it crops to)")
        return encoder
    # What 0 and 255 normalise to, per channel (1, C, 1, 1).
    low, high = (
        torch.tensor([(v - m) / s for m, s in zip(normalize.mean, normalize.std)])[None, :, None, None]
        for v in (0.0, 1.0)
    )
    on_device = {}  # the bounds moved to a device once, not every call
    evaluated = math.floor(size / crop_pct)
    top = round((evaluated - size) / 2)  # torchvision's CenterCrop

    def inputs(x: torch.Tensor) -> torch.Tensor:
        crop = not encoder.training and evaluated != size
        side = evaluated if crop else size
        if tuple(x.shape[-2:]) != (side, side):
            if x.device not in on_device:
                on_device[x.device] = (low.to(x.device), high.to(x.device))
            x = resize(x, side, *on_device[x.device])
        return x[..., top : top + size, top : top + size] if crop else x

    encoder.register_forward_pre_hook(lambda module, args: (inputs(args[0]), *args[1:]))
    read_outs = getattr(encoder, "read_outs", None)
    if read_outs is not None:  # many read-outs from one call (DDAE): it bypasses forward
        # An attribute of the plugin's module, not a tensor or submodule (what torch's stubs allow).
        encoder.read_outs = lambda images, *rest: read_outs(inputs(images), *rest)  # type: ignore[assignment]
    return encoder
