"""The report's plots, drawn with matplotlib as SVG files beside the page.

matplotlib because it is already a dependency (the restoration track's PSNR curves), is maintained
and widely known, needs no browser or JavaScript to draw, and writes static SVG that opens offline
and scales on any screen. Each function returns a :class:`Plot` (file name relative to the site,
title, alt text) or None when the table has nothing to draw.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from bench.html.collect import Table, inside
from bench.metric_table import THROUGHPUT
from bench.paths import safe_name
from bench.records import is_number
from bench.report import header

#: Cost axis of the quality-throughput plot, first present wins; a throughput where less is better
#: (the metric table's "seconds_per_image") is drawn inverted (images per second), so that right is
#: always faster.
COST = (
    "train_images_per_s",
    "pretrain_images_per_s",
    "feature_images_per_s",
    "inference_images_per_s",
    "seconds_per_image",
    "iterations_per_s",
    "restore_images_per_s",
)

STYLE = {
    "svg.fonttype": "none",  # text stays text: small files, selectable, the browser's fonts
    "svg.hashsalt": "bench-report",  # stable ids: the same records give the same files
    "text.parse_math": False,  # labels are records' text: a "$" in a method's name is not TeX
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
}


@dataclass
class Plot:
    path: str  # relative to the site's root
    title: str
    alt: str
    choice: str = ""  # one of several views of one figure (the quality-cost plot's x axes)


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, site: Path, name: str) -> str:
    rel = f"plots/{safe_name(name)}.svg"
    (site / "plots").mkdir(parents=True, exist_ok=True)
    fig.savefig(inside(site, rel), format="svg", metadata={"Date": None})
    pyplot().close(fig)
    return rel


def _header(metric: str) -> str:
    return header(metric)


# -- quality against throughput -------------------------------------------------------------------


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats on both axes (higher is better on both)."""
    order = sorted(range(len(points)), key=lambda i: (-points[i][0], -points[i][1]))
    front, best = [], -math.inf
    for i in order:
        if points[i][1] > best:
            front.append(i)
            best = points[i][1]
    return front


#: The x axes the quality-against-cost plot offers (the page lets a reader choose): name -> the
#: row's metrics to try, first present wins (whether more is better: the metric table's).
AXES = {
    "throughput": COST,
    "seconds": ("run_seconds", "train_seconds"),
    "memory": ("peak_gpu_mib", "peak_rss_mib"),
}


def _plain_ticks(ax) -> None:
    """Tick labels of a log axis as plain numbers (6,000; 0.05), minor ticks labelled where
    matplotlib would (a range under a decade or two): its own labels are mathtext
    (``$\\mathdefault{6\\times10^{3}}$``), printed raw once TeX parsing is off (see STYLE)."""
    from matplotlib.ticker import LogFormatter

    class Plain(LogFormatter):
        def _num_to_string(self, x, vmin, vmax):
            return f"{x:,.0f}" if x >= 1 else f"{x:.3g}"

    ax.xaxis.set_major_formatter(Plain(labelOnlyBase=False))
    ax.xaxis.set_minor_formatter(Plain(labelOnlyBase=False, minor_thresholds=(2, 0.5)))


def quality_vs_throughput(table: Table, site: Path) -> Plot | None:
    return quality_vs_cost(table, site, "throughput")


