"""A leaderboard row's shape: what :func:`bench.report.leaderboard` builds and every reader (the
tables, ``bench table --format json``, the report's site, ``--per-image``) reads by attribute.

A :class:`Row` is one configuration of a table; each of its metrics a :class:`Summary` of the
values over seeds (and folds, under a label budget); its rank within the table rests on a
:class:`RankTest` against the table's best. ``to_dict`` gives the JSON of ``bench table --format
json``: these fields, in this order.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from bench import stats


@dataclass(frozen=True, slots=True)
class Summary:
    """A mean over seeds as a row holds it: mean, sample std (None for one value; a row's training
    seconds show none), n, the values, and the t-based confidence interval of the mean at
    ``ci_level`` (None for one value)."""

    mean: float
    std: float | None
    n: int
    values: tuple[float, ...]
    ci: tuple[float, float] | None
    ci_level: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "mean": self.mean,
            "std": self.std,
            "n": self.n,
            "values": list(self.values),
            "ci": list(self.ci) if self.ci else None,
            "ci_level": self.ci_level,
        }


def summarize(values: list[float]) -> Summary:
    """The :class:`Summary` of one or more values, its interval at :data:`bench.stats.LEVEL`."""
    if not values:
        raise ValueError("a summary needs at least one value")
    ci = stats.t_interval(values)
    return Summary(
        mean=statistics.fmean(values),
        std=statistics.stdev(values) if len(values) > 1 else None,
        n=len(values),
        values=tuple(values),
        ci=ci,
        ci_level=stats.LEVEL,
    )


#: The test of a table's best row (against itself: no p-value).
BEST = "best"


@dataclass(frozen=True, slots=True)
class RankTest:
    """What a row's rank rests on: ``test`` (:data:`BEST` for the table's best, else the
    :mod:`bench.stats` test's name) of ``metric`` against the best, its p-value and the
    Holm-corrected one (None: not testable), over ``n`` seeds or images (None for the best)."""

    metric: str
    test: str
    p: float | None
    p_holm: float | None
    n: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"metric": self.metric, "test": self.test, "p": self.p, "p_holm": self.p_holm}
        if self.n is not None:  # the best's has none
            out["n"] = self.n
        return out


@dataclass(frozen=True, slots=True)
class Row:
    """One configuration of a leaderboard: its identity, its seeds and runs, each metric's
    :class:`Summary`, why it is stale and its marks, the records it is made of (their keys, ok and
    failed), the labels its method declared for its own rates, its label in the table and its rank
    there (``"1"``, ``"1="``, ``"3"``; ``"-"`` without the ranking metric) with the test behind it."""

    suite: str
    dataset: str
    protocol: str
    method: str
    budget: str  # the budget as a table shows it ("epochs=3")
    seeds: tuple[int, ...]
    folds: tuple[int, ...]  # a label budget's split seeds (the field's folds); () without a budget
    runs_ok: int
    runs_failed: int
    device: str
    setting: str  # what splits a protocol's rows into tables ("sr x2"), or ""
    labels: str  # the label budget ("4/class", "1%", "all")
    features: str  # the read-out the host chose, or ""
    metrics: dict[str, Summary]
    stale: tuple[str, ...]
    marks: tuple[str, ...]
    records: tuple[str, ...]
    headers: dict[str, str]  # a method's own rate -> the label it declared
    label: str
    rank: str = "-"
    rank_test: RankTest | None = None

    @property
    def replicates(self) -> str:
        """How many values each cell's mean is over, as a table shows it: ``3`` seeds, or under a
        label budget ``1 × 3`` (seeds × folds)."""
        return f"{len(self.seeds)} × {len(self.folds)}" if self.folds else f"{len(self.seeds)}"

    @property
    def table_key(self) -> tuple[str, str, str, str]:
        """Which table the row is in: suite, dataset, protocol and setting."""
        return self.suite, self.dataset, self.protocol, self.setting

    def to_dict(self) -> dict[str, Any]:
        """The row as ``bench table --format json`` writes it."""
        return {
            "suite": self.suite,
            "dataset": self.dataset,
            "protocol": self.protocol,
            "method": self.method,
            "budget": self.budget,
            "seeds": list(self.seeds),
            "folds": list(self.folds),
            "runs_ok": self.runs_ok,
            "runs_failed": self.runs_failed,
            "device": self.device,
            "setting": self.setting,
            "labels": self.labels,
            "features": self.features,
            "metrics": {name: summary.to_dict() for name, summary in self.metrics.items()},
            "stale": list(self.stale),
            "marks": list(self.marks),
            "records": list(self.records),
            "headers": dict(self.headers),
            "label": self.label,
            "rank": self.rank,
            "rank_test": self.rank_test.to_dict() if self.rank_test else None,
        }
