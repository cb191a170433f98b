"""The statistics behind the leaderboards: intervals, tied ranks, paired per-image tests, average
ranks with a critical difference. Pure functions of lists of numbers (scipy underneath).

- :func:`t_interval`: a mean over seeds with its t-based confidence interval. Seeds are few (3 to
  5), so a bootstrap would only resample the same handful of values; the t interval is exact for
  normal per-seed values and says honestly how wide few seeds leave it.
- :func:`versus_best`: is a row's difference from the best row significant? A paired t-test on
  the per-seed differences when both rows ran the same seeds (seed ``s`` of both shares its split
  and initial draw, so the pairing removes that variance), Welch's t-test otherwise (no equal
  variances assumed).
- :func:`holm`: Holm's step-down correction of the comparisons of one table, so the chance of
  calling any tie wrongly broken stays at the level however many rows a table has.
- :func:`paired_images`: two methods on the same degraded images, paired by image: the
  Wilcoxon signed-rank test (see its docstring for why) and wins / ties / losses.
- :func:`average_ranks` and :func:`critical_difference`: Demšar (2006): methods ranked on each
  dataset, ranks averaged; two methods differ when their average ranks differ by more than the
  Nemenyi critical difference.
"""

from __future__ import annotations

import math
import statistics
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: The level of every interval and test of the tables and the report.
LEVEL = 0.95
ALPHA = 1 - LEVEL


def t_interval(values: list[float], level: float = LEVEL) -> tuple[float, float] | None:
    """The t-based confidence interval of the mean of ``values`` (n - 1 degrees of freedom), or
    None for fewer than two values (no spread, no interval)."""
    from scipy import stats

    n = len(values)
    if n < 2:
        return None
    mean = statistics.fmean(values)
    half = stats.t.ppf((1 + level) / 2, n - 1) * statistics.stdev(values) / math.sqrt(n)
    return mean - half, mean + half


@dataclass(frozen=True)
class Test:
    """One comparison's outcome: the p-value (None: not testable) and the test's name."""

    p: float | None
    name: str


PAIRED_T = "paired t-test by seed"
#: Under a label budget a row's values are keyed by seed and fold (the split seed).
PAIRED_T_FOLDS = "paired t-test by seed and fold"
WELCH = "Welch's t-test"
WILCOXON = "Wilcoxon signed-rank test by image"


def versus_best(best: Mapping[Any, float], other: Mapping[Any, float], paired: str = PAIRED_T) -> Test:
    """Two-sided test of "``other``'s mean differs from ``best``'s", each a value per seed (or
    per image, keyed so): paired when both have the same keys (at least two), Welch otherwise;
    ``paired`` names the paired test after its keys (:data:`PAIRED_T`, :data:`PAIRED_T_FOLDS`)."""
    from scipy import stats

    if len(best) < 2 or len(other) < 2:
        return Test(None, "not tested (one value)")
    if best.keys() == other.keys():
        keys = sorted(best, key=str)
        diffs = [best[k] - other[k] for k in keys]
        if _constant(diffs):
            return Test(1.0 if abs(diffs[0]) <= _tiny(diffs) else 0.0, paired)
        return Test(float(stats.ttest_rel([best[k] for k in keys], [other[k] for k in keys]).pvalue), paired)
    a, b = list(best.values()), list(other.values())
    if _constant(a) and _constant(b):
        return Test(1.0 if abs(a[0] - b[0]) <= _tiny(a + b) else 0.0, WELCH)
    with warnings.catch_warnings():  # one side without spread is fine for Welch; scipy warns anyway
        warnings.filterwarnings("ignore", "Precision loss", RuntimeWarning)
        return Test(float(stats.ttest_ind(a, b, equal_var=False).pvalue), WELCH)


def _tiny(values: list[float]) -> float:
    return 1e-9 * max(1.0, *(abs(v) for v in values))


def _constant(values: list[float]) -> bool:
    return max(values) - min(values) <= _tiny(values)