def quality_vs_cost(table: Table, site: Path, axis: str) -> Plot | None:
    """The primary metric against a cost (``AXES``: throughput, seconds or memory), log x, with
    the Pareto front of the rows nothing beats on both."""
    quality = table.primary
    metrics = table.metrics()
    cost = next((m for m in AXES[axis] if m in metrics), None)
    if quality is None or cost is None:
        return None
    what = table.metric(cost)
    inverted = what.kind == THROUGHPUT and not what.higher_is_better  # seconds per image: drawn as images/s
    more_is_better = what.higher_is_better or inverted
    points, labels, yerr = [], [], []
    for row in table.rows:
        q, c = row.data.metrics.get(quality), row.data.metrics.get(cost)
        if q is None or c is None or not c.mean:
            continue
        x = 1 / c.mean if inverted else c.mean
        if x <= 0:
            continue
        points.append((x, q.mean))
        labels.append(row.label)
        yerr.append(q.std or 0.0)
    if len(points) < 2:
        return None
    front = pareto_front([(x if more_is_better else -x, y) for x, y in points])
    plt = pyplot()
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(6.4, 3.8))
        for i, ((x, y), label) in enumerate(zip(points, labels)):
            on_front = i in front
            ax.errorbar(
                [x],
                [y],
                yerr=[yerr[i]] if yerr[i] else None,
                fmt="o",
                ms=7,
                capsize=3,
                color="#1f77b4" if on_front else "#999999",
                mfc="#1f77b4" if on_front else "white",
                zorder=3,
            )
            ax.annotate(label, (x, y), textcoords="offset points", xytext=(6, 5), fontsize=8)
        fx, fy = zip(*sorted(points[i] for i in front))
        ax.step(
            fx,
            fy,
            where="pre" if more_is_better else "post",
            color="#1f77b4",
            alpha=0.6,
            lw=1.2,
            label="Pareto front",
            zorder=2,
        )
        ax.set_xscale("log")
        _plain_ticks(ax)
        xlabel = "images restored per second" if inverted else _header(cost)
        ax.set_xlabel(f"{xlabel} (log scale, {'faster →' if more_is_better else '← cheaper'})")
        ax.set_ylabel(f"{_header(quality)} (better ↑)")
        ax.set_title(f"{table.title}: quality against {axis}", fontsize=10)
        ax.legend(loc="lower left", fontsize=8, frameon=False)
        ax.margins(x=0.25, y=0.2)
        fig.tight_layout()
        rel = save_figure(fig, site, f"{table.slug}-pareto" + ("" if axis == "throughput" else f"-{axis}"))
    best = ", ".join(labels[i] for i in sorted(front, key=lambda i: points[i][0]))
    return Plot(
        rel,
        f"Quality against {axis}",
        f"{_header(quality)} against {xlabel} for {len(points)} methods; on the Pareto front: {best}",
        choice=axis,
    )


def quality_vs_costs(table: Table, site: Path) -> list[Plot]:
    """One quality-against-cost plot per x axis the table's rows have figures for; the page
    shows the first and offers the others."""
    return [plot for axis in AXES if (plot := quality_vs_cost(table, site, axis)) is not None]


# -- per-seed spread -------------------------------------------------------------------------------


def seed_spread(table: Table, site: Path) -> Plot | None:
    """One line per row: each seed's value of the primary metric, their mean ± std, and the
    published number where the method declares one."""
    metric = table.primary
    rows = [r for r in table.rows if metric and metric in r.data.metrics]
    if metric is None or not rows:
        return None
    plt = pyplot()
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(6.4, 0.9 + 0.42 * len(rows)))
        shown_paper = False
        for y, row in enumerate(reversed(rows)):
            m = row.data.metrics[metric]
            values = m.values
            jitter = [0.12 * ((i % 3) - 1) for i in range(len(values))]
            ax.scatter(
                values,
                [y + j for j in jitter],
                s=18,
                color="#1f77b4",
                alpha=0.8,
                zorder=3,
                label="one seed" if y == 0 else None,
            )
            ax.errorbar(
                [m.mean],
                [y],
                xerr=[m.std] if m.std else None,
                fmt="|",
                ms=14,
                mew=2,
                color="black",
                capsize=4,
                zorder=4,
                label="mean ± std" if y == 0 else None,
            )
            for ref in row.published.get(metric, []):
                ax.scatter(
                    [ref["value"]],
                    [y],
                    marker="D",
                    s=36,
                    color="#d62728",
                    zorder=5,
                    label=None if shown_paper else "published",
                )
                shown_paper = True
        ax.set_yticks(range(len(rows)))
        ax.set_yticklabels([r.label for r in reversed(rows)])
        ax.set_ylim(-0.6, len(rows) - 0.4)
        ax.set_xlabel(_header(metric))
        ax.set_title(f"{table.title}: {_header(metric)} per seed", fontsize=10)
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
        ax.grid(axis="y", alpha=0)
        fig.tight_layout()
        rel = save_figure(fig, site, f"{table.slug}-seeds")
    n = sum(len(r.data.metrics[metric].values) for r in rows)
    return Plot(rel, f"{_header(metric)} per seed", f"{n} per-seed values of {_header(metric)} for {len(rows)} rows")


