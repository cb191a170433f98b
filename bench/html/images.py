"""Pictures from the runs' artifacts, copied into the site.

- Restoration: :func:`bench.restoration.figures.side_by_side`'s pictures (clean | degraded |
  each method, captioned with PSNR / SSIM), one per image of a table.
- Any method: the PNGs a record lists under ``artifacts`` (``bench.save_image``), grouped by their
  declared kind: 1p-frac's fractal and its perturbations, ICN's pseudo-negative grids, or kinds
  no report knows yet (shown under their own name).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from bench.html.collect import Report, Table, slug
from bench.restoration import figures

#: Titles of the kinds of pictures methods are known to save; any other kind shows its name.
KINDS = {
    "fractal": "The fractal and its perturbations",
    "pseudo-negatives": "Pseudo-negative samples",
}


@dataclass
class Picture:
    path: str  # relative to the site's root
    caption: str
    alt: str


@dataclass
class Gallery:
    title: str
    note: str = ""
    pictures: list[Picture] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # artifacts a record lists but the folder lacks


def galleries(report: Report, site: Path) -> dict[str, list[Gallery]]:
    """Table slug -> its galleries; pictures are copied under ``site/images``."""
    out: dict[str, list[Gallery]] = {}
    restored = _restoration(report, site)
    for table in report.tables:
        found = restored.get(table.slug, []) + _artifacts(table, site)
        if found:
            out[table.slug] = found
    return out


def _restoration(report: Report, site: Path) -> dict[str, list[Gallery]]:
    if not any(t.protocol == "restore" for t in report.tables):
        return {}
    target = site / "images" / "restoration"
    slots = figures.collect(report.results)
    if not slots:
        return {}
    figures.side_by_side(report.results, target, curves=False)
    out: dict[str, list[Gallery]] = {}
    for table in report.tables:
        if table.protocol != "restore":
            continue
        label = table.setting.split(",")[0]
        images = []
        for row in table.rows:
            for record in row.group.ok:
                if record.get("details", {}).get("setting") == label:
                    images += [e["image"] for e in record["details"].get("per_image", [])]
        gallery = Gallery(f"Restored images: {label}",
                          note="clean | degraded input | each method, worst to best; captions: PSNR dB / SSIM. "
                               "A picture shows every method of this suite that restored the image.")
        for image in dict.fromkeys(images):
            slot = slots.get((table.suite, table.dataset, label, image))
            path = figures.picture_path(target, table.suite, table.dataset, label, image)
            if slot is None or not path.exists():
                continue
            ranked = sorted(slot["methods"].items(), key=lambda kv: kv[1][1]["psnr"], reverse=True)
            scores = "; ".join(f"{name}: {entry['psnr']:.2f} dB / {entry['ssim']:.4f}" for name, (_, entry, _) in ranked)
            if slot.get("input_psnr") is not None:
                scores += f"; degraded input: {slot['input_psnr']:.2f} dB"
            gallery.pictures.append(Picture(path.relative_to(site).as_posix(), f"{image}: {scores}",
                                            f"{image}: clean, degraded and restored by {len(ranked)} methods"))
        if gallery.pictures:
            out.setdefault(table.slug, []).append(gallery)
    return out


def _artifacts(table: Table, site: Path) -> list[Gallery]:
    kinds: dict[str, Gallery] = {}
    for row in table.rows:
        for record, path in row.records():
            listed = record.get("artifacts") or []
            if not listed or path is None:
                continue
            folder = path.with_suffix("")
            seed = record["spec"]["seed"]
            for item in listed:
                kind = str(item.get("kind", "images"))
                gallery = kinds.setdefault(kind, Gallery(KINDS.get(kind, f"Pictures: {kind}"),
                                                         note=f"saved by the methods under kind {kind!r}"))
                source = folder / str(item.get("path", ""))
                name = Path(str(item.get("path", "x.png"))).name
                if not source.is_file() or source.suffix.lower() != ".png" or ".." in Path(str(item.get("path"))).parts:
                    gallery.missing.append(f"{row.label} seed {seed}: {item.get('path')}")
                    continue
                rel = Path("images") / "artifacts" / table.slug / slug(row.label) / f"seed{seed}" / slug(kind) / name
                (site / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, site / rel)
                caption = f"{row.label}, seed {seed}" + (f": {item['caption']}" if item.get("caption") else f": {name}")
                gallery.pictures.append(Picture(rel.as_posix(), caption, f"{kind} picture {name} of {row.label}"))
    return list(kinds.values())
