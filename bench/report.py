"""Leaderboards built from result records alone (comparisons: ``bench.compare``).

Records are grouped by configuration (suite, dataset, protocol, method, params, budget); a
group's value of a metric is the mean over its seeds, with the sample standard deviation as
spread. Throughput figures are the records' warm, synchronized medians.

A restoration set split into runs of some of its images each (protocol option ``images``, so a
CPU can do a long method image by image and resume) is one configuration: its runs are shards of
one row, each seed's figures weighted by the images its shards restored. The row names the images
it covers unless they are the images of a run of the whole set beside it (then it joins that
run's table).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from tabulate import tabulate

from bench import accel, costs, metric_table, stats
from bench.metric_table import QUALITY, Metric, is_rate, ordered, ranking
from bench.protocols import named_setting
from bench.records import Record, Unreadable, iter_records
from bench.rows import BEST, RankTest, Row, Summary, summarize

#: The rates the host measures (:mod:`bench.metric_table`); a method's own (``ctx.measure`` /
#: ``ctx.timed``) come with the label and unit it declared (:func:`bench.rate`), carried by the record.
THROUGHPUTS = tuple(name for name in metric_table.METRICS if is_rate(name))


@dataclass(frozen=True, slots=True)
class RowConfig:
    """What sets a row apart from its table's others: params, budget, protocol options (a shard's
    images and a label budget's folds merged) and how it ran (``bench.accel.run_as``)."""

    params: dict
    budget: dict
    options: dict
    run_as: str

    @property
    def text(self) -> str:
        """The configuration as one JSON text: rows sort by it and two equal ones are one row."""
        return json.dumps(
            {"params": self.params, "budget": self.budget, "options": self.options, "run_as": self.run_as},
            sort_keys=True,
        )


@dataclass
class Group:
    suite: str
    dataset: str
    protocol: str
    method: str
    config: RowConfig
    records: list[Record] = field(default_factory=list)
    images: tuple[str, ...] = ()  # the images a sharded row covers, named in its setting; (): the whole set

    @property
    def ok(self) -> list[Record]:
        return [r for r in self.records if r.ok]

    @property
    def seeds(self) -> list[int]:
        return sorted({r.spec["seed"] for r in self.ok})

    @property
    def folds(self) -> list[int]:
        """A label budget's split seeds that its successful runs used; [] without a budget."""
        return sorted({fold for _, fold in map(_seed_and_fold, self.ok) if fold is not None})

    def values(self, metric: str) -> list[float]:
        """One value per successful seed (and fold, under a label budget): a quality metric or a
        throughput median."""
        return list(self.by_seed(metric).values())

    def by_seed(self, metric: str) -> dict[tuple, float]:
        """(seed, fold) -> its value of ``metric`` (the fold is a label budget's split seed). A seed
        run in shards gives one value: its shards' weighted by their images (a rate: images over
        the time they took, so a big image's slow run counts for its time)."""
        by_seed: dict[tuple, list[tuple[int, float]]] = {}
        for r in self.ok:
            value = _figure(r, metric)
            if value is not None:
                by_seed.setdefault(_seed_and_fold(r), []).append((max(len(r.details["per_image"]), 1), value))
        out = {}
        for seed, figures in by_seed.items():
            total = sum(n for n, _ in figures)
            if len(figures) == 1:
                out[seed] = figures[0][1]
            elif is_rate(metric):
                out[seed] = total / sum(n / v for n, v in figures) if all(v > 0 for _, v in figures) else 0.0
            else:
                out[seed] = sum(n * v for n, v in figures) / total
        return out

    def metric_names(self) -> list[str]:
        names: dict[str, None] = {}
        for r in self.ok:
            names.update(dict.fromkeys(r.metrics))
        return list(names)

    def throughput_names(self) -> list[str]:
        """The host's rates, then the method's own in the order its records give them."""
        own: dict[str, None] = {}
        for r in self.ok:
            own.update(dict.fromkeys(k for k in r.throughput if is_rate(k) and k not in THROUGHPUTS))
        return [*THROUGHPUTS, *own]

    def labels(self) -> dict[str, str]:
        """Header labels a method declared for its own rates (``ctx.measure(..., label=...)``)."""
        out: dict[str, str] = {}
        for r in self.ok:
            for name, figure in r.throughput.items():
                if figure.get("label"):
                    out.setdefault(name, figure["label"])
        return out

    def metric(self, name: str) -> Metric:
        """What ``name`` is (:func:`bench.metric_table.metric`), with what the records say of a
        name the table does not know (a method's declared label)."""
        return metric_table.metric(name, self._recorded_info(name), self.labels().get(name, ""))

    def metric_info(self, name: str) -> dict:
        """The records' ``metric_info`` entry of ``name`` (its convention), its direction, unit
        and kind the table's."""
        recorded = self._recorded_info(name)
        return {**recorded, **self.metric(name).info(recorded.get("convention", ""))}

    def _recorded_info(self, name: str) -> dict:
        return next((r.metric_info[name] for r in self.records if name in r.metric_info), {})

    @property
    def stale(self) -> list[str]:
        """Why finished records of this row were made by other code than is installed now
        (``bench.identity``); empty when every one is current."""
        from bench import identity

        return sorted({reason for r in self.ok if (reason := identity.stale_reason(r))})

    @property
    def device(self) -> str:
        names = sorted({r.environment["device"]["name"] for r in self.ok})
        return ", ".join(names)


