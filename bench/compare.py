"""`bench compare`: is NEW worse than BASE, beyond what seeds and timing noise explain?

Runs are matched as leaderboard rows: suite, dataset, protocol and its setting (``restore · sr x2``)
and the row's label (the method, its random-weight control, the params that tell its rows apart);
budgets may differ, so a changed budget shows up as a changed metric. For each metric a difference is a regression only
when it is both

1. larger than a tolerance (absolute for quality metrics, relative for throughput), and
2. significant on the raw samples, one-sided at level ``alpha``: Welch's t-test on the per-seed
   values of a quality metric, the Mann-Whitney U test on the timing samples of a throughput
   (every timed repeat of every seed), as asv does for timings.

A difference past the tolerance that the samples do not support is reported as ``noise`` and
passes; with a single sample on either side there is no spread to test, and the tolerance alone
decides (the output says so). When BASE's and NEW's records of a row were made by different code
(``bench.identity``: method, dataset or host), the row's notes and the last lines say which.
"""

from __future__ import annotations

import json
import math
import statistics
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tabulate import tabulate

from bench.metric_table import THROUGHPUT, Metric, is_rate
from bench.records import Unreadable
from bench.report import Group, RowConfig, load_groups, row_keys


@dataclass
class Tolerances:
    """How far a metric may move before the significance test is asked.

    quality: absolute, in the metric's unit (accuracy points, dB); throughput: relative (0.2 =
    20%); per_metric: overrides by name, each ("abs", x) or ("rel", x); alpha: significance level.
    A tolerance of None is set from the measured noise (:meth:`allowed`).
    """

    quality: float | None = 0.3
    throughput: float | None = 0.2
    per_metric: dict[str, tuple[str, float]] = field(default_factory=dict)
    alpha: float = 0.05

    #: A tolerance set from the noise: this many standard errors of the difference of the means...
    NOISE_K = 3.0
    #: ...and for a throughput at least this fraction (timings move this much between sessions on
    #: any machine); where no spread was measured (one run a side), the fixed defaults.
    MIN_RATE_CHANGE = 0.05
    DEFAULTS = {"quality": 0.3, "throughput": 0.2}

    def allowed(self, metric: str, kind: str, base: float, noise: float | None = None) -> float:
        """The drop ``metric`` may show before the significance test is asked. ``noise``: the
        standard error of the difference of the two sides' means, used when the tolerance of the
        metric's kind is None."""
        kind = "throughput" if kind == "throughput" else "quality"
        if metric in self.per_metric:
            mode, amount = self.per_metric[metric]
            return amount * abs(base) if mode == "rel" else amount
        value = self.throughput if kind == "throughput" else self.quality
        if value is None and noise is not None:
            floor = self.MIN_RATE_CHANGE * abs(base) if kind == "throughput" else 0.0
            return max(self.NOISE_K * noise, floor)
        value = self.DEFAULTS[kind] if value is None else value
        return value * abs(base) if kind == "throughput" else value

    def describe(self) -> str:
        from_noise = f"{self.NOISE_K:g} standard errors of the difference (the seeds' spread)"
        quality = from_noise if self.quality is None else f"{self.quality:g} (absolute)"
        throughput = (
            f"{from_noise}, at least {self.MIN_RATE_CHANGE:.0%}"
            if self.throughput is None
            else f"{self.throughput:.0%}"
        )
        parts = [f"quality {quality}", f"throughput {throughput}"]
        parts += [f"{m} {v:.0%}" if mode == "rel" else f"{m} {v:g}" for m, (mode, v) in self.per_metric.items()]
        return "tolerances: " + ", ".join(parts) + f"; significance: one-sided, alpha {self.alpha:g}"


@dataclass
class Delta:
    name: str  # suite / dataset / protocol / method
    metric: str
    base: list[float] = field(default_factory=list)
    new: list[float] = field(default_factory=list)
    verdict: str = "ok"  # ok, better, noise, unreliable (a loaded machine's rate), REGRESSION, missing, new
    p_value: float | None = None
    note: str = ""
    code: str = ""  # which code differs between BASE's and NEW's records ("method and host"); "?" unknown

    @property
    def base_mean(self) -> float | None:
        return statistics.fmean(self.base) if self.base else None

    @property
    def new_mean(self) -> float | None:
        return statistics.fmean(self.new) if self.new else None