# -- curves ------------------------------------------------------------------------------------------


def iteration_curves(table: Table, site: Path) -> list[Plot]:
    """PSNR by iteration (DIP, ZSSR: the host's monitor), one plot per image, every method and
    seed of the table that logged one; the degraded input's PSNR as a dashed line."""
    images: dict[str, list[tuple[str, int, list[dict], dict]]] = {}
    for row in table.rows:
        for record in row.group.ok:
            curves = record.details.get("curves")
            if not isinstance(curves, dict):
                continue
            entries = {e["image"]: e for e in record.details["per_image"]}
            for image, curve in curves.items():
                if curve:
                    images.setdefault(image, []).append((row.label, record.spec["seed"], curve, entries.get(image, {})))
    plots = []
    plt = pyplot()
    for image, series in sorted(images.items()):
        with plt.rc_context(STYLE):
            fig, ax = plt.subplots(figsize=(6.4, 3.4))
            input_psnr = None
            for i, (label, seed, curve, entry) in enumerate(series):
                for key, style in (("psnr", "-"), ("psnr_avg", "--")):
                    pts = [(p["iteration"], p[key]) for p in curve if _numbers(p.get("iteration"), p.get(key))]
                    if pts:
                        xs, ys = zip(*thin(pts))
                        name = label + ("" if key == "psnr" else " (averaged output)")
                        if len({s for _, s, _, _ in series}) > 1:
                            name += f" seed {seed}"
                        ax.plot(xs, ys, style, color=f"C{i}", lw=1.4, label=name, marker="." if len(xs) < 15 else None)
                input_psnr = entry.get("input_psnr", input_psnr)
            if input_psnr is not None:
                ax.axhline(input_psnr, color="gray", ls=":", lw=1, label=f"degraded input {input_psnr:.2f} dB")
            ax.set_xlabel("iteration")
            ax.set_ylabel("PSNR (dB)")
            ax.set_title(f"{table.title}: PSNR by iteration, image {image}", fontsize=10)
            ax.legend(fontsize=8, frameon=False)
            fig.tight_layout()
            rel = save_figure(fig, site, f"{table.slug}-curve-{image}")
        plots.append(
            Plot(
                rel,
                f"PSNR by iteration: {image}",
                f"PSNR of the intermediate output against iterations on image {image}",
            )
        )
    return plots


def training_curves(table: Table, site: Path) -> Plot | None:
    """Scalars a method logged by epoch (loss, validation accuracy): one panel per scalar, one
    colour per row, one line per seed."""
    series: dict[str, list[tuple[int, str, int, list[tuple[float, float]]]]] = {}
    for index, row in enumerate(table.rows):
        for record in row.group.ok:
            for prefix, curve in _epoch_curves(record.details):
                by_key: dict[str, list[tuple[float, float]]] = {}
                for point in curve:
                    for key, value in point.items():
                        if key in ("epoch", "seconds") or not _numbers(point.get("epoch"), value):
                            continue
                        by_key.setdefault(prefix + key, []).append((point["epoch"], value))
                for key, pts in by_key.items():
                    key, pts = in_percent(key, pts)
                    series.setdefault(key, []).append((index, row.label, record.spec["seed"], sorted(pts)))
    if not series:
        return None
    keys = sorted(series, key=lambda k: ("loss" not in k, k))[:4]
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator

    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, len(keys), figsize=(3.4 * len(keys) + 0.6, 3.2), squeeze=False)
        for ax, key in zip(axes[0], keys):
            labelled = set()
            for index, label, _seed, pts in series[key]:
                xs, ys = zip(*thin(pts))
                ax.plot(
                    xs,
                    ys,
                    color=f"C{index % 10}",
                    lw=1.2,
                    alpha=0.85,
                    marker="o",
                    ms=3,
                    label=None if label in labelled else label,
                )
                labelled.add(label)
            ax.set_xlabel("epoch")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_title(key.replace("_", " "), fontsize=10)
        axes[0][0].legend(fontsize=8, frameon=False)
        fig.suptitle(f"{table.title}: training curves (one line per seed)", fontsize=10)
        fig.tight_layout()
        rel = save_figure(fig, site, f"{table.slug}-training")
    return Plot(rel, "Training curves", f"{', '.join(keys)} by epoch for {len(table.rows)} rows, one line per seed")


