"""The restoration gallery: one page per restoration leaderboard (``gallery/<table>.html``), linked
from each of its rows.

For every image the page shows the clean target, the degraded input and each method's output
side by side with its PSNR / SSIM, a zoomed crop of each (the window where the methods' errors
differ most, marked on the clean image), and a difference map per method (|output - clean|,
amplified). Above them: the image-by-image table with each method against the best, paired by
image (:mod:`bench.perimage`: wins / ties / losses, Wilcoxon signed-rank).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench import perimage
from bench.html.collect import Report, Table, inside, slug
from bench.paths import safe_name

#: Zoomed crops are this many pixels wide on the page; difference maps are amplified this much.
ZOOM_WIDTH = 192
DIFF_GAIN = 4


@dataclass
class Panel:
    path: str  # relative to the site's root
    caption: str
    crop: str = ""  # the zoomed crop, relative to the site's root
    diff: str = ""  # the difference map (methods only)


@dataclass
class ImageView:
    image: str
    panels: list[Panel] = field(default_factory=list)
    window: tuple[int, int, int] = (0, 0, 0)  # top, left, side of the zoomed crop (clean pixels)


@dataclass
class GalleryPage:
    table: Table
    path: str  # relative to the site's root
    images: perimage.ImageTable
    views: list[ImageView] = field(default_factory=list)

    @property
    def pictures(self) -> int:
        return sum(1 + bool(p.crop) + bool(p.diff) for v in self.views for p in v.panels)


def _outputs(table: Table, image: str) -> list[tuple[str, Path]]:
    """(row label, the folder the row's first successful record saved ``image`` in)."""
    out = []
    for row in table.rows:
        for record, path in row.records():
            folder = path.with_suffix("") / safe_name(image) if path is not None else None
            if record.status == "ok" and folder is not None and (folder / "restored.png").is_file():
                out.append((row.label, folder))
                break
    return out


def _load(path: Path, size: tuple[int, int] | None = None) -> np.ndarray:
    """An image as float (H, W, 3) in 0..255; ``size`` (W, H): enlarged by pixel repetition."""
    from PIL import Image

    with Image.open(path) as opened:
        im = opened.convert("RGB")
        if size is not None and im.size != size:
            im = im.resize(size, Image.Resampling.NEAREST)
        return np.asarray(im, dtype=np.float64)


def crop_window(clean: np.ndarray, outputs: list[np.ndarray]) -> tuple[int, int, int]:
    """(top, left, side) of the square window where the methods' errors differ most (with one
    method: where its error is largest); side: a quarter of the shorter edge, at least 16."""
    h, w = clean.shape[:2]
    side = max(16, min(h, w) // 4)
    side = min(side, h, w)
    errors = np.stack([np.abs(o - clean).mean(axis=2) for o in outputs]) if outputs else np.zeros((1, h, w))
    score = errors.std(axis=0) if len(errors) > 1 else errors[0]
    sums = np.pad(score, ((1, 0), (1, 0))).cumsum(0).cumsum(1)  # integral image
    step = max(1, side // 4)
    best, where = -1.0, (0, 0)
    for top in range(0, h - side + 1, step):
        for left in range(0, w - side + 1, step):
            total = sums[top + side, left + side] - sums[top, left + side] - sums[top + side, left] + sums[top, left]
            if total > best:
                best, where = total, (top, left)
    return (*where, side)


def _save(array: np.ndarray, site: Path, rel: str) -> str:
    from PIL import Image

    target = inside(site, rel)
    target.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.clip(np.rint(array), 0, 255).astype(np.uint8)).save(target)
    return rel


def _zoom(array: np.ndarray, window: tuple[int, int, int]) -> np.ndarray:
    top, left, side = window
    factor = max(1, ZOOM_WIDTH // side)
    crop = array[top : top + side, left : left + side]
    return crop.repeat(factor, axis=0).repeat(factor, axis=1)


def _marked(clean: np.ndarray, window: tuple[int, int, int]) -> np.ndarray:
    """The clean image with the crop's window outlined in red."""
    top, left, side = window
    out = clean.copy()
    red = np.array([230.0, 30.0, 30.0])
    out[top, left : left + side] = out[top + side - 1, left : left + side] = red
    out[top : top + side, left] = out[top : top + side, left + side - 1] = red
    return out


def image_view(table: Table, found: perimage.ImageTable, image: str, site: Path, folder: str) -> ImageView | None:
    outputs = _outputs(table, image)
    if not outputs:
        return None
    first = outputs[0][1]
    clean = _load(first / "clean.png")
    size = (clean.shape[1], clean.shape[0])
    degraded = _load(first / "degraded.png", size)
    restored = [(label, _load(path / "restored.png", size)) for label, path in outputs]
    window = crop_window(clean, [r for _, r in restored])
    view = ImageView(image, window=window)
    base = f"{folder}/{safe_name(image)}"
    view.panels.append(
        Panel(
            _save(_marked(clean, window), site, f"{base}/clean.png"),
            "clean (crop window in red)",
            _save(_zoom(clean, window), site, f"{base}/clean-crop.png"),
        )
    )
    input_psnr = next(
        (
            e.get("input_psnr")
            for r in table.rows
            for rec in r.group.ok
            for e in rec.details["per_image"]
            if e["image"] == image and "input_psnr" in e
        ),
        None,
    )
    view.panels.append(
        Panel(
            _save(degraded, site, f"{base}/degraded.png"),
            "degraded input" + (f": {input_psnr:.2f} dB" if input_psnr is not None else " (shown enlarged)"),
            _save(_zoom(degraded, window), site, f"{base}/degraded-crop.png"),
        )
    )
    for i, (label, array) in enumerate(restored):
        scores = found.values.get(label, {})
        psnr, ssim = scores.get("psnr", {}).get(image), scores.get("ssim", {}).get(image)
        caption = label + (f": {psnr:.2f} dB / {ssim:.4f}" if psnr is not None and ssim is not None else "")
        name = f"{base}/{i}-{slug(label)}"
        diff = np.abs(array - clean).mean(axis=2, keepdims=True).repeat(3, axis=2) * DIFF_GAIN
        view.panels.append(
            Panel(
                _save(array, site, f"{name}.png"),
                caption,
                _save(_zoom(array, window), site, f"{name}-crop.png"),
                _save(diff, site, f"{name}-diff.png"),
            )
        )
    return view


def build(report: Report, site: Path) -> list[GalleryPage]:
    """Write the pictures of every restoration table's gallery; the pages are written by
    :func:`bench.html.page.gallery_page`. Sets ``table.gallery`` to the page's path."""
    pages = []
    for table in report.tables:
        if table.protocol != "restore":
            continue
        found = perimage.table(
            f"{table.suite} · {table.title}", [r.label for r in table.rows], [r.group for r in table.rows]
        )
        if found is None or not found.images:
            continue
        page = GalleryPage(table, f"gallery/{table.slug}.html", found)
        for image in found.images:
            view = image_view(table, found, image, site, f"images/gallery/{table.slug}")
            if view is not None:
                page.views.append(view)
        if page.views:
            table.gallery = page.path
            pages.append(page)
    return pages
