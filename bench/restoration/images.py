"""Image sets for restoration: clean images at their real sizes and modes, optional masks.

Images are read with Pillow and kept as they are: mode ``L`` becomes one channel, ``RGB`` three,
uint8, never resized. Any other mode is refused rather than converted silently (a bilevel mask,
mode ``1``, is read as 0/255).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

IMAGE_SUFFIXES = (".png", ".bmp", ".tif", ".tiff", ".jpg", ".jpeg", ".ppm", ".pgm")


def read_image(path: str | Path, *, mask: bool = False) -> torch.Tensor:
    """A uint8 (C, H, W) tensor with C = 1 (mode L) or 3 (mode RGB), as stored in the file."""
    from PIL import Image

    with Image.open(path) as im:
        mode = im.mode
        if mode == "1" and mask:
            im = im.convert("L")
        elif mode == "RGBA" and mask:
            im = im.convert("L")
        elif mode not in ("L", "RGB"):
            raise ValueError(
                f"{path}: image mode {mode!r} is not supported (expected L or RGB); convert the file "
                "explicitly, nothing is converted silently"
            )
        array = np.array(im, dtype=np.uint8)
    if array.ndim == 2:
        array = array[None]
    else:
        array = array.transpose(2, 0, 1)
    return torch.from_numpy(np.ascontiguousarray(array))


def write_image(path: str | Path, image: torch.Tensor) -> None:
    """Save a uint8 (C, H, W) tensor (C = 1 or 3) as PNG (lossless)."""
    from PIL import Image

    if image.dtype != torch.uint8:
        raise TypeError(f"write_image needs uint8, got {image.dtype}")
    array = image.detach().cpu().numpy()
    array = array[0] if array.shape[0] == 1 else array.transpose(1, 2, 0)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.ascontiguousarray(array)).save(path)


@dataclass
class RestorationImage:
    """One clean image: ``image`` uint8 (C, H, W); ``mask`` uint8 (1, H, W), 1 = known pixel,
    0 = missing (only for sets that come with inpainting masks)."""

    name: str
    image: torch.Tensor
    mask: torch.Tensor | None = None

    def __post_init__(self) -> None:
        if self.image.dtype != torch.uint8 or self.image.ndim != 3 or self.image.shape[0] not in (1, 3):
            raise ValueError(
                f"{self.name}: image must be uint8 (1|3, H, W), got {self.image.dtype} {tuple(self.image.shape)}"
            )
        if self.mask is not None and self.mask.shape != (1, *self.image.shape[1:]):
            raise ValueError(
                f"{self.name}: mask {tuple(self.mask.shape)} does not match image {tuple(self.image.shape)}"
            )

    @property
    def channels(self) -> int:
        return self.image.shape[0]


@dataclass
class ImageSet:
    """A restoration test set: a name and its images, in a fixed order."""

    name: str
    images: list[RestorationImage] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.images)

    def __iter__(self):
        return iter(self.images)

    def select(self, names: list[str]) -> ImageSet:
        known = {im.name: im for im in self.images}
        missing = [n for n in names if n not in known]
        if missing:
            raise KeyError(f"{self.name}: no image(s) {missing}; it has {sorted(known)}")
        return ImageSet(self.name, [known[n] for n in names])


def mask_from_image(mask: torch.Tensor) -> torch.Tensor:
    """A mask image (any channels, uint8) -> (1, H, W) uint8, 1 where known (value > 127)."""
    return (mask.amax(dim=0, keepdim=True) > 127).to(torch.uint8)


def load_folder(folder: str | Path, name: str | None = None) -> ImageSet:
    """Every image in ``folder`` (sorted by file name) as an :class:`ImageSet`; no checksums:
    use a dataset plugin for verified sets."""
    folder = Path(folder)
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise FileNotFoundError(f"{folder}: no images ({', '.join(IMAGE_SUFFIXES)})")
    return ImageSet(name or folder.name, [RestorationImage(p.stem, read_image(p)) for p in files])