def _figure(record: Record, metric: str) -> float | None:
    if metric in record.metrics:
        return record.metrics[metric]
    return record.throughput.get(metric, {}).get("items_per_s") or None


#: What a row can be marked with, shown after its label in ``bench table`` and in the report:
#: name -> whether a group's records earn the mark. A new mark is one entry here.
ROW_MARKS: dict[str, Callable[[Group], bool]] = {
    "stale": lambda group: bool(group.stale),  # made by other code than is installed (bench.identity)
    "diverged": lambda group: any(r.diverged for r in group.ok),  # a loss became NaN or infinite
}


def _config_text(config: RowConfig) -> str:
    if config.options.get("weights") == "random":  # the control: its method's budget was never spent
        return "none (random weights)"
    return " ".join(f"{k}={v}" for k, v in sorted(config.budget.items()))


def load_groups(path: str | Path, unreadable: list[Unreadable] | None = None) -> list[Group]:
    """The records under ``path`` by configuration; files that are not valid records go to
    ``unreadable`` (or, without a list, one warning line each on stderr)."""
    return group_records(record for _, record in iter_records(path, unreadable))


def _shard(spec: dict) -> list[str] | None:
    """The images a restoration run was restricted to (option ``images``); None: the whole set."""
    images = spec["protocol_options"].get("images") if spec["protocol"] == "restore" else None
    if not images:
        return None
    return [str(i) for i in (images if isinstance(images, list) else [images])]


def group_records(records: Iterable[Record]) -> list[Group]:
    groups: dict[tuple, Group] = {}
    for record in records:
        spec = record.spec
        options = spec["protocol_options"]
        if _shard(spec) is not None:  # one row for all of a set's shards; "sharded" keeps a whole-set run apart
            options = {k: v for k, v in options.items() if k != "images"} | {"sharded": True}
        options = _folds_merged(options)
        config = RowConfig(spec["params"], spec["budget"], options, accel.run_as(record))
        key = (spec["suite"], spec["dataset"], spec["protocol"], spec["method"], config.text)
        group = groups.setdefault(key, Group(spec["suite"], spec["dataset"], spec["protocol"], spec["method"], config))
        # A failed attempt is superseded by a later successful run of the same spec.
        group.records.append(record)
    for group in groups.values():
        by_key: dict[str, Record] = {}
        for r in sorted(group.records, key=lambda r: r.ended_at or ""):
            if r.key not in by_key or not by_key[r.key].ok:
                by_key[r.key] = r
        group.records = list(by_key.values())
    _name_shard_images(list(groups.values()))
    return sorted(groups.values(), key=lambda g: (g.suite, g.dataset, g.protocol, g.method, g.config.text))


