"""From result records to the report's model: tables of rows, each row with its records, its
published numbers and, against a baseline, its verdicts.

Nothing here computes a number of its own: the rows are :func:`bench.report.leaderboard`'s (mean
and sample std over seeds), the verdicts :func:`bench.compare.compare`'s.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path

from bench import history as _history
from bench.compare import Delta, Tolerances, compare
from bench.metric_table import Metric, ordered, ranking
from bench.paths import bounded_name
from bench.records import PUBLISHED, SUPERSEDED, InvalidRecord, Record, Unreadable, iter_records, list_of
from bench.report import Group, group_records, leaderboard, metric_of, row_keys
from bench.rows import Row as LeaderboardRow
from bench.specs import Published


def slug(*parts: object) -> str:
    """A safe file name (letters, digits and dashes only) from any text, a record's included."""
    text = "-".join(str(p) for p in parts if p != "" and p is not None)
    return bounded_name(re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x", 80)


def inside(root: Path, rel: str | Path) -> Path:
    """``root / rel``, refused unless it stays inside ``root``: every file the site writes is
    named through here, so no record can place one outside the output folder."""
    path = (root / rel).resolve()
    if not path.is_relative_to(root.resolve()) or path == root.resolve():
        raise ValueError(f"{rel}: not a path inside {root}")
    return path


@dataclass
class Row:
    data: LeaderboardRow  # its bench.report.leaderboard row
    group: Group
    key: tuple[str, str, str, str]  # bench.report.row_keys: what bench compare matches
    slug: str
    paths: dict[tuple, Path | None] = field(default_factory=dict)  # record identity -> record file (ok and failed)
    published: dict[str, list[dict]] = field(default_factory=dict)  # metric -> reference numbers
    verdicts: dict[str, Delta] = field(default_factory=dict)  # metric -> bench compare's verdict
    history: RowTrend | None = None  # set by attach_history when older code made records of it too

    @property
    def label(self) -> str:
        return self.data.label

    @property
    def failed(self) -> list[Record]:
        return [r for r in self.group.records if r.status != "ok"]

    def records(self) -> list[tuple[Record, Path | None]]:
        """The row's records, ok and failed, by seed."""
        out = [(r, self.paths.get(_identity(r))) for r in self.group.records]
        return sorted(out, key=lambda rp: (rp[0].spec["seed"], not rp[0].ok))


@dataclass
class Table:
    suite: str
    dataset: str
    protocol: str
    setting: str
    rows: list[Row]
    slug: str
    gallery: str = ""  # the page of its images (bench.html.gallery), relative to the site's root

    @property
    def title(self) -> str:
        return " · ".join(p for p in (self.dataset, self.protocol, self.setting) if p)

    def metrics(self) -> list[str]:
        """Metrics present in any row, in the metric table's order (as the terminal's tables)."""
        return ordered(m for row in self.rows for m in row.data.metrics)

    @property
    def primary(self) -> str | None:
        """The metric the table ranks by (:data:`bench.metric_table.RANKING`)."""
        return ranking(self.metrics())

    def metric(self, name: str) -> Metric:
        """What a column is: the metric table's entry, or a method's rate under its declared label."""
        return metric_of(name, [row.data for row in self.rows])

    def convention(self, metric: str) -> str:
        """How the rows' records say ``metric`` was measured (the first that says), or ""."""
        return next((c for row in self.rows if (c := row.group.metric_info(metric)["convention"])), "")

    @property
    def device(self) -> str:
        return ", ".join(sorted({row.data.device for row in self.rows if row.data.device}))


@dataclass
class Report:
    results: Path
    tables: list[Table]
    record_count: int
    baseline: Path | None = None
    deltas: list[Delta] = field(default_factory=list)
    tolerances: Tolerances | None = None
    notes: list[str] = field(default_factory=list)  # what a reader should know (fallbacks used)
    unreadable: list[Unreadable] = field(default_factory=list)  # files that are not valid records

    @property
    def suites(self) -> list[str]:
        return list(dict.fromkeys(t.suite for t in self.tables))


def _identity(record: Record) -> tuple:
    return (record.key, record.ended_at, record.status)


def collect(
    results: str | Path,
    baseline: str | Path | None = None,
    tolerances: Tolerances | None = None,
    suite: str | None = None,
) -> Report:
    """Read the records under ``results`` into tables (one per suite, dataset, protocol and
    setting); with ``baseline``, attach ``bench compare``'s verdicts to the rows."""
    results = Path(results)
    unreadable: list[Unreadable] = []
    found = list(iter_records(results, unreadable))
    groups = [g for g in group_records(r for _, r in found) if suite is None or g.suite == suite]
    paths = {_identity(record): path for path, record in found}
    keys = dict(zip(map(id, groups), row_keys(groups)))
    by_keys = {tuple(r.key for r in g.records): g for g in groups}
    tables: dict[tuple, Table] = {}
    used: set[str] = set()
    for data in leaderboard(groups):
        group = by_keys[data.records]
        table_key = data.table_key
        table = tables.get(table_key)
        if table is None:
            table = tables[table_key] = Table(*table_key, rows=[], slug=_unique(slug(*table_key), used))
        row = Row(
            data,
            group,
            keys[id(group)],
            _unique(slug(table.slug, data.label), used),
            paths={_identity(r): paths.get(_identity(r)) for r in group.records if _identity(r) in paths},
        )
        table.rows.append(row)
    report = Report(results, list(tables.values()), record_count=sum(len(g.records) for g in groups))
    _attach_published(report)
    if baseline is not None:
        report.baseline = Path(baseline)
        report.tolerances = tolerances or Tolerances()
        report.deltas = compare(baseline, results, report.tolerances, unreadable)
        if suite is not None:
            report.deltas = [d for d in report.deltas if d.name.split(" / ")[0] == suite]
        by_name = {" / ".join(row.key): row for table in report.tables for row in table.rows}
        for delta in report.deltas:
            judged = by_name.get(delta.name)
            if judged is not None:
                judged.verdicts[delta.metric] = delta
    report.unreadable = list(dict.fromkeys(unreadable))  # the baseline's compare reads results again
    return report


def _unique(text: str, used: set[str]) -> str:
    candidate, n = text, 2
    while candidate in used:
        candidate, n = f"{text}-{n}", n + 1
    used.add(candidate)
    return candidate


# -- published numbers -----------------------------------------------------------------------------


def _attach_published(report: Report) -> None:
    """Each row's reference numbers: those its records carry (the runner copies them from the
    method's spec). Records written before that existed carry none: for them the installed
    plugin's numbers are used, and the page says so."""
    fallback = None
    for table in report.tables:
        base_setting = table.setting.split(",")[0]
        for row in table.rows:
            carried = [r.published for r in row.group.records if r.published is not None]
            if carried:
                entries, origin = carried[0], "record"
            else:
                if fallback is None:
                    fallback = _installed_published()
                entries, origin = fallback.get(row.data.method, []), "installed plugin"
            options = row.group.config.options
            for entry in entries:
                published = _published(entry)
                if published and published.applies_to(table.dataset, table.protocol, options, setting=base_setting):
                    item = {**entry, "origin": origin, "subset": base_setting != table.setting}
                    row.published.setdefault(entry["metric"], []).append(item)
            if origin == "installed plugin" and row.published:
                note = (
                    "some records carry no published numbers (written before records held them): "
                    "those shown for them come from the installed plugins"
                )
                if note not in report.notes:
                    report.notes.append(note)


_PUBLISHED_FIELDS = [f.name for f in dataclasses.fields(Published)]


def _published(entry: dict) -> Published | None:
    """A record's published entry (:data:`bench.records.PUBLISHED`) as the method declared it;
    None for one no method could have declared (an edited record: left out, not a failed report)."""
    try:
        return Published(**{k: entry[k] for k in _PUBLISHED_FIELDS if k in entry})
    except (TypeError, ValueError):
        return None


def _installed_published() -> dict[str, list[dict]]:
    try:
        from bench import registry

        reg = registry.load()
    except Exception:  # noqa: BLE001 - a report must build without any plugin installed
        return {}
    out = {}
    for name, spec in reg.methods.items():
        try:  # the same schema as the numbers a record carries
            out[name] = list_of(PUBLISHED)([p.to_dict() for p in getattr(spec, "published", ())], f"{name}.published")
        except InvalidRecord:
            continue
    return out


# -- history across code versions ----------------------------------------------------------------


@dataclass
class RowTrend:
    """A row's primary metric across the code versions that made its records (``bench history``:
    its order, per-version means and detected steps), and the plots drawn of it."""

    versions: list[_history.Version]
    series: _history.Series
    plots: list = field(default_factory=list)  # bench.html.plots.Plot: the sparkline, then the plot


def attach_history(report: Report) -> None:
    """Give each row that older code also made records of (kept under ``superseded/``) its
    :class:`RowTrend`; a row made by one code version gets none. Rows are matched by the name
    ``bench history`` and ``bench compare`` give them (:func:`bench.report.row_keys`)."""
    if not report.results.is_dir() or not any(report.results.rglob(SUPERSEDED)):
        return  # nothing was ever superseded: every row has one version (and no second read)
    rows = {r.name: r for r in _history.history(report.results, [])}  # unreadable files: collect says
    for table in report.tables:
        for row in table.rows:
            found = rows.get(" / ".join(row.key))
            series = next((s for s in found.series if s.metric == table.primary), None) if found else None
            if found is not None and series is not None and sum(v is not None for v in series.values) > 1:
                row.history = RowTrend(found.versions, series)