def in_percent(key: str, points: list[tuple[float, float]]) -> tuple[str, list[tuple[float, float]]]:
    """An accuracy logged as a fraction (0-1, the protocols' curves) in %, the tables' unit."""
    if key.endswith("accuracy") and all(0 <= v <= 1 for _, v in points):
        return f"{key} %", [(x, 100 * v) for x, v in points]
    return key, points


def _epoch_curves(details: dict):
    """(prefix, curve) for every list of {"epoch": ...} points in a record's details: the run's own
    ``curves`` and, one level down, a pre-training's (``details.pretrain.curves``)."""
    if isinstance(details.get("curves"), list):
        yield "", details["curves"]
    for name, value in details.items():
        if isinstance(value, dict) and isinstance(value.get("curves"), list):
            yield f"{name} ", value["curves"]


#: Points of one line in a plot: more do not show on a 6-inch figure, and each costs the SVG bytes.
MAX_PLOT_POINTS = 1000


def thin(points: list, limit: int = MAX_PLOT_POINTS) -> list:
    """At most ``limit`` of ``points``, evenly spaced, the first and the last kept."""
    if len(points) <= limit:
        return points
    step = (len(points) - 1) / (limit - 1)
    return [points[round(i * step)] for i in range(limit)]


def _numbers(*values) -> bool:
    """Whether every value is a finite number: a curve's points are the method's own dicts."""
    return all(map(is_number, values))


def label_efficiency(table: Table, site: Path) -> Plot | None:
    """Accuracy against labels per class (log x), one line per method (the rows of one label,
    e.g. FixMatch and its supervised-only control) with the spread over folds/seeds as error bars;
    the all-labels row, when there is one, as a dashed level. Drawn for tables with at least two
    label budgets."""
    metric = table.primary
    if metric is None:
        return None
    points: dict[str, list[tuple[float, float, float]]] = {}  # label -> (per class, mean, std)
    full: dict[str, float] = {}
    for row in table.rows:
        m = row.data.metrics.get(metric) if metric else None
        if m is None:
            continue
        per_class = _labels_per_class(row)
        if per_class is None:
            full[row.label] = m.mean
        else:
            points.setdefault(row.label, []).append((per_class, m.mean, m.std or 0.0))
    if len({x for line in points.values() for x, _, _ in line}) < 2:
        return None
    plt = pyplot()
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(6.4, 3.6))
        for i, (label, line) in enumerate(sorted(points.items())):
            line.sort()
            color = f"C{i % 10}"
            ax.errorbar(
                [p[0] for p in line],
                [p[1] for p in line],
                yerr=[p[2] for p in line],
                marker="o",
                ms=4,
                capsize=3,
                color=color,
                label=label,
            )
            if label in full:
                ax.axhline(full[label], color=color, ls="--", lw=1, label=f"{label}, all labels")
        ax.set_xscale("log")
        _plain_ticks(ax)
        ax.set_xlabel("labelled images per class (log scale)")
        ax.set_ylabel(_header(metric))
        ax.set_title(f"{table.title}: label efficiency (mean ± std over folds)", fontsize=10)
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
        fig.tight_layout()
        rel = save_figure(fig, site, f"{table.slug}-labels")
    n = sum(len(line) for line in points.values())
    return Plot(rel, "label efficiency", f"{_header(metric)} against labels per class: {n} points, {len(points)} lines")


def _labels_per_class(row) -> float | None:
    """Labelled images per class of a row under a label budget (from its records), None for all."""
    for record in row.group.ok:
        counts = (record.details or {}).get("labels", {}).get("counts")
        if isinstance(counts, list) and counts and _numbers(*counts):
            return sum(counts) / len(counts)
    return None