def _name_shard_images(groups: list[Group]) -> None:
    """A sharded row names the images it covers, unless they are the images a whole-set row of
    the same table restored (then the two are one table: the split was only how it ran)."""
    whole: dict[tuple, list[set[str]]] = {}
    for g in groups:
        if not g.config.options.get("sharded"):
            restored = {e["image"] for r in g.ok for e in r.details["per_image"]}
            whole.setdefault((g.suite, g.dataset, g.protocol, _setting(g)), []).append(restored)
    for g in groups:
        if g.config.options.get("sharded"):
            covered = {name for r in g.ok for name in _shard(r.spec) or ()}
            if covered not in whole.get((g.suite, g.dataset, g.protocol, _setting(g)), []):
                g.images = tuple(sorted(covered))


def _seed_and_fold(record: Record) -> tuple:
    """What one value of a row stands for: a seed, and under a label budget its fold (split seed)."""
    options = record.spec["protocol_options"]
    return record.spec["seed"], options.get("split_seed") if "labels" in options else None


def _folds_merged(options: dict) -> dict:
    """Under a label budget the split seeds are the field's folds: one row per budget, its spread
    over the folds (as over seeds), so the split seed leaves the row's identity."""
    return {k: v for k, v in options.items() if k != "split_seed"} if "labels" in options else options


def label_budget(options: dict) -> tuple[str, float]:
    """A row's label budget as a table shows it ("4/class", "1%", "all") and a number that sorts it
    (labels per class; a fraction after every count, all labels last)."""
    value = options.get("labels")
    if value is None or value == "all":
        return "all", math.inf
    if isinstance(value, int):
        return f"{value}/class", float(value)
    return f"{100 * value:g}%", 1e9 + value


def fmt(mean: float | None, std: float | None, digits: int | None) -> str:
    """``digits`` decimals; None (throughputs): whole numbers from 100 up, else 3 significant
    digits, so a ZSSR's 0.02 images/s does not print as 0."""
    if mean is None:
        return "-"
    if digits is None:
        size = abs(mean)
        digits = 0 if size >= 100 or size == 0 else min(6, 2 - math.floor(math.log10(size)))
    text = f"{mean:,.{digits}f}"
    return f"{text} ± {std:,.{digits}f}" if std is not None else text


def cell(metric: str, value: Summary | None, say_n: bool = True) -> str:
    """A table cell of a mean over seeds: ``mean ± std`` and, for a quality metric, its confidence
    interval ``[lo, hi]``, or ``(n=1)`` where one seed leaves no spread (``say_n=False``: the
    table's title says so for all its rows). Rates and seconds keep ``mean ± std`` (their
    interval is in ``--format json``/``csv``: a t interval of 3 timings is mostly below zero,
    which says nothing about a rate)."""
    if value is None:
        return "-"
    places = digits(metric)
    text = fmt(value.mean, value.std, places)
    if metric_of(metric).kind != QUALITY:
        return text
    if value.ci:
        lo, hi = value.ci
        return f"{text} [{lo:,.{places}f}, {hi:,.{places}f}]"
    return f"{text} (n=1)" if value.n == 1 and say_n else text


def one_seed(rows: list[Row]) -> bool:
    """Whether every row of a table has one value per metric (one seed, and one fold where a label
    budget's split seeds are the unit): its title says so once, instead of each cell."""
    return all(len(r.seeds) <= 1 and all(v.n <= 1 for v in r.metrics.values()) for r in rows)


def table_note(rows: list[Row]) -> str:
    """What a table's cells are, for its title."""
    if one_seed(rows):
        return ONE_SEED_NOTE
    return FOLDS_NOTE if any(r.folds for r in rows) else TABLE_NOTE


# -- leaderboards -------------------------------------------------------------------------------


def leaderboard(groups: list[Group]) -> list[Row]:
    """One row per configuration: identity, seeds, each metric's mean/std/values, throughput;
    best first within each table, each row ranked there."""
    built = [(_row(g, label), g) for g, label in zip(groups, labels(groups))]
    # Best first within each table (a label budget's rows together, fewest labels first).
    built.sort(key=lambda rg: (*rg[0].table_key, label_budget(rg[1].config.options)[1], _best_first(rg[0])))
    return _rank_tables(built)


