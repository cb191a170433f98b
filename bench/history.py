"""`bench history RESULTS`: each row's numbers across the code versions that made them, and steps.

A results folder keeps, beside each run's record, the records it replaced when it was re-run
because its code had changed (``superseded/``, see :func:`bench.records.supersede`). A row's
records are split into **versions** by the code that made them (``code_identity``; the git commit
where there is one names it, as information) and ordered by when they ended; each version's value
of a metric is its mean over seeds.

**Steps** are found as asv finds them: the series of version means is fitted by a piecewise
constant function minimising the L1 distance plus a penalty per segment (the L1 Potts problem,
solved exactly by dynamic programming), in units of the series' noise, so a jump that the noise
explains is not a step. The noise of a version mean is the larger of two estimates: the spread
of the seeds within versions (pooled, over the square root of the seeds), and, with three versions
or more, the median absolute difference between consecutive versions (robust to the steps
themselves; it catches a machine's drift between sessions, which seeds within one session do not
show). The penalty, ``3 + 2 ln n`` noise units for n versions, is above what noise alone gains
by a split (about ``sqrt(2 ln n)`` units for one outlier) and well below what a real step gains
(its size times the versions after it).
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from bench.records import Record, Unreadable, iter_records
from bench.report import Group, group_records, row_keys


@dataclass
class Version:
    """The records of one row made by one code version."""

    label: str  # the git commit (``*`` when dirty), or ``?`` and a hash of the code identity
    ended: str
    group: Group


@dataclass
class Series:
    """One metric of one row across versions."""

    metric: str
    values: list[float | None]  # per version: the mean over seeds (None: not measured)
    spreads: list[list[float]] = field(default_factory=list)  # per version: the per-seed values
    steps: list[int] = field(default_factory=list)  # indices of versions where a new level starts
    noise: float | None = None


@dataclass
class RowHistory:
    name: str
    versions: list[Version]
    series: list[Series]


def history(root: str | Path, unreadable: list[Unreadable] | None = None) -> list[RowHistory]:
    """Every row under ``root``, its versions in order and its metrics' series with their steps."""
    by_code: dict[str, list[Record]] = {}
    for _, record in iter_records(root, unreadable, history=True):
        if record.ok:
            by_code.setdefault(json.dumps(record.code_identity, sort_keys=True), []).append(record)
    rows: dict[tuple, list[Version]] = {}
    for code, records in by_code.items():
        groups = group_records(records)  # one version's records: a re-run of a seed replaces it
        for key, group in zip(row_keys(groups), groups):
            ended = min(str(r.ended_at or r.started_at or "") for r in group.ok)
            rows.setdefault(key, []).append(Version(_label(group.ok, code), ended, group))
    out = []
    for key in sorted(rows):
        versions = sorted(rows[key], key=lambda v: v.ended)
        names: dict[str, None] = {}
        for v in versions:
            names.update(
                dict.fromkeys(m for m in v.group.metric_names() + v.group.throughput_names() if v.group.values(m))
            )
        out.append(RowHistory(" / ".join(key), versions, [_series(name, versions) for name in names]))
    return out


def _label(records: list[Record], code: str) -> str:
    commits = {r.code.get("git_commit") for r in records}
    dirty = any(r.code.get("git_dirty") for r in records)
    commits.discard(None)
    if len(commits) == 1:
        return str(commits.pop())[:9] + ("*" if dirty else "")
    import hashlib

    return "?" + hashlib.sha256(code.encode()).hexdigest()[:8]


def _series(metric: str, versions: list[Version]) -> Series:
    spreads = [v.group.values(metric) for v in versions]
    values = [statistics.fmean(s) if s else None for s in spreads]
    series = Series(metric, values, spreads)
    measured = [(i, s) for i, s in enumerate(spreads) if s]
    series.noise = noise([s for _, s in measured])
    if series.noise is not None:
        found = detect_steps([statistics.fmean(s) for _, s in measured], series.noise)
        series.steps = [measured[i][0] for i in found]
    return series


def noise(samples: list[list[float]]) -> float | None:
    """The noise of one version's mean (see the module's docstring); None when nothing shows it."""
    estimates = []
    spread = [s for s in samples if len(s) > 1]
    if spread:
        pooled = statistics.fmean(statistics.variance(s) for s in spread)
        seeds = statistics.fmean(len(s) for s in spread)
        estimates.append(math.sqrt(pooled / seeds))
    means = [statistics.fmean(s) for s in samples if s]
    if len(means) >= 3:
        diffs = [abs(b - a) for a, b in zip(means, means[1:])]
        estimates.append(1.4826 * statistics.median(diffs) / math.sqrt(2))
    if not estimates:
        return None
    scale = max((abs(m) for m in means), default=0.0)
    return max(*estimates, 1e-9 * scale, 1e-12)


def detect_steps(values: list[float], sigma: float, penalty: float | None = None) -> list[int]:
    """Where a new level starts in ``values`` (indices > 0): the exact minimiser of the L1 Potts
    functional ``sum |y_i - level(i)| / sigma + penalty * segments``, levels being segment medians.
    ``penalty`` defaults to ``3 + 2 ln n``."""
    n = len(values)
    if n < 2:
        return []
    gamma = penalty if penalty is not None else 3 + 2 * math.log(n)
    y = [v / sigma for v in values]
    best = [0.0] + [math.inf] * n  # best[r]: the optimum for y[:r]
    start = [0] * (n + 1)
    for r in range(1, n + 1):
        for left in range(r):
            segment = y[left:r]
            level = statistics.median(segment)
            cost = best[left] + sum(abs(v - level) for v in segment) + gamma
            if cost < best[r]:
                best[r], start[r] = cost, left
    steps, r = [], n
    while r > 0:
        if start[r] > 0:
            steps.append(start[r])
        r = start[r]
    return sorted(steps)


def render(rows: list[RowHistory]) -> str:
    """Per row: a line per version (its commit, when it ended, each metric), steps marked ``<- step``."""
    from tabulate import tabulate

    blocks = []
    for row in rows:
        headers = ["version", "ended", *(s.metric for s in row.series)]
        table = []
        for i, version in enumerate(row.versions):
            cells = [version.label, version.ended[:16]]
            for s in row.series:
                cells.append(_cell(s.spreads[i]) + (" <- step" if i in s.steps else ""))
            table.append(cells)
        lines = [f"== {row.name}", tabulate(table, headers=headers, tablefmt="simple", disable_numparse=True)]
        for s in row.series:
            for i in s.steps:
                before, after = s.values[_previous(s.values, i)], s.values[i]
                lines.append(
                    f"step in {s.metric} at {row.versions[i].label}: {_number(before)} -> {_number(after)} "
                    f"({(after - before) / abs(before):+.1%}, noise of a version's mean {_number(s.noise)})"
                    if before and after is not None
                    else f"step in {s.metric} at {row.versions[i].label}"
                )
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def _previous(values: list[float | None], i: int) -> int:
    j = i - 1
    while j > 0 and values[j] is None:
        j -= 1
    return j


def _cell(samples: list[float]) -> str:
    if not samples:
        return "-"
    text = _number(statistics.fmean(samples))
    return f"{text} ± {_number(statistics.stdev(samples))} ({len(samples)})" if len(samples) > 1 else text


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"


__all__ = ["RowHistory", "Series", "Version", "detect_steps", "history", "noise", "render"]
