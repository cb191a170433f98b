"""Across the leaderboards of one suite: average ranks and a critical-difference plot (Demšar 2006).

Each leaderboard (a dataset, or a setting of one: Set12 at sigma 15, 25, 50) ranks the methods by
its primary metric; the ranks are averaged over the leaderboards. Two methods whose average ranks
differ by less than the Nemenyi critical difference are not told apart by this many leaderboards;
the plot joins them with a bar. Only methods (row labels) present in every chosen leaderboard
take part: of the suite's leaderboards, the largest set that shares at least two methods.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench import stats
from bench.html.collect import Table
from bench.html.plots import STYLE, Plot, pyplot, save_figure


@dataclass
class SuiteRanks:
    suite: str
    tables: list[Table]
    labels: list[str]  # best average rank first
    average: list[float]
    cd: float
    friedman_p: float | None

    @property
    def cliques(self) -> list[tuple[int, int]]:
        """(first, last) index ranges of methods whose average ranks all lie within the CD; only
        ranges not inside another, and of at least two methods."""
        spans: list[tuple[int, int]] = []
        for i in range(len(self.average)):
            j = i
            while j + 1 < len(self.average) and self.average[j + 1] - self.average[i] < self.cd:
                j += 1
            if j > i and not any(a <= i and j <= b for a, b in spans):
                spans.append((i, j))
        return spans


def _scores(table: Table) -> dict[str, float]:
    metric = table.primary
    return {row.label: row.data.metrics[metric].mean for row in table.rows if metric and metric in row.data.metrics}


def choose(tables: list[Table]) -> tuple[list[Table], list[str]]:
    """The leaderboards and methods to rank: among candidate method sets (each table's, and each
    two tables' shared one), the one shared by the most tables (then the most methods)."""
    scored = [(t, _scores(t)) for t in tables]
    scored = [(t, s) for t, s in scored if len(s) >= 2]
    candidates = {frozenset(s) for _, s in scored}
    candidates |= {frozenset(a) & frozenset(b) for _, a in scored for _, b in scored}
    best: tuple[int, int, frozenset] = (0, 0, frozenset())
    for labels in candidates:
        if len(labels) < 2:
            continue
        n = sum(labels <= set(s) for _, s in scored)
        best = max(best, (n, len(labels), labels), key=lambda b: (b[0], b[1], sorted(b[2])))
    n, _, labels = best
    if n < 2:
        return [], []
    return [t for t, s in scored if labels <= set(s)], sorted(labels)


def suite_ranks(suite: str, tables: list[Table]) -> SuiteRanks | None:
    chosen, labels = choose([t for t in tables if t.suite == suite])
    if not chosen:
        return None
    scores = [[_scores(t)[label] for label in labels] for t in chosen]
    # A chosen table has scores, so a primary metric.
    higher = [t.metric(t.primary).higher_is_better if t.primary else True for t in chosen]
    # Ranks are per table, so each table's direction applies to its own row of scores.
    oriented = [[s if h else -s for s in row] for row, h in zip(scores, higher)]
    average = stats.average_ranks(oriented)
    order = sorted(range(len(labels)), key=lambda i: (average[i], labels[i]))
    return SuiteRanks(
        suite,
        chosen,
        [labels[i] for i in order],
        [average[i] for i in order],
        stats.critical_difference(len(labels), len(chosen)),
        stats.friedman_p(oriented),
    )


def plot(ranks: SuiteRanks, site: Path) -> Plot:
    """Demšar's diagram: an axis of average ranks (1 = best, left), each method's name on a line
    to its rank, the CD as a bar above, methods not told apart joined by thick bars below."""
    k = len(ranks.labels)
    plt = pyplot()
    half = (k + 1) // 2
    with plt.rc_context({**STYLE, "axes.grid": False}):
        fig, ax = plt.subplots(figsize=(6.4, 1.6 + 0.28 * max(half, k - half)))
        ax.set_xlim(0.5, k + 0.5)
        ax.set_ylim(-(max(half, k - half) + 1.5), 1.6)
        ax.axis("off")
        ax.plot([1, k], [0, 0], color="black", lw=1)
        for r in range(1, k + 1):
            ax.plot([r, r], [0, 0.12], color="black", lw=1)
            ax.text(r, 0.22, str(r), ha="center", va="bottom", fontsize=8)
        left_end = min(ranks.cd + 1, k + 0.5)
        ax.plot([1, left_end], [1.0, 1.0], color="#d62728", lw=2)
        ax.text((1 + left_end) / 2, 1.12, f"CD = {ranks.cd:.2f}", ha="center", va="bottom", fontsize=8, color="#d62728")
        for i, (label, rank) in enumerate(zip(ranks.labels, ranks.average)):
            right = i >= half
            depth = -(1 + (k - 1 - i if right else i)) * 0.9
            x_text = k + 0.45 if right else 0.55
            ax.plot([rank, rank, x_text], [0, depth, depth], color="#444444", lw=0.8)
            ax.text(
                x_text,
                depth,
                f"{label} ({rank:.2f})",
                ha="right" if right else "left",
                va="bottom",
                fontsize=8,
            )
        for n, (a, b) in enumerate(ranks.cliques):
            y = -0.35 - 0.18 * n
            ax.plot(
                [ranks.average[a] - 0.03, ranks.average[b] + 0.03], [y, y], color="black", lw=3, solid_capstyle="round"
            )
        ax.set_title(f"{ranks.suite}: average rank over {len(ranks.tables)} leaderboards (1 = best)", fontsize=10)
        fig.tight_layout()
        rel = save_figure(fig, site, f"suite-{ranks.suite}-critical-difference")
    return Plot(
        rel,
        "Critical difference",
        f"average ranks of {k} methods over {len(ranks.tables)} leaderboards; Nemenyi CD {ranks.cd:.2f} "
        f"at alpha {stats.ALPHA:g}; joined: not told apart",
    )