def _row(g: Group, label: str) -> Row:
    """A group's row before it is ranked within its table."""
    metrics: dict[str, Summary] = {}
    for metric in [*g.metric_names(), *g.throughput_names()]:
        values = g.values(metric)
        if values:
            metrics[metric] = summarize(values)
    train = [r.timings["train_seconds"] for r in g.ok if r.timings.get("train_seconds")]
    if train:
        metrics["train_seconds"] = dataclasses.replace(summarize(train), std=None)
    for name, values in costs.per_seed(g, _seed_and_fold).items():
        metrics[name] = summarize(values)
    return Row(
        suite=g.suite,
        dataset=g.dataset,
        protocol=g.protocol,
        method=g.method,
        budget=_config_text(g.config),
        seeds=tuple(g.seeds),
        folds=tuple(g.folds),
        runs_ok=len(g.ok),
        runs_failed=len(g.records) - len(g.ok),
        device=g.device,
        setting=_setting(g),
        labels=label_budget(g.config.options)[0],
        features=_features(g),
        metrics=metrics,
        stale=tuple(g.stale),
        marks=tuple(name for name, earned in ROW_MARKS.items() if earned(g)),
        records=tuple(r.key for r in g.records),  # which records make the row (ok and failed)
        headers=g.labels(),
        label=label,
    )


def _setting(g: Group) -> str:
    """What splits a protocol's records into separate tables: for restoration the task and its
    scale / noise level / mask (one table per task and scale) and any image subset."""
    options = g.config.options  # a record's options: any JSON, shown as text
    if g.protocol != "restore":
        return named_setting(g.protocol, options)  # a representation protocol's recipe / probe, when named
    task = str(options.get("task", ""))
    if task == "sr":
        text = f"sr x{options.get('scale')}"
    elif task == "denoise":
        text = f"denoise sigma {_g(options.get('sigma', 0))}" + (
            " clipped" if options.get("noise_clip") == "clip" else ""
        )
    elif task == "inpaint":
        text = "inpaint " + (
            "masks" if options.get("mask") == "dataset" else f"drop {_g(options.get('drop_ratio', 0))}"
        )
    else:
        text = task
    images = options.get("images") or g.images  # a run of some images, or the images a sharded row covers
    if images:
        text += f", images {' '.join(map(str, images if isinstance(images, list | tuple) else [images]))}"
    if options.get("max_images"):
        text += f", first {options['max_images']} images"
    return text


def _g(value) -> str:
    return f"{value:g}" if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


def _features(g: Group) -> str:
    """The read-out the host chose (protocol option feature_sweep), per distinct choice over seeds."""
    chosen = [r.details["features"]["chosen"] for r in g.ok]
    texts = dict.fromkeys(" ".join(f"{k}={v}" for k, v in c.items()) for c in chosen if c)
    return " / ".join(texts)


def labels(groups: list[Group]) -> list[str]:
    """Name each group so rows of one table can be told apart: the method, "(random weights)" for
    the representation protocols' control, and the params that differ between its rows."""
    configs = [g.config for g in groups]
    tables: dict[tuple, list[int]] = {}
    for i, g in enumerate(groups):
        tables.setdefault((g.suite, g.dataset, g.protocol, _setting(g), g.method), []).append(i)
    out = [""] * len(groups)
    for members in tables.values():
        varying = _varying([configs[i] for i in members])
        for i in members:
            label = groups[i].method
            if configs[i].options.get("weights") == "random":
                label += " (random weights)"
            if varying:
                label += " " + " ".join(f"{k}={getattr(configs[i], section).get(k)}" for section, k in varying)
            if len({configs[m].run_as for m in members}) > 1:  # one spec run on two kinds of device
                label += f" [{configs[i].run_as}]"
            out[i] = label
    return out


#: Options a row shows elsewhere, never in its label: the random-weight control, the images of a
#: shard, the label budget (its own column) and the budget's folds (merged into one row).
SHOWN_ELSEWHERE = {"weights", "images", "sharded", "labels", "split_seed"}


