"""Pictures a method saves for people (a fractal and its perturbations, pseudo-negative grids),
listed in the run's record so that reports find them from the records alone.

A method calls ``bench.save_image(ctx.artifacts_dir, kind, name, image, caption=...)``; the image
lands in ``<artifacts>/images/<kind>/<name>.png`` and, when the run ends, the runner lists every
such PNG in the record's ``artifacts`` (path relative to the artifacts folder, kind, caption).
``kind`` groups pictures in reports (``"fractal"``, ``"pseudo-negatives"``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

IMAGES = "images"
CAPTIONS = "captions.json"

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def save_image(artifacts_dir: str | Path, kind: str, name: str, image, caption: str = "") -> Path:
    """Save ``image`` as ``<artifacts_dir>/images/<kind>/<name>.png`` and return the path.

    ``image``: a uint8 tensor (C, H, W) with C = 1 or 3, a float tensor of that shape in [0, 1],
    a NumPy array (H, W) or (H, W, C) of uint8, or a PIL image. ``kind`` and ``name`` are letters,
    digits, '.', '_' and '-'.
    """
    for what, value in (("kind", kind), ("name", name)):
        if not isinstance(value, str) or not _NAME.match(value):
            raise ValueError(f"save_image: {what} {value!r} is not valid: use letters, digits, '.', '_' or '-'")
    folder = Path(artifacts_dir) / IMAGES / kind
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    _to_pil(image).save(path)
    captions_path = folder / CAPTIONS
    captions = _read_json(captions_path)
    captions[path.name] = caption
    captions_path.write_text(json.dumps(captions, indent=1, sort_keys=True))
    return path


def list_images(artifacts_dir: str | Path) -> list[dict]:
    """Every picture saved with :func:`save_image` under ``artifacts_dir``, in name order:
    ``{"kind", "path" (relative to artifacts_dir), "caption"}``."""
    root = Path(artifacts_dir) / IMAGES
    if not root.is_dir():
        return []
    out = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        captions = _read_json(folder / CAPTIONS)
        for png in sorted(folder.glob("*.png")):
            out.append(
                {
                    "kind": folder.name,
                    "path": png.relative_to(artifacts_dir).as_posix(),
                    "caption": str(captions.get(png.name, "")),
                }
            )
    return out


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _to_pil(image):
    import numpy as np
    from PIL import Image

    if isinstance(image, Image.Image):
        return image
    if hasattr(image, "detach"):  # a torch tensor (C, H, W)
        import torch

        tensor = image.detach().cpu()
        if tensor.is_floating_point():
            tensor = (tensor.clamp(0, 1) * 255).round().to(torch.uint8)
        array = tensor.numpy()
        if array.ndim != 3 or array.shape[0] not in (1, 3):
            raise ValueError(f"save_image: expected a tensor (C, H, W) with C = 1 or 3, got shape {tuple(array.shape)}")
        array = array[0] if array.shape[0] == 1 else array.transpose(1, 2, 0)
    else:
        array = np.asarray(image)
        if array.dtype != np.uint8:
            raise ValueError(f"save_image: expected a uint8 array, got {array.dtype}")
    return Image.fromarray(np.ascontiguousarray(array))
