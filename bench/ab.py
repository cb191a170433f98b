"""`bench ab SUITE --base-python PY`: one suite on two code versions in one job, gated on pairs.

Two folders made on different days on a shared machine mostly measure the machine. Here BASE (the
``bench`` of another environment, e.g. a pull request's base installed in a second virtual
environment) and NEW (this one, or ``--new-python``) run the same suite seed by seed, interleaved
A B B A A B ... (so a drift of the machine within the job falls on both sides alike), each run a
``python -m bench run SUITE --seeds S`` of its own into ``OUT/base`` and ``OUT/new``.

The gate works on **pairs**: a seed's run of BASE against the same seed's run of NEW, made
minutes apart under about the same load. A quality metric's drop is the mean of the per-pair
differences; a throughput's is one minus the geometric mean of the per-pair ratios NEW / BASE.
A drop is a regression when it is past the tolerance AND a one-sided paired t-test (on the
differences, on the log ratios for throughput) gives p < alpha; with one pair the tolerance alone
decides. A tolerance left to the noise is three standard errors of the mean drop over the pairs
(for a throughput at least 5%). A row flagged so is run again with ``--more-seeds`` further seeds on both sides
(interleaved the same way) and judged again on all its pairs: only a flag that survives fails.
"""

from __future__ import annotations

import math
import statistics
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.compare import Delta, Tolerances
from bench.metric_table import is_rate
from bench.report import Group, load_groups, row_keys

SIDES = ("base", "new")


@dataclass
class Side:
    name: str  # base or new
    python: str  # the interpreter whose environment has that side's bench installed


def order(index: int) -> tuple[str, str]:
    """Which side runs first for the ``index``-th seed: A B, B A, A B, ... (ABBA)."""
    return SIDES if index % 2 == 0 else SIDES[::-1]


def run_interleaved(
    sides: dict[str, Side], suite: str, out: Path, seeds: list[int], extra: list[str], say: Callable[[str], None]
) -> None:
    """Each seed on both sides, alternating which goes first; a failed run is recorded as failed
    in its folder (``bench run`` exits 1) and the job goes on."""
    for i, seed in enumerate(seeds):
        for name in order(i):
            say(f"{name} seed {seed}")
            command = [sides[name].python, "-m", "bench", "run", suite, "--seeds", str(seed)]
            subprocess.run([*command, "--results-dir", str(out / name), "--quiet", *extra], check=False)


def paired(base: Group, new: Group, metric: str) -> list[tuple[float, float]]:
    """(BASE, NEW) values of ``metric`` for each seed both rows finished."""
    values = [{s: v for s, v in zip(g.seeds, _per_seed(g, metric)) if v is not None} for g in (base, new)]
    return [(values[0][s], values[1][s]) for s in sorted(set(values[0]) & set(values[1]))]


def _per_seed(group: Group, metric: str) -> list[float | None]:
    out = []
    for seed in group.seeds:
        one = Group(group.suite, group.dataset, group.protocol, group.method, group.config)
        one.records = [r for r in group.ok if r.spec["seed"] == seed]
        values = one.values(metric)
        out.append(values[0] if values else None)
    return out


def judge_pairs(name: str, metric: str, pairs: list[tuple[float, float]], info: dict, tol: Tolerances) -> Delta:
    """The verdict on one metric of one row from its (BASE, NEW) pairs (see the module's docstring)."""
    pairs = [(b, n) for b, n in pairs if b is not None and n is not None]
    delta = Delta(name, metric, [b for b, _ in pairs], [n for _, n in pairs])
    if not pairs:
        delta.verdict, delta.note = "missing", "no seed finished on both sides"
        return delta
    throughput = info["kind"] == "throughput" or is_rate(metric)
    sign = 1 if info["higher_is_better"] else -1
    if throughput:
        if any(b <= 0 or n <= 0 for b, n in pairs):
            delta.note = "a rate of zero: not judged"
            return delta
        drops = [-sign * math.log(n / b) for b, n in pairs]  # > 0: NEW worse
        size = 1 - math.exp(-statistics.fmean(drops))
        allowed = tol.allowed(metric, "throughput", 1.0, _se(drops))  # log ratios: relative, as the tolerance
    else:
        drops = [sign * (b - n) for b, n in pairs]
        size = statistics.fmean(drops)
        allowed = tol.allowed(metric, "quality", statistics.fmean(b for b, _ in pairs), _se(drops))
    delta.p_value = _p_positive(drops)
    delta.note = f"{len(pairs)} pairs"
    if size > allowed:
        if delta.p_value is None:
            delta.verdict, delta.note = "REGRESSION", f"{delta.note}; one pair: tolerance alone"
        elif delta.p_value < tol.alpha:
            delta.verdict = "REGRESSION"
        else:
            delta.verdict, delta.note = "noise", f"{delta.note}; past the tolerance but within the pairs' spread"
    elif -size > allowed and (p := _p_positive([-d for d in drops])) is not None and p < tol.alpha:
        delta.verdict = "better"
    return delta