def _varying(configs: list[RowConfig]) -> list[tuple[str, str]]:
    """(section, key) of the params, then the protocol options, whose values differ between these
    configurations: what a label must show to tell them apart (``monitor_every=10``)."""
    out = []
    for section in ("params", "options"):
        # The label budget has its own column; a budget row's folds (split seeds) are its spread.
        keys = sorted({k for c in configs for k in getattr(c, section)} - SHOWN_ELSEWHERE)
        out += [(section, k) for k in keys if len(_values_of(configs, section, k)) > 1]
    return out


def _values_of(configs: list[RowConfig], section: str, key: str) -> set[str]:
    """The distinct values of one key; a split seed only where it is set (a budget row has none)."""
    given = [c for c in configs if key in getattr(c, section)] if key == "split_seed" else configs
    return {json.dumps(getattr(c, section).get(key), sort_keys=True) for c in given}


def row_keys(groups: list[Group]) -> list[tuple[str, str, str, str]]:
    """What matches a row across two record sets (``bench compare``, the report's baseline view):
    suite, dataset, protocol with its setting (``restore · sr x2``), and the row's label. Budgets
    are not part of it, so a changed budget shows up as a changed metric; a label budget is (one
    row per budget)."""
    return [
        (g.suite, g.dataset, f"{g.protocol} · {_setting(g)}" if _setting(g) else g.protocol, label + _budget_tag(g))
        for g, label in zip(groups, labels(groups))
    ]


def _budget_tag(g: Group) -> str:
    text = label_budget(g.config.options)[0]
    return "" if text == "all" else f" [labels {text}]"


def _best_first(row: Row) -> float:
    """A row's sort key within its table: its ranking metric, the best first; rows without last."""
    name = ranking(row.metrics)
    if name is None:
        return math.inf
    mean = row.metrics[name].mean
    return -mean if metric_of(name).higher_is_better else mean


# -- tied ranks ------------------------------------------------------------------------------------


def _rank_tables(built: list[tuple[Row, Group]]) -> list[Row]:
    """The rows, each with its rank within its table (``rank``: "1", "1=", "3"; "-" without the
    ranking metric) and the test behind it (``rank_test``)."""
    tables: dict[tuple, list[int]] = {}
    for i, (row, _) in enumerate(built):  # rows under different label budgets are not rivals: ranked per budget
        tables.setdefault((*row.table_key, row.labels), []).append(i)
    ranked = [row for row, _ in built]
    for members in tables.values():
        ranks = _rank([built[i][0] for i in members], [built[i][1] for i in members])
        for i, (rank, test) in zip(members, ranks):
            ranked[i] = dataclasses.replace(ranked[i], rank=rank, rank_test=test)
    return ranked


def _rank(rows: list[Row], groups: list[Group]) -> list[tuple[str, RankTest | None]]:
    """Rows best first: each one's rank and test. Each row is tested against the best on the
    primary metric: by seed (:func:`bench.stats.versus_best`) or, for restoration rows of one seed,
    by image (Wilcoxon signed-rank on the same degraded inputs); the p-values are Holm-corrected
    over the table."""
    out: list[tuple[str, RankTest | None]] = [("-", None)] * len(rows)
    metric = ranking(m for r in rows for m in r.metrics)
    ranked = [i for i, r in enumerate(rows) if metric in r.metrics]
    if metric is None or not ranked:
        return out
    from bench import perimage

    best = ranked[0]
    by_image = _rank_by_image(rows, groups, ranked, metric)
    paired = stats.PAIRED_T_FOLDS if any(r.folds for r in rows) else stats.PAIRED_T
    tests = [
        _image_test(groups[best], groups[i], metric)
        if by_image
        else stats.versus_best(groups[best].by_seed(metric), groups[i].by_seed(metric), paired)
        for i in ranked[1:]
    ]
    adjusted = iter(stats.holm([t.p for t in tests if t.p is not None]))
    tied: list[bool | None] = [None]
    rank_tests = {best: RankTest(metric, BEST, None, None)}
    for i, test in zip(ranked[1:], tests):
        p = None if test.p is None else next(adjusted)
        tied.append(None if p is None else p >= stats.ALPHA)
        n = len(perimage.common_images([groups[best], groups[i]], metric)) if by_image else rows[i].metrics[metric].n
        rank_tests[i] = RankTest(metric, test.name, test.p, p, n)
    for i, label in zip(ranked, stats.rank_labels(tied)):
        out[i] = (label, rank_tests[i])
    return out


