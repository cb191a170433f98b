"""Restoration rows image by image: every method of a table restored the same degraded inputs (the
host seeds the noise and masks by image name; records made since carry a checksum of each input,
``details.per_image[i].input_sha256``, which is checked here), so two methods are compared paired
by image: wins / ties / losses and the Wilcoxon signed-rank test (:func:`bench.stats.paired_images`).

``bench table --per-image`` prints :func:`tables` with :func:`render`; the report's gallery pages
use the same tables.
"""

from __future__ import annotations

import csv
import io
import json
import statistics
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from tabulate import tabulate

from bench import stats

if TYPE_CHECKING:
    from bench.rows import Row

METRICS = ("psnr", "ssim")
#: Per-image differences within half the table's last digit are ties (PSNR 0.005 dB, SSIM 0.00005).
TIE_MARGIN = {"psnr": 0.005, "ssim": 0.00005}
_DIGITS = {"psnr": 2, "ssim": 4}


def image_values(group, metric: str) -> dict[str, float]:
    """Image -> the group's value of ``metric`` on it, the mean over its seeds."""
    found: dict[str, list[float]] = {}
    for record in group.ok:
        for entry in record.details["per_image"]:
            if metric in entry:
                found.setdefault(entry["image"], []).append(entry[metric])
    return {image: statistics.fmean(values) for image, values in found.items()}


def input_checksums(group) -> dict[str, set[str | None]]:
    """Image -> the checksums of the degraded inputs its records restored (None: not recorded)."""
    out: dict[str, set[str | None]] = {}
    for record in group.ok:
        for entry in record.details["per_image"]:
            value = entry.get("input_sha256")
            out.setdefault(entry["image"], set()).add(value if isinstance(value, str) else None)
    return out


def inputs_check(groups: list) -> tuple[bool, str]:
    """Whether the groups restored the same degraded input for every image they share: (False,
    why) when a checksum differs; (True, how it was checked) otherwise."""
    sums = [input_checksums(g) for g in groups]
    images = set.intersection(*(set(s) for s in sums)) if sums else set()
    unverified = 0
    for image in sorted(images):
        seen = set().union(*(s[image] for s in sums))
        if None in seen:
            unverified += 1
            seen.discard(None)
        if len(seen) > 1:
            return False, f"image {image}: the methods restored different degraded inputs"
    if unverified:
        return True, f"{unverified} of {len(images)} images not verified (records without input checksums)"
    return True, "same degraded inputs (checksums match)"


def common_images(groups: list, metric: str) -> list[str]:
    """The images every group has a value of ``metric`` for, in the first group's order."""
    values = [image_values(g, metric) for g in groups]
    return [image for image in values[0] if all(image in v for v in values[1:])] if values else []


@dataclass
class Comparison:
    label: str
    paired: stats.Paired


@dataclass
class ImageTable:
    """One restoration leaderboard image by image: ``values[label][metric][image]``, and each
    method compared with the table's best (``reference``) on the primary metric."""

    title: str
    labels: list[str]
    images: list[str]
    values: dict[str, dict[str, dict[str, float]]]
    inputs: str  # how the shared inputs were checked
    same_inputs: bool
    reference: str = ""
    metric: str = "psnr"
    comparisons: list[Comparison] = field(default_factory=list)
    checksums: dict[str, str] = field(default_factory=dict)  # image -> its degraded input's sha256

    def to_dict(self) -> dict:
        out = asdict(self)
        out["test"] = stats.WILCOXON + ", two-sided"
        return out


def table(title: str, labels: list[str], groups: list, metric: str = "psnr") -> ImageTable | None:
    """The image table of one leaderboard's rows (best first, as the leaderboard sorts them);
    None when fewer than one row has per-image values."""
    pairs = [(label, g) for label, g in zip(labels, groups) if image_values(g, metric)]
    if not pairs:
        return None
    labels, groups = [p[0] for p in pairs], [p[1] for p in pairs]
    images = common_images(groups, metric)
    same, how = inputs_check(groups)
    values = {
        label: {m: {i: v for i, v in image_values(g, m).items() if i in images} for m in METRICS}
        for label, g in zip(labels, groups)
    }
    sums = input_checksums(groups[0])
    out = ImageTable(
        title,
        labels,
        images,
        values,
        how,
        same,
        reference=labels[0],
        metric=metric,
        checksums={i: next(iter(sums.get(i, {None}))) or "" for i in images},
    )
    higher = groups[0].metric_info(metric)["higher_is_better"]
    reference = [values[labels[0]][metric][i] for i in images]
    for label in labels[1:] if same else ():
        method = [values[label][metric][i] for i in images]
        out.comparisons.append(Comparison(label, stats.paired_images(reference, method, TIE_MARGIN[metric], higher)))
    return out