def plots_for(table: Table, site: Path, notes: list[str] | None = None) -> list[Plot]:
    """The table's plots; one matplotlib cannot draw (values near the float range's end overflow
    its axes) is left out, and ``notes`` says which and why."""
    out: list[Plot] = []
    for draw in (quality_vs_costs, seed_spread, label_efficiency, training_curves, iteration_curves):
        try:
            drawn = draw(table, site)
        except (ValueError, OverflowError) as exc:
            pyplot().close("all")
            if notes is not None:
                notes.append(f"{table.suite} · {table.title}: {draw.__name__.replace('_', ' ')} plot not drawn ({exc})")
            continue
        out += drawn if isinstance(drawn, list) else [drawn] if drawn else []
    return out


# -- a row's history across code versions ----------------------------------------------------------


def row_history(table: Table, row, site: Path, spark: bool = False) -> Plot:
    """A row's primary metric across the code versions that made it (``row.history``, from
    ``bench history``), oldest first: each version's mean over seeds, the levels of the step fit,
    and the versions where a new level starts (a step beyond the noise) in red. ``spark``: a
    sparkline for the leaderboard (no axes); else a small plot with each seed's value and the
    versions named, for the row's page."""
    trend = row.history
    series = trend.series
    measured = [(i, v) for i, v in enumerate(series.values) if v is not None]
    xs, ys = zip(*measured)
    level_of = _levels(measured, series.steps)
    plt = pyplot()
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(1.6, 0.42) if spark else (4.2, 2.2))
        if not spark:
            for i, values in enumerate(series.spreads):
                ax.scatter(
                    [i] * len(values), values, s=9, color="#9bbbd9", zorder=2, label="one seed" if i == 0 else None
                )
        ax.step(xs, level_of, where="post", color="#999999", lw=1, zorder=1, label=None if spark else "step fit")
        ax.plot(
            xs,
            ys,
            color="#1f77b4",
            lw=1.2,
            marker="o",
            ms=2.5 if spark else 4,
            zorder=3,
            label=None if spark else "mean over seeds",
        )
        steps = [(i, series.values[i]) for i in series.steps]
        if steps:
            sx, sy = zip(*steps)
            ax.scatter(sx, sy, s=22 if spark else 46, color="#d62728", zorder=4, label=None if spark else "step")
        if spark:
            ax.axis("off")
            ax.margins(x=0.06, y=0.25)
            fig.subplots_adjust(0, 0, 1, 1)
        else:
            ax.set_xticks(range(len(trend.versions)))
            ax.set_xticklabels([v.label for v in trend.versions], rotation=30, ha="right", fontsize=7)
            ax.set_ylabel(_header(series.metric), fontsize=8)
            ax.set_title(f"{row.label}: {_header(series.metric)} by code version", fontsize=9)
            ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False)
            ax.margins(x=0.1, y=0.2)
            fig.tight_layout()
        rel = save_figure(fig, site, f"{row.slug}-history" + ("-spark" if spark else ""))
    where = ", ".join(trend.versions[i].label for i in series.steps) or "none"
    return Plot(
        rel,
        f"{_header(series.metric)} by code version",
        f"{_header(series.metric)} of {row.label} over {len(measured)} code versions, oldest first; steps at: {where}",
    )


def _levels(measured: list[tuple[int, float]], steps: list[int]) -> list[float]:
    """The step fit's level at each measured version: the median of its segment's means (the
    levels of bench.history.detect_steps' L1 fit), segments starting at ``steps``."""
    import statistics

    out: list[float] = []
    segment: list[float] = []
    for i, value in measured:
        if i in steps and segment:
            out += [statistics.median(segment)] * len(segment)
            segment = []
        segment.append(value)
    return out + [statistics.median(segment)] * len(segment)


def histories(report, site: Path, notes: list[str] | None = None) -> int:
    """Draw the sparkline and the plot of every row that has a history (``row.history``, see
    :func:`bench.html.collect.attach_history`) into ``row.history.plots``; returns how many."""
    drawn = 0
    for table in report.tables:
        for row in table.rows:
            if row.history is None:
                continue
            try:
                row.history.plots = [row_history(table, row, site, spark=True), row_history(table, row, site)]
            except (ValueError, OverflowError) as exc:
                pyplot().close("all")
                if notes is not None:
                    notes.append(f"{table.suite} · {table.title}: history plot of {row.label} not drawn ({exc})")
                continue
            drawn += 2
    return drawn