def _rank_by_image(rows: list[Row], groups: list[Group], ranked: list[int], metric: str) -> bool:
    """Restoration rows that seeds cannot rank (some have one seed) are ranked by image when they
    restored the same degraded images."""
    from bench import perimage

    if rows[ranked[0]].protocol != "restore" or all(len(rows[i].seeds) >= 2 for i in ranked):
        return False
    members = [groups[i] for i in ranked]
    return perimage.inputs_check(members)[0] and len(perimage.common_images(members, metric)) >= 2


def _image_test(best: Group, other: Group, metric: str) -> stats.Test:
    from bench import perimage

    images = perimage.common_images([best, other], metric)
    a, b = perimage.image_values(best, metric), perimage.image_values(other, metric)
    paired = stats.paired_images([a[i] for i in images], [b[i] for i in images], perimage.TIE_MARGIN.get(metric, 0))
    return stats.Test(paired.p, stats.WILCOXON)


def rank_note(rows: list[Row]) -> str:
    """The footnote of one table's rank column: which test, which correction, which level."""
    tested = [r.rank_test for r in rows if r.rank_test and r.rank_test.test != BEST]
    if not tested:
        return ""
    names = sorted({t.test for t in tested if t.p is not None})
    untested = sum(t.p is None for t in tested)
    text = (
        f'rank by {header(tested[0].metric)}; "1=": not significantly different from the best '
        f"({', '.join(names) or 'no test possible'}; two-sided, Holm-corrected over the table's "
        f"{len(tested)} comparisons, alpha = {stats.ALPHA:g})"
    )
    if untested:
        text += f"; {untested} row(s) not tested (one seed): ranked by mean alone"
    few = min((t.n for t in tested if t.test == stats.WILCOXON and t.n is not None), default=None)
    if few is not None and 2 / 2**few * len(tested) >= stats.ALPHA:
        text += f"; with {few} images the signed-rank test cannot reach alpha after the correction: ties are certain"
    return text


def metric_of(name: str, rows: Iterable[Row] = ()) -> Metric:
    """What a column is: the table's entry (:mod:`bench.metric_table`), or for a method's own rate
    the label it declared, read from the leaderboard ``rows``."""
    declared = next((r.headers[name] for r in rows if name in r.headers), "")
    return metric_table.metric(name, label=declared)


def digits(name: str) -> int | None:
    return metric_of(name).digits


def header(name: str, rows: Iterable[Row] = ()) -> str:
    """A column's header: the table's label, else the label the method declared."""
    return metric_of(name, rows).label


#: What a table's cells are, in its title.
TABLE_NOTE = f"mean ± std over seeds, [{stats.LEVEL:.0%} t-interval of the mean]"
FOLDS_NOTE = TABLE_NOTE.replace("over seeds", "over seeds and folds")
#: The replicates column of a table with label budgets: the run seeds times the budget's folds.
SEEDS_AND_FOLDS = "seeds × folds"
ONE_SEED_NOTE = "one seed per row (n=1): no spread, no interval"

#: After a row's label in tables: some of its records were made by other code than installed now.
STALE_MARK = "[stale]"


def stale_reasons(rows: Iterable[Row]) -> list[str]:
    """Why any of these leaderboard rows are stale, each reason once (what a table's footnote names)."""
    return sorted({reason for row in rows for reason in row.stale})


def stale_note(reasons: list[str]) -> str:
    """The footnote under a table with stale rows (after the marker)."""
    return (
        f"made by other code than is installed now ({'; '.join(reasons)}); "
        f"bench run runs them again (--keep-stale keeps them)"
    )


def render(rows: list[Row], fmt: str = "text") -> str:
    """Leaderboard rows as ``text`` or ``markdown`` tables (one per suite, dataset, protocol and
    setting), ``csv`` (one line per row) or ``json``."""
    if fmt == "json":
        return json.dumps([row.to_dict() for row in rows], indent=2)
    if fmt == "csv":
        return render_csv(rows)
    return render_tables(rows, markdown=fmt == "markdown")


