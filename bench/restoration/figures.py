"""Side-by-side pictures across methods, built from restoration records and their artifacts.

For every image of every (suite, dataset, setting): clean | degraded | each method's result,
captioned with PSNR / SSIM, one PNG per image. The degraded LR image of SR is shown enlarged
by pixel repetition (nearest) so every panel has the clean image's size.
"""

from __future__ import annotations

import json
from pathlib import Path

from bench.paths import first_link, safe_name
from bench.records import Record, iter_records

CAPTION = 16  # caption strip height in pixels
GAP = 4


def collect(results: str | Path, unreadable: list | None = None) -> dict:
    """{(suite, dataset, setting, image): {"clean": path, "degraded": path, "methods": [(name, path, scores)]}};
    ``unreadable``: as for :func:`bench.records.iter_records`."""
    found: dict = {}
    for path, record in iter_records(results, unreadable):
        spec = record.spec
        if spec["protocol"] != "restore" or record.status != "ok":
            continue
        setting = record.details["setting"]
        art = path.with_suffix("")
        for entry in record.details["per_image"]:
            folder = art / safe_name(entry["image"])
            pictures = [folder / name for name in ("clean.png", "degraded.png", "restored.png", "psnr_curve.png")]
            if not (folder / "restored.png").exists() or any(first_link(path.parent, p) for p in pictures):
                continue  # not made, or reached through a link planted in the results folder
            key = (spec["suite"], spec["dataset"], setting, entry["image"])
            slot = found.setdefault(
                key,
                {
                    "clean": folder / "clean.png",
                    "degraded": folder / "degraded.png",
                    "input_psnr": entry.get("input_psnr"),
                    "methods": {},
                },
            )
            label = spec["method"] + (f" ({_budget_text(spec['budget'], record)})" if spec["budget"] else "")
            slot["methods"][label] = (folder / "restored.png", entry, folder / "psnr_curve.png")
    return found


def _budget_text(budget: dict, record: Record) -> str:
    used = record.details["budget_vs_full"]
    parts = [f"{k}={v}" for k, v in budget.items() if used.get(k, {}).get("used") != used.get(k, {}).get("full")]
    return " ".join(parts) or "full budget"


def picture_path(out: str | Path, suite: str, dataset: str, setting: str, image: str) -> Path:
    """Where :func:`side_by_side` writes the picture of one image."""
    return (
        Path(out) / safe_name(suite) / safe_name(dataset) / safe_name(setting or "default") / f"{safe_name(image)}.png"
    )


def side_by_side(
    results: str | Path, out: str | Path, curves: bool = True, unreadable: list | None = None
) -> list[Path]:
    """Write one picture per image (and, with ``curves``, copy the PSNR curves beside it);
    returns the paths."""
    from PIL import Image, ImageDraw

    written = []
    for (suite, dataset, setting, image), slot in sorted(collect(results, unreadable).items()):
        clean = Image.open(slot["clean"]).convert("RGB")
        w, h = clean.size
        degraded = Image.open(slot["degraded"]).convert("RGB")
        degraded_caption = "degraded input"
        if degraded.size != clean.size:
            degraded_caption = f"LR input (x{round(w / degraded.size[0])}, nearest)"
            degraded = degraded.resize((w, h), Image.Resampling.NEAREST)
        elif slot["input_psnr"] is not None:
            degraded_caption += f" {slot['input_psnr']:.2f} dB"
        panels = [(clean, "clean"), (degraded, degraded_caption)]
        ranked = sorted(slot["methods"].items(), key=lambda kv: kv[1][1]["psnr"])
        for label, (path, entry, _) in ranked:
            panels.append((Image.open(path).convert("RGB"), f"{label}: {entry['psnr']:.2f} dB / {entry['ssim']:.4f}"))
        canvas = Image.new("RGB", (len(panels) * (w + GAP) - GAP, h + CAPTION), "white")
        draw = ImageDraw.Draw(canvas)
        for i, (panel, caption) in enumerate(panels):
            x = i * (w + GAP)
            canvas.paste(panel, (x, 0))
            draw.text((x + 2, h + 2), caption[: max(8, w // 6)], fill="black")
        target = picture_path(out, suite, dataset, setting, image)
        target.parent.mkdir(parents=True, exist_ok=True)
        canvas.save(target)
        written.append(target)
        for label, (_, _, curve) in ranked:
            if curves and curve.exists():
                copy = target.with_name(f"{safe_name(image)}-{safe_name(label)}-psnr_curve.png")
                copy.write_bytes(curve.read_bytes())
                written.append(copy)
        (target.with_suffix(".json")).write_text(
            json.dumps(
                {
                    label: {"psnr": e["psnr"], "ssim": e["ssim"], "seconds": e.get("seconds")}
                    for label, (_, e, _) in ranked
                },
                indent=1,
            )
        )
    return written