def samples(group: Group, metric: str) -> list[float]:
    """The raw samples behind a figure: one value per seed for a quality metric; every timed
    repeat (items/s) of every seed for a throughput."""
    if not is_rate(metric):
        return group.values(metric)
    out: list[float] = []
    for record in group.ok:
        figure = record.throughput.get(metric, {})
        if figure.get("samples_items_per_s"):
            out += figure["samples_items_per_s"]
        elif figure.get("samples_s") and isinstance(figure.get("items_per_repeat"), int):
            out += [figure["items_per_repeat"] / s for s in figure["samples_s"] if s > 0]
        elif figure.get("items_per_s"):
            out.append(figure["items_per_s"])
    return [v for v in out if isinstance(v, (int, float)) and math.isfinite(v)]


def p_worse(base: list[float], new: list[float], kind: str, higher_is_better: bool) -> float | None:
    """One-sided p-value for "NEW is worse than BASE"; None when there is no spread to test."""
    from scipy import stats

    if higher_is_better:
        base, new = [-v for v in base], [-v for v in new]  # now "worse" means larger
    if kind == "throughput":
        if len(base) < 3 or len(new) < 3:
            return None
        return float(stats.mannwhitneyu(new, base, alternative="greater").pvalue)
    if len(base) < 2 or len(new) < 2:
        return None
    scale = 1e-9 * max(1.0, *(abs(v) for v in base + new))
    if statistics.pstdev(base) <= scale and statistics.pstdev(new) <= scale:  # no spread: the t-test is undefined
        return 0.0 if statistics.fmean(new) - statistics.fmean(base) > scale else 1.0
    with warnings.catch_warnings():
        # One side without spread (e.g. a deterministic metric) is fine for Welch's test; scipy
        # still warns about its moment calculation.
        warnings.filterwarnings("ignore", "Precision loss", RuntimeWarning)
        return float(stats.ttest_ind(new, base, equal_var=False, alternative="greater").pvalue)


def compare(
    base_path: str | Path,
    new_path: str | Path,
    tolerances: Tolerances,
    unreadable: list[Unreadable] | None = None,
    noise: Sequence[str | Path] = (),
) -> list[Delta]:
    """Every row's metrics of NEW judged against BASE. Files that are not valid records go to
    ``unreadable`` (or, without a list, one warning line each on stderr); the rest is compared.
    ``noise``: folders of repeated runs of one code (an A/A pass) whose rows' spread joins the
    seeds' when a tolerance is set from the noise."""
    base = _by_key(load_groups(base_path, unreadable))
    new = _by_key(load_groups(new_path, unreadable))
    noisy: dict[tuple, list[Group]] = {}
    for folder in noise:
        for key, group in _by_key(load_groups(folder, unreadable)).items():
            noisy.setdefault(key, []).append(group)
    deltas = []
    for key in sorted(base):
        name = " / ".join(key)
        b, n = base[key], new.get(key)
        if n is None:
            deltas.append(Delta(name, "-", verdict="missing", note="no records in NEW"))
            continue
        if not n.ok:
            deltas.append(Delta(name, "status", verdict="REGRESSION", note=f"all {len(n.records)} runs failed in NEW"))
            continue
        config_note = "" if b.config == n.config else "config differs: " + _config_diff(b.config, n.config)
        code = _code_diff(b, n)
        if code not in ("", "?"):
            config_note = _join(config_note, f"code differs: {code}")
        first = len(deltas)
        busy = contention(b, n)
        # A restorer's iterations_per_s is both a metric and a measured rate: compared once.
        for metric in dict.fromkeys([*b.metric_names(), *b.throughput_names()]):
            bv, nv = samples(b, metric), samples(n, metric)
            if not bv:
                continue
            if not nv:
                deltas.append(Delta(name, metric, bv, verdict="REGRESSION", note="metric missing in NEW"))
                continue
            se = standard_error(b.values(metric), n.values(metric), *[g.values(metric) for g in noisy.get(key, [])])
            deltas.append(_judge(name, b.metric(metric), bv, nv, tolerances, config_note, se))
            if b.metric(metric).kind == THROUGHPUT and unreliable(deltas[-1], busy):
                deltas[-1].verdict = "unreliable"
                deltas[-1].note = _join(
                    deltas[-1].note, f"loaded machine ({busy:.1f}x its CPUs): throughput unreliable"
                )
        mark_what_changed(deltas[first:], b, n)
        for d in deltas[first:]:
            d.code = code
    for key in sorted(set(new) - set(base)):
        deltas.append(Delta(" / ".join(key), "-", verdict="new", note="not in BASE"))
    return deltas