def columns(rows: list[Row]) -> list[str]:
    """The metrics any of ``rows`` has, in the metric table's order."""
    return ordered(m for row in rows for m in row.metrics)


#: The csv's identity columns, each with how a row gives it.
CSV_IDENTITY: dict[str, Callable[[Row], object]] = {
    "suite": lambda row: row.suite,
    "dataset": lambda row: row.dataset,
    "protocol": lambda row: row.protocol,
    "method": lambda row: row.method,
    "setting": lambda row: row.setting,
    "features": lambda row: row.features,
    "labels": lambda row: row.labels,
    "budget": lambda row: row.budget,
    "seeds": lambda row: " ".join(map(str, row.seeds)),
    "folds": lambda row: " ".join(map(str, row.folds)),
    "runs_ok": lambda row: row.runs_ok,
    "runs_failed": lambda row: row.runs_failed,
    "device": lambda row: row.device,
    "rank": lambda row: row.rank,
}


def render_csv(rows: list[Row]) -> str:
    """One line per row: its identity, each metric's mean, std and confidence interval, why stale."""
    metrics = columns(rows)
    out = io.StringIO()
    writer = csv.writer(out)
    stats_columns = [c for m in metrics for c in (f"{m}_mean", f"{m}_std", f"{m}_ci_low", f"{m}_ci_high")]
    writer.writerow([*CSV_IDENTITY, *stats_columns, "stale"])
    for row in rows:
        cells: list[object] = []
        for m in metrics:
            v = row.metrics.get(m)
            if v is None:
                cells += ["", "", "", ""]
            else:
                cells += [v.mean, "" if v.std is None else v.std, *(v.ci or ("", ""))]
        identity = [value(row) for value in CSV_IDENTITY.values()]
        writer.writerow([*identity, *cells, "; ".join(row.stale)])
    return out.getvalue()


def render_tables(rows: list[Row], markdown: bool = False) -> str:
    """One table per suite, dataset, protocol and setting, with its title and footnotes (ranks,
    stale rows); github markdown with ``markdown``, else plain text."""
    tables: dict[tuple, list[Row]] = {}
    for row in rows:
        tables.setdefault(row.table_key, []).append(row)
    metrics = columns(rows)
    blocks = [_table_block(key, members, metrics, markdown) for key, members in tables.items()]
    return "\n\n".join(blocks) + "\n"


def _table_block(key: tuple, rows: list[Row], metrics: list[str], markdown: bool) -> str:
    suite, dataset, protocol, setting = key
    present = [m for m in metrics if any(m in r.metrics for r in rows)]
    chosen = any(r.features for r in rows)  # a column only where the host chose
    budgeted = any(r.labels != "all" for r in rows)  # a column only with budgets
    body = []
    for r in rows:
        seeds = r.replicates + (f" (+{r.runs_failed} failed)" if r.runs_failed else "")
        cells = [cell(m, r.metrics.get(m), say_n=not one_seed(rows)) for m in present]
        label = r.label + "".join(f" [{mark}]" for mark in r.marks)
        features = [r.features or "-"] if chosen else []
        body.append([r.rank, label, *features, *([r.labels] if budgeted else [])])
        body[-1] += [r.budget, seeds, *cells]
    headers = ["rank", "method", *(["features (chosen)"] if chosen else []), *(["labels"] if budgeted else [])]
    headers += [
        "budget",
        SEEDS_AND_FOLDS if any(r.folds for r in rows) else "seeds",
        *[header(m, rows) for m in present],
    ]
    where = f"{protocol} · {setting}" if setting else protocol
    title = f"{suite} · {dataset} · {where}  ({table_note(rows)}; device: {rows[0].device})"
    tablefmt = "github" if markdown else "simple"
    block = (f"### {title}" if markdown else title) + "\n\n"
    block += tabulate(body, headers=headers, tablefmt=tablefmt, disable_numparse=True)
    ranks = rank_note(rows)
    if ranks:
        block += f"\n\n{ranks}"
    reasons = stale_reasons(rows)
    if reasons:
        block += f"\n\n{STALE_MARK} {stale_note(reasons)}"
    return block