def _se(values: list[float]) -> float | None:
    """The standard error of the mean of the per-pair drops (the noise a tolerance of None is set from)."""
    return statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else None


def _p_positive(values: list[float]) -> float | None:
    """One-sided p of "the mean of ``values`` is above 0" (a paired t-test); None with one value."""
    if len(values) < 2:
        return None
    mean, sd = statistics.fmean(values), statistics.stdev(values)
    scale = 1e-12 * max(1.0, *(abs(v) for v in values))
    if sd <= scale:
        return 0.0 if mean > scale else 1.0
    from scipy import stats

    return float(stats.t.sf(mean / (sd / math.sqrt(len(values))), df=len(values) - 1))


def gate(out: Path, tol: Tolerances) -> list[Delta]:
    """Every row both sides ran under ``out``, each metric judged on its pairs."""
    groups = {side: dict(zip(row_keys(gs), gs)) for side in SIDES for gs in [load_groups(out / side)]}
    deltas = []
    for key, base in groups["base"].items():
        name = " / ".join(key)
        new = groups["new"].get(key)
        if new is None or not new.ok:
            deltas.append(Delta(name, "-", verdict="REGRESSION", note="no finished run in NEW"))
            continue
        for metric in [*base.metric_names(), *base.throughput_names()]:
            if base.values(metric):
                deltas.append(judge_pairs(name, metric, paired(base, new, metric), base.metric_info(metric), tol))
    return deltas


def flagged_rows(deltas: list[Delta], out: Path) -> list[str]:
    """``--only`` texts (``dataset / method``) that select the runs of the rows with a regression."""
    names = {d.name for d in deltas if d.verdict == "REGRESSION"}
    groups = load_groups(out / "base")
    return sorted({f"{g.dataset} / {g.method}" for key, g in zip(row_keys(groups), groups) if " / ".join(key) in names})


def main(args, tol: Tolerances, say: Callable[[str], None] = print) -> tuple[list[Delta], list[str]]:
    """Run, gate, re-run the flagged rows with more seeds and gate again. Returns the final
    verdicts and the rows that were re-run."""
    out = Path(args.results_dir)
    sides = {"base": Side("base", args.base_python), "new": Side("new", args.new_python or sys.executable)}
    extra = [*sum((["--only", t] for t in args.only), []), *_passed(args)]
    run_interleaved(sides, args.suite, out, args.seeds, extra, say)
    deltas = gate(out, tol)
    rerun = flagged_rows(deltas, out) if args.more_seeds else []
    if rerun:
        more = list(range(max(args.seeds) + 1, max(args.seeds) + 1 + args.more_seeds))
        say(f"{len(rerun)} flagged row(s): running seeds {more} of {', '.join(rerun)} on both sides")
        only = [*sum((["--only", t] for t in rerun), []), *_passed(args)]
        run_interleaved(sides, args.suite, out, more, only, say)
        deltas = gate(out, tol)
    return deltas, rerun


def _passed(args) -> list[str]:
    """The ``bench run`` options given to ``bench ab`` that both sides get."""
    out = []
    for option, value in (("--budget-scale", args.budget_scale), ("--data-dir", args.data_dir)):
        if value is not None:
            out += [option, str(value)]
    return out + (["--offline"] if args.offline else [])
