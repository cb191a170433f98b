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

from bench.html.collect import Report, Table, inside, slug
from bench.paths import first_link, safe_name
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
    slots = figures.collect(report.results, unreadable=[])  # collect() has said which are unreadable
    if not slots:
        return {}
    figures.side_by_side(report.results, target, curves=False, unreadable=[])
    out: dict[str, list[Gallery]] = {}
    for table in report.tables:
        if table.protocol != "restore":
            continue
        label = table.setting.split(",")[0]
        images = []
        for row in table.rows:
            for record in row.group.ok:
                if record.details["setting"] == label:
                    images += [e["image"] for e in record.details["per_image"]]
        gallery = Gallery(
            f"Restored images: {label}",
            note="clean | degraded input | each method, worst to best; captions: PSNR dB / SSIM. "
            "A picture shows every method of this suite that restored the image.",
        )
        for image in dict.fromkeys(images):
            slot = slots.get((table.suite, table.dataset, label, image))
            path = figures.picture_path(target, table.suite, table.dataset, label, image)
            if slot is None or not path.exists():
                continue
            ranked = sorted(slot["methods"].items(), key=lambda kv: kv[1][1]["psnr"], reverse=True)
            scores = "; ".join(
                f"{name}: {entry['psnr']:.2f} dB / {entry['ssim']:.4f}" for name, (_, entry, _) in ranked
            )
            if slot.get("input_psnr") is not None:
                scores += f"; degraded input: {slot['input_psnr']:.2f} dB"
            gallery.pictures.append(
                Picture(
                    path.relative_to(site).as_posix(),
                    f"{image}: {scores}",
                    f"{image}: clean, degraded and restored by {len(ranked)} methods",
                )
            )
        if gallery.pictures:
            out.setdefault(table.slug, []).append(gallery)
    return out


def _artifacts(table: Table, site: Path) -> list[Gallery]:
    kinds: dict[str, Gallery] = {}
    for row in table.rows:
        for record, path in row.records():
            if not record.artifacts or path is None:
                continue
            folder = path.with_suffix("")
            seed = record.spec["seed"]
            for item in record.artifacts:
                kind = item["kind"]
                gallery = kinds.setdefault(
                    kind,
                    Gallery(KINDS.get(kind, f"Pictures: {kind}"), note=f"saved by the methods under kind {kind!r}"),
                )
                source = folder / item["path"]
                name = safe_name(Path(item["path"]).name)
                # Only the record's own artifact folder is read: a listed "../../x.png" or "/x.png" is
                # not, nor a file reached through a symbolic link planted in the results folder.
                if (
                    not source.resolve().is_relative_to(folder.resolve())
                    or first_link(path.parent, source) is not None
                    or not source.is_file()
                    or source.suffix.lower() != ".png"
                ):
                    gallery.missing.append(f"{row.label} seed {seed}: {item['path']}")
                    continue
                rel = f"images/artifacts/{table.slug}/{slug(row.label)}/seed{slug(seed)}/{slug(kind)}/{name}"
                target = inside(site, rel)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, target)
                caption = f"{row.label}, seed {seed}" + (f": {item['caption']}" if item["caption"] else f": {name}")
                gallery.pictures.append(Picture(rel, caption, f"{kind} picture {name} of {row.label}"))
    return list(kinds.values())