def tables(rows: list[Row], groups_of: dict[int, object]) -> list[ImageTable]:
    """One image table per restoration leaderboard of ``rows`` (``bench.report.leaderboard``'s,
    best first); ``groups_of``: id(row) -> its group."""
    by_table: dict[tuple, list[Row]] = {}
    for row in rows:
        if row.protocol == "restore" and row.runs_ok:
            by_table.setdefault(row.table_key, []).append(row)
    out = []
    for (suite, dataset, protocol, setting), members in by_table.items():
        title = f"{suite} · {dataset} · {protocol} · {setting}"
        found = table(title, [r.label for r in members], [groups_of[id(r)] for r in members])
        if found is not None:
            out.append(found)
    return out


def from_groups(groups: list, rows: list[Row]) -> list[ImageTable]:
    """The image tables of these groups' restoration leaderboards (``rows``:
    ``bench.report.leaderboard(groups)``, which ranks by image through this module)."""
    by_records = {tuple(r.key for r in g.records): g for g in groups}
    return tables(rows, {id(r): by_records[r.records] for r in rows})


def value_text(t: ImageTable, label: str, image: str) -> str:
    v = t.values[label]
    return " / ".join(f"{v[m][image]:.{_DIGITS[m]}f}" for m in METRICS if image in v[m])


def comparison_rows(t: ImageTable) -> list[list[str]]:
    """method, wins/ties/losses against the reference, median difference, p (Wilcoxon)."""
    out = []
    for c in t.comparisons:
        p = "-" if c.paired.p is None else f"{c.paired.p:.3g}"
        if c.paired.p is not None and c.paired.smallest_p >= stats.ALPHA:
            p += f" (n={c.paired.n}: p >= {c.paired.smallest_p:.3g} always)"
        out.append(
            [c.label, f"{c.paired.wins}/{c.paired.ties}/{c.paired.losses}", f"{c.paired.median_difference:+.2f}", p]
        )
    return out


def render(found: list[ImageTable], fmt: str = "text") -> str:
    if fmt == "json":
        return json.dumps([t.to_dict() for t in found], indent=2)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["table", "image", "input_sha256", "method", *METRICS])
        for t in found:
            for image in t.images:
                for label in t.labels:
                    v = t.values[label]
                    writer.writerow(
                        [t.title, image, t.checksums.get(image, ""), label, *(v[m].get(image, "") for m in METRICS)]
                    )
        return out.getvalue()
    tablefmt = {"markdown": "github", "text": "simple"}[fmt]
    blocks = []
    for t in found:
        heading = f"{t.title}  (per image: PSNR dB / SSIM, mean over seeds; {t.inputs})"
        body = [[image, *(value_text(t, label, image) for label in t.labels)] for image in t.images]
        block = (
            (f"### {heading}" if fmt == "markdown" else heading)
            + "\n\n"
            + tabulate(body, headers=["image", *t.labels], tablefmt=tablefmt, disable_numparse=True)
        )
        if not t.same_inputs:
            block += f"\n\nnot compared: {t.inputs}"
        elif t.comparisons:
            block += (
                f"\n\npaired by image against {t.reference} (best mean PSNR): wins/ties/losses of each method "
                f"(ties: within {TIE_MARGIN[t.metric]:g} dB), median difference in dB, {stats.WILCOXON} "
                f"(two-sided; chosen over a paired t-test because per-image gains are far from normal "
                f"and one failed image would dominate a mean)\n\n"
                + tabulate(
                    comparison_rows(t),
                    headers=["method", "wins/ties/losses", "median Δ dB", "p"],
                    tablefmt=tablefmt,
                    disable_numparse=True,
                )
            )
        blocks.append(block)
    return "\n\n".join(blocks) + "\n"
