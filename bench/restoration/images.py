"""Image sets for restoration: clean images at their real sizes and modes, optional masks.

Images are read with Pillow and kept as they are: mode ``L`` becomes one channel, ``RGB`` three,
uint8, never resized. Any other mode is refused rather than converted silently (a bilevel mask,
mode ``1``, is read as 0/255).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

IMAGE_SUFFIXES = (".png", ".bmp", ".tif", ".tiff", ".jpg", ".jpeg", ".ppm", ".pgm")


def read_image(path: str | Path, *, mask: bool = False) -> torch.Tensor:
    """A uint8 (C, H, W) tensor with C = 1 (mode L) or 3 (mode RGB), as stored in the file."""
    from PIL import Image

    with Image.open(path) as opened:
        im: Image.Image = opened
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


# -- images identified by their pixels ----------------------------------------------------------------

#: Formats a copy of a restoration image may come in: lossless ones (a JPEG's pixels never match).
LOSSLESS_SUFFIXES = (".png", ".bmp", ".tif", ".tiff", ".ppm", ".pgm")


def pixel_checksum(image: torch.Tensor) -> str:
    """sha256 of what an image is: its shape (C, H, W) and its uint8 values in that order, whatever
    file format, compression or encoder held them."""
    digest = hashlib.sha256("x".join(map(str, image.shape)).encode() + b":")
    digest.update(image.contiguous().cpu().numpy().tobytes())
    return digest.hexdigest()


def decode_pixels(path: str | Path) -> torch.Tensor | None:
    """A file's pixels as uint8 (C, H, W), a palette image as RGB (its colours, looked up); None
    for what has no such pixels (another mode, not an image)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as opened:
            im: Image.Image = opened
            if im.mode == "P":
                im = im.convert("RGB")
            if im.mode not in ("L", "RGB"):
                return None
            array = np.array(im, dtype=np.uint8)
    except (OSError, UnidentifiedImageError):
        return None
    array = array[None] if array.ndim == 2 else array.transpose(2, 0, 1)
    return torch.from_numpy(np.ascontiguousarray(array))


def _forms(image: torch.Tensor) -> list[torch.Tensor]:
    """The image and its other channel layout holding the same pixels: a gray image saved as RGB
    (three equal planes) or an RGB image of equal planes saved as gray."""
    if image.shape[0] == 1:
        return [image, image.expand(3, -1, -1)]
    if bool((image[0] == image[1]).all() and (image[0] == image[2]).all()):
        return [image, image[:1]]
    return [image]


@dataclass(frozen=True)
class PinnedImage:
    """A restoration image identified by its decoded pixels (:func:`pixel_checksum`), so any
    lossless copy of it is accepted: the PNG a repository pins, a BMP of the same image, the EDSR
    archive's HR folder.

    ``name``: the image's name in its set (``"baboon"``), ``set``: the set (``"Set14"``);
    ``pixels``: the pixel checksum; ``copies``: paths, relative to the data folder, where the
    field's copies keep it (looked for in the mirrors, then the cache); ``file``: the pinned file
    (a :class:`bench.RemoteFile`), used when its file checksum matches, downloaded when no copy
    is there. See :func:`fetch_image`.
    """

    set: str
    name: str
    pixels: str
    copies: tuple[str, ...]
    file: Any = None
    layouts: str = ""  # the copies as people read them, for messages

    def matches(self, image: torch.Tensor) -> torch.Tensor | None:
        """The image in the pinned form when its pixels are this image's, else None."""
        return next((form for form in _forms(image) if pixel_checksum(form) == self.pixels), None)


def fetch_image(store, pinned: PinnedImage) -> torch.Tensor:
    """The pinned image as uint8 (C, H, W): the pinned file when a copy with its file checksum is
    there; else the first copy whose decoded pixels match (recorded with its pixel checksum); else
    the pinned file downloaded. A DataError (one line) otherwise, naming the copies accepted, the
    pixel checksum expected and the copies found that differ."""
    from bench.data.store import DataError

    if pinned.file is not None and (path := store.find(pinned.file)) is not None:
        return read_image(path)
    different = []
    for rel in pinned.copies:
        for folder in store.folders:
            path = folder / rel
            if not path.is_file():
                continue
            decoded = decode_pixels(path)
            image = pinned.matches(decoded) if decoded is not None else None
            if image is not None:
                store.record(rel, path, f"{pinned.set}/{pinned.name} by pixels", pixels=pinned.pixels)
                return image
            seen = f"pixel sha256 {pixel_checksum(decoded)[:16]}..." if decoded is not None else "no RGB/gray pixels"
            different.append(f"{path} ({seen})")
    why = ""
    if pinned.file is not None:
        try:
            return read_image(store.fetch(pinned.file))
        except DataError as error:
            why = f"; {error}"
    found = f"; found with other pixels: {', '.join(different[:3])}" if different else ""
    raise DataError(
        f"{pinned.set}/{pinned.name}: no copy with its pixels (pixel sha256 {pinned.pixels}) in "
        f"{' or '.join(map(str, store.folders))}; accepted copies, in any lossless format: "
        f"{pinned.layouts or ', '.join(pinned.copies[:4])}{found}{why}"
    )