def standard_error(base: list[float], new: list[float], *more: list[float]) -> float | None:
    """The standard error of mean(new) - mean(base), one value per run (seed) on each side, the
    variance pooled over every sample of the same code with two values or more (``more``: an A/A
    pass); None when none has."""
    spread = [s for s in (base, new, *more) if len(s) > 1]
    if not spread or not base or not new:
        return None
    pooled = statistics.fmean(statistics.variance(s) for s in spread)
    return math.sqrt(pooled * (1 / len(base) + 1 / len(new)))


def _judge(name: str, m: Metric, bv, nv, tolerances: Tolerances, note: str, se=None) -> Delta:
    """``m``'s verdict: direction and kind (absolute or relative tolerance, which test) from the
    metric table (:mod:`bench.metric_table`)."""
    metric, kind, higher = m.name, m.kind, m.higher_is_better
    bm, nm = statistics.fmean(bv), statistics.fmean(nv)
    drop = (bm - nm) if higher else (nm - bm)
    allowed = tolerances.allowed(metric, kind, bm, se)
    delta = Delta(name, metric, bv, nv, note=note)
    if drop > allowed:
        delta.p_value = p_worse(bv, nv, kind, higher)
        if delta.p_value is None:
            delta.verdict = "REGRESSION"
            delta.note = _join(note, "one sample: tolerance alone")
        elif delta.p_value < tolerances.alpha:
            delta.verdict = "REGRESSION"
        else:
            delta.verdict = "noise"
            delta.note = _join(note, "past the tolerance but within the spread of the samples")
    elif -drop > allowed:
        p = p_worse(nv, bv, kind, higher)  # the same test the other way round
        delta.p_value = p
        delta.verdict = "better" if p is None or p < tolerances.alpha else "ok"
    return delta


def contention(*groups: Group) -> float:
    """How many times over the busiest run of these rows had its CPUs taken: its load average
    (runnable processes over the last minute, at its start or end) per CPU, at least 1. A rate
    measured so may be slowed by up to that factor by the other processes alone."""
    worst = 1.0
    for group in groups:
        for record in group.ok:
            load, cpus = record.environment.get("load_average"), record.environment.get("cpu_count")
            if isinstance(load, dict) and isinstance(cpus, int) and cpus > 0:
                values = [v for v in load.values() if isinstance(v, (int, float))]
                worst = max(worst, *(v / cpus for v in values))
    return worst


def unreliable(delta: Delta, busy: float) -> bool:
    """Whether a throughput's change is within what a machine ``busy`` times over explains
    (``bench ab`` pairs runs made under the same load instead)."""
    base_mean, new_mean = delta.base_mean, delta.new_mean
    if busy <= 1 or base_mean is None or new_mean is None or delta.verdict not in ("REGRESSION", "better"):
        return False
    ratio = new_mean / base_mean if base_mean > 0 else math.inf
    return 1 / busy <= ratio <= busy