def holm(pvalues: list[float]) -> list[float]:
    """Holm's adjusted p-values, in the order given: the i-th smallest is multiplied by
    (m - i + 1), then made monotone; a comparison is significant when its adjusted p < alpha."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    adjusted, running = [0.0] * m, 0.0
    for step, i in enumerate(order):
        running = max(running, min(1.0, (m - step) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def rank_labels(tied: list[bool | None]) -> list[str]:
    """Rank column of rows sorted best first: ``tied[i]`` says whether row i is not significantly
    different from row 0 (None: not tested). The best is "1", rows tied with it "1=", every other
    row its position ("3"), as competition ranking writes ties."""
    return ["1" if i == 0 else "1=" if tie else str(i + 1) for i, tie in enumerate(tied)]


# -- paired per-image comparisons ----------------------------------------------------------------------


@dataclass(frozen=True)
class Paired:
    """A method against a reference method on the same images (``reference - method`` > 0 is the
    reference better, for a higher-is-better metric)."""

    n: int
    wins: int  # images where the method beats the reference by more than the tie margin
    ties: int
    losses: int
    median_difference: float  # method - reference, in the metric's unit
    p: float | None  # Wilcoxon signed-rank, two-sided; None: fewer than two images that differ
    smallest_p: float  # the smallest p the test can give with this many images


def paired_images(
    reference: list[float], method: list[float], tie_margin: float, higher_is_better: bool = True
) -> Paired:
    """Compare ``method`` with ``reference`` image by image (same order, same degraded inputs).

    Why the Wilcoxon signed-rank test and not a paired t-test: a set's images differ wildly (a
    flat sky, a textured baboon), and so do the per-image gains of one method over another; with
    5 or 12 images normality cannot be checked and one image where a method fails would dominate
    a t-test's mean. The signed-rank test assumes only differences symmetric about their median
    and is exact for small sets. Its price: with n images the smallest two-sided p is 2 / 2^n
    (0.0625 for Set5's five), which :attr:`Paired.smallest_p` reports. Images whose difference is
    within ``tie_margin`` (the table's rounding) count as ties.
    """
    from scipy import stats

    sign = 1 if higher_is_better else -1
    diffs = [sign * (m - r) for r, m in zip(reference, method, strict=True)]
    wins = sum(d > tie_margin for d in diffs)
    losses = sum(d < -tie_margin for d in diffs)
    n = len(diffs)
    p = None
    if sum(d != 0 for d in diffs) >= 2:
        with warnings.catch_warnings():  # scipy warns that exact p-values are unavailable with ties
            warnings.simplefilter("ignore", UserWarning)
            p = float(stats.wilcoxon(method, reference, zero_method="wilcox").pvalue)
    return Paired(
        n=n,
        wins=wins,
        ties=n - wins - losses,
        losses=losses,
        median_difference=sign * statistics.median(diffs) if diffs else 0.0,
        p=p,
        smallest_p=min(1.0, 2 / 2**n) if n else 1.0,
    )


# -- ranks across datasets (Demšar 2006) ---------------------------------------------------------------


def average_ranks(scores: list[list[float]], higher_is_better: bool = True) -> list[float]:
    """``scores[d][k]``: method k's score on dataset d. Rank the methods on each dataset (1 =
    best, ties share the average of their ranks) and average over datasets."""
    from scipy import stats

    k = len(scores[0])
    totals = [0.0] * k
    for row in scores:
        ranks = stats.rankdata([-s if higher_is_better else s for s in row])
        totals = [t + r for t, r in zip(totals, ranks)]
    return [float(t) / len(scores) for t in totals]


def critical_difference(k: int, n_datasets: int, alpha: float = ALPHA) -> float:
    """Nemenyi's critical difference for ``k`` methods on ``n_datasets`` datasets (Demšar 2006,
    eq. 5): q_alpha * sqrt(k (k + 1) / (6 N)), with q_alpha the studentized range quantile for k
    groups and infinite degrees of freedom, divided by sqrt(2)."""
    from scipy import stats

    if k < 2:
        return 0.0
    q = stats.studentized_range.ppf(1 - alpha, k, math.inf) / math.sqrt(2)
    return float(q * math.sqrt(k * (k + 1) / (6 * n_datasets)))


def friedman_p(scores: list[list[float]]) -> float | None:
    """Friedman's test that all methods rank alike (None: fewer than 3 methods or 2 datasets)."""
    from scipy import stats

    if len(scores) < 2 or len(scores[0]) < 3:
        return None
    columns = list(zip(*scores))
    if all(len(set(row)) == 1 for row in scores):
        return 1.0
    return float(stats.friedmanchisquare(*columns).pvalue)