def mark_what_changed(deltas: list[Delta], base: Group, new: Group) -> None:
    """Beside each regression, the one-line summary of ``bench diff`` between the two rows."""
    if any(d.verdict == "REGRESSION" for d in deltas):
        from bench.diff import diff_groups

        what = diff_groups(base, new).summary()
        for d in deltas:
            if d.verdict == "REGRESSION":
                d.note = _join(d.note, f"what changed: {what}")


def _join(a: str, b: str) -> str:
    return f"{a}; {b}" if a else b


def _by_key(groups: list[Group]) -> dict[tuple[str, str, str, str], Group]:
    # Budget is not part of the key: a changed budget must show up as a change. Two budgets of one
    # row in one folder: the last (in load_groups' order) stands for it.
    return dict(zip(row_keys(groups), groups))


def _code_diff(base: Group, new: Group) -> str:
    """The parts of the code (``bench.identity.PARTS``) that made BASE's finished records and not
    NEW's, as words; "" when the same code made both, "?" when a record does not say."""
    from bench import identity

    made: list[list[Any]] = [[r.code_identity for r in g.ok] for g in (base, new)]
    if not all(isinstance(c, dict) for side in made for c in side):
        return "?"
    parts = [
        p
        for p in identity.PARTS
        if len(
            {json.dumps(c.get(p), sort_keys=True) for c in made[0]}
            ^ {json.dumps(c.get(p), sort_keys=True) for c in made[1]}
        )
    ]
    return identity.describe(parts)


def _config_diff(a: RowConfig, b: RowConfig) -> str:
    diffs = []
    for section in ("budget", "params", "options"):
        da, db = getattr(a, section), getattr(b, section)
        for k in sorted(set(da) | set(db)):
            if da.get(k) != db.get(k):
                diffs.append(f"{k} {da.get(k)} -> {db.get(k)}")
    return ", ".join(diffs)


def _spread(values: list[float]) -> str:
    if not values:
        return "-"
    mean = statistics.fmean(values)
    digits = 0 if abs(mean) >= 1000 else 2
    text = f"{mean:,.{digits}f}"
    if len(values) > 1:
        text += f" ± {statistics.stdev(values):,.{digits}f}"
    return f"{text} (n={len(values)})"


DELTA_COLUMNS = ["run", "metric", "base", "new", "change", "p", "verdict", "note"]


def delta_cells(d: Delta) -> list[str]:
    """One line of the comparison, as text: the columns of :data:`DELTA_COLUMNS`."""
    change = ""
    base_mean, new_mean = d.base_mean, d.new_mean
    if base_mean is not None and new_mean is not None:
        diff = new_mean - base_mean
        change = f"{diff:+,.2f}" + (f" ({diff / abs(base_mean):+.1%})" if base_mean else "")
    p = "" if d.p_value is None else f"{d.p_value:.3g}"
    return [d.name, d.metric, _spread(d.base), _spread(d.new), change, p, d.verdict, d.note]


def render_deltas(deltas: list[Delta], tolerances: Tolerances) -> str:
    rows = [delta_cells(d) for d in deltas]
    table = tabulate(rows, headers=DELTA_COLUMNS, tablefmt="simple", disable_numparse=True)
    regressions = sum(d.verdict == "REGRESSION" for d in deltas)
    verdict = f"{regressions} regression(s)" if regressions else "no regressions"
    return f"{table}\n\n{tolerances.describe()}\n{_code_lines(deltas)}{verdict}\n"


def _code_lines(deltas: list[Delta]) -> str:
    """A line when BASE and NEW records were made by different code, one when it is not known."""
    rows: dict[str, str] = {d.name: d.code for d in deltas if d.code}
    differ = sorted({code for code in rows.values() if code != "?"})
    lines = ""
    if differ:
        n = sum(code != "?" for code in rows.values())
        lines += (
            f"BASE and NEW records were made by different code in {n} row(s): "
            f"{'; '.join(c + ' code differs' for c in differ)} (see the notes)\n"
        )
    unknown = sum(code == "?" for code in rows.values())
    if unknown:
        lines += (
            f"{unknown} row(s) have records made before code identity was recorded: "
            f"whether the code differs is not known\n"
        )
    return lines
