"""HTML for the report's pages: the leaderboard page (index.html) and one page per row's records.

Every piece is built by :func:`html`, which escapes each value it inserts (text and attributes
alike) unless it is markup :func:`html` built, so no value reaches a page unescaped. The style
sheet and the sorting script are inlined, so a page needs nothing but the files beside it.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import statistics
from html import escape

from bench import stats
from bench.compare import DELTA_COLUMNS, Delta, delta_cells
from bench.html.assets import CSS, SCRIPT
from bench.html.collect import Report, Row, Table, slug
from bench.html.gallery import DIFF_GAIN
from bench.html.images import Gallery
from bench.html.plots import Plot
from bench.records import Record
from bench.report import (
    SEEDS_AND_FOLDS,
    cell,
    digits,
    fmt,
    header,
    one_seed,
    rank_note,
    stale_note,
    stale_reasons,
    table_note,
)

MARKS = {"REGRESSION": ("regressed", "▼ regressed"), "better": ("improved", "▲ better"), "noise": ("noise", "~ noise")}


class Html(str):
    """Text that is HTML already (built by :func:`html`): the only kind of string a page inserts
    as it is. Anything else, a record's value above all, is escaped on the way in."""


def esc(value) -> Html:
    return value if isinstance(value, Html) else Html(escape(str(value), quote=True))


def html(template: str, *args, **kwargs) -> Html:
    """``template``, the page's own markup (a literal, never a record's text), with every argument
    escaped for text and attributes alike unless it is :class:`Html` already."""
    return Html(template.format(*map(esc, args), **{k: esc(v) for k, v in kwargs.items()}))


def join(parts, sep: str = "") -> Html:
    return Html(sep.join(map(esc, parts)))


def document(title: str, body: Html, depth: int = 0) -> str:
    return html(
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="generator" content="bench report">\n<title>{}</title>\n'
        "<style>{}</style>\n</head>\n<body>\n{}\n<script>{}</script>\n</body>\n</html>\n",
        title,
        Html(CSS),
        body,
        Html(SCRIPT),
    )


def number(value: float, metric: str) -> str:
    return fmt(value, None, digits(metric))


# -- index.html -------------------------------------------------------------------------------------


def index(
    report: Report, plots: dict[str, list[Plot]], galleries: dict[str, list[Gallery]], across: dict | None = None
) -> str:
    """``across``: suite -> (its :class:`bench.html.cdplot.SuiteRanks`, the plot of them)."""
    across = across or {}
    failed = sum(len(row.failed) for t in report.tables for row in t.rows)
    built = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        Html('<header class="top">'),
        Html("<h1>bench report</h1>"),
        html(
            "<p>{} result records from <code>{}</code>{}; {} leaderboards in {} suites. Built {}.</p>",
            report.record_count,
            report.results,
            html(", <strong>{} failed</strong>", failed) if failed else ", none failed",
            len(report.tables),
            len(report.suites),
            built,
        ),
        Html(
            "<p>Every number is the mean ± sample standard deviation over seeds, quality metrics with the "
            "t-based confidence interval of the mean in brackets; the rank column says which rows the seeds "
            "(or, for one-seed restoration rows, the images) cannot tell from the best. Each method links to "
            "its records (configuration, environment, timings). Click a column header to sort.</p>"
        ),
    ]
    if report.baseline is not None and report.tolerances is not None:  # set together
        parts.append(
            html(
                "<p>Compared with the baseline <code>{}</code>: {} (the verdicts of <code>bench compare</code>).</p>",
                report.baseline,
                report.tolerances.describe(),
            )
        )
    for note in report.notes:
        parts.append(html('<p class="note">Note: {}.</p>', note))
    if report.unreadable:
        parts.append(
            html(
                '<p class="note">{} unreadable, left out (<code>bench run</code> runs them again): {}</p>',
                _count(len(report.unreadable), "file"),
                join(map(str, report.unreadable), "; "),
            )
        )
    parts.append(Html("</header>"))
    parts.append(
        html(
            '<nav class="toc">{}</nav>',
            join((html('<a href="#{}">{} · {}</a>', t.slug, t.suite, t.title) for t in report.tables), " "),
        )
    )
    parts.append(Html("<main>"))
    if report.baseline is not None:
        parts.append(comparison(report))
    for suite in report.suites:
        parts.append(html('<section class="suite" id="suite-{0}"><h2>Suite {0}</h2>', suite))
        for table in [t for t in report.tables if t.suite == suite]:
            parts.append(board(table, plots.get(table.slug, []), galleries.get(table.slug, [])))
        if suite in across:
            parts.append(suite_ranks_html(*across[suite]))
        parts.append(Html("</section>"))
    if not report.tables:
        parts.append(Html("<p>No result records.</p>"))
    parts.append(Html("</main>"))
    return document("bench report", join(parts, "\n"))


def _count(n: int, what: str) -> str:
    return f"{n} {what}" + ("" if n == 1 else "s")


def comparison(report: Report) -> Html:
    counts: dict[str, int] = {}
    for d in report.deltas:
        counts[d.verdict] = counts.get(d.verdict, 0) + 1
    regressions = [d for d in report.deltas if d.verdict == "REGRESSION"]
    out = [
        Html('<section class="comparison" id="comparison"><h2>Against the baseline</h2>'),
        html(
            '<p class="summary-verdicts">{}</p>',
            join(html("<span><strong>{}</strong> {}</span>", n, v) for v, n in sorted(counts.items())),
        ),
    ]
    if regressions:
        out.append(
            html(
                "<p><strong>Regressed beyond the noise:</strong></p><ul>{}</ul>",
                join(
                    html(
                        "<li>{}: {} {}{}{}</li>",
                        d.name,
                        d.metric,
                        delta_cells(d)[4],
                        f" (p = {d.p_value:.3g})" if d.p_value is not None else "",
                        f"; {d.note}" if d.note else "",
                    )
                    for d in regressions
                ),
            )
        )
    else:
        out.append(Html("<p>No metric regressed beyond the noise.</p>"))
    out.append(Html("<details><summary>every comparison</summary>"))
    out.append(delta_table(report.deltas))
    out.append(Html("</details></section>"))
    return join(out, "\n")


def delta_table(deltas: list[Delta]) -> Html:
    head = join(html("<th>{}</th>", c) for c in DELTA_COLUMNS)
    body = []
    for d in deltas:
        mark = MARKS.get(d.verdict, ("", ""))[0]
        body.append(
            html(
                "<tr>{}</tr>",
                join(
                    html('<td class="{}">{}</td>', mark if c == "verdict" else "", v)
                    for c, v in zip(DELTA_COLUMNS, delta_cells(d))
                ),
            )
        )
    return html('<table class="sortable deltas"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>', head, join(body))


def board(table: Table, plots: list[Plot], galleries: list[Gallery]) -> Html:
    """One leaderboard: its table, failed runs, notes, plots and galleries."""
    columns = _columns(table)
    body = [board_row(i, row, columns, table) for i, row in enumerate(table.rows, 1)]
    primary = table.primary
    conv = table.convention(primary) if primary else None
    out = [
        html('<section class="board" id="{}">', table.slug),
        html("<h3>{} · {}</h3>", table.suite, table.title),
        html(
            '<p class="meta">{}; device: {}{}</p>',
            table_note([row.data for row in table.rows]),
            table.device or "?",
            f"; {header(primary)}: {conv}" if primary and conv else "",
        ),
        html(
            '<table class="sortable leaderboard" data-table="{}"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>',
            table.slug,
            join(_heads(table, columns)),
            join(body),
        ),
    ]
    failures = _failures(table)
    if failures:
        out.append(failures)
    out += _notes(table)
    if plots:
        out.append(_plots(table, plots))
    for gallery in galleries:
        out.append(gallery_html(gallery))
    out.append(Html("</section>"))
    return join(out, "\n")


def _columns(table: Table) -> list[tuple[str, str]]:
    """(kind, metric) per metric column: each metric, then its published number where one applies."""
    papers = {m for row in table.rows for m in row.published}
    columns: list[tuple[str, str]] = []
    for m in table.metrics():
        columns.append(("metric", m))
        if m in papers:
            columns.append(("paper", m))
    return columns


def _heads(table: Table, columns: list[tuple[str, str]]) -> list[Html]:
    heads = [
        Html('<th data-type="number" class="num" data-better="lower" title="rank; = : tied with the best">rank</th>'),
        Html('<th data-type="text">method</th>'),
        *([LABELS_HEAD] if budgeted(table) else []),
        Html('<th data-type="text">budget</th>'),
        html('<th data-type="number" class="num">{}</th>', SEEDS_AND_FOLDS if budgeted(table) else "seeds"),
    ]
    for kind, m in columns:
        what = table.metric(m)
        title = what.note or f"{what.better}; {table.convention(m)}".strip("; ")
        text = what.label if kind == "metric" else f"paper {what.label}"
        lower = Html("" if what.higher_is_better else ' data-better="lower"')
        heads.append(html('<th data-type="number" class="num"{} title="{}">{}</th>', lower, title, text))
    return heads


def _failures(table: Table) -> Html | None:
    """The failed runs behind the table, each linked to its record, or None."""
    failures = [(row, r) for row in table.rows for r in row.failed]
    if not failures:
        return None
    return html(
        '<div class="failures"><strong>Failed runs</strong> (kept as evidence; '
        "<code>bench run</code> tries them again):<ul>{}</ul></div>",
        join(
            html(
                '<li><a href="records/{}.html#seed{}">{} seed {}</a>: {} {}</li>',
                row.slug,
                r.spec["seed"],
                row.label,
                r.spec["seed"],
                r.failure.type,
                r.failure.message or "failed",
            )
            for row, r in failures
        ),
    )


def _notes(table: Table) -> list[Html]:
    """What the table's numbers need said: a subset against a whole-set paper number, ranks, staleness."""
    out = []
    if any(r.published[m][0]["subset"] for r in table.rows for m in r.published):
        out.append(Html('<p class="note">* published numbers are over the whole set; this table runs on a subset.</p>'))
    ranks = rank_note([row.data for row in table.rows])
    if ranks:
        out.append(html('<p class="note rank-note">{}</p>', ranks))
    reasons = stale_reasons(row.data for row in table.rows)
    if reasons:
        out.append(html('<p class="note"><span class="badge stale">stale</span> {}</p>', stale_note(reasons)))
    return out


def _plots(table: Table, plots: list[Plot]) -> Html:
    choices = [p for p in plots if p.choice]
    figures = [choice_figure(table.slug, choices)] if choices else []
    figures += [
        html(
            '<figure class="plot{}"><img src="{}" alt="{}" loading="eager"><figcaption>{}: {}</figcaption></figure>',
            " wide" if "training" in p.path else "",
            p.path,
            p.alt,
            p.title,
            p.alt,
        )
        for p in plots
        if not p.choice
    ]
    return html('<div class="plots">{}</div>', join(figures))


def choice_figure(slug: str, plots: list[Plot]) -> Html:
    """One figure showing the first of ``plots`` and, with more than one, a choice of the others
    (the quality-cost plot's x axis: throughput, seconds, memory); the page's script swaps the
    picture, and without a script the first one stays."""
    first = plots[0]
    select = Html("")
    if len(plots) > 1:
        select = html(
            '<label class="choice">x axis <select data-choice="{}">{}</select></label>',
            slug,
            join(html('<option value="{}" data-alt="{}">{}</option>', p.path, p.alt, p.choice) for p in plots),
        )
    return html(
        '<figure class="plot">{}<img src="{}" alt="{}" loading="eager" data-choice-img="{}">'
        '<figcaption data-choice-caption="{}">{}: {}</figcaption></figure>',
        select,
        first.path,
        first.alt,
        slug,
        slug,
        first.title,
        first.alt,
    )


def board_row(rank: int, row: Row, columns: list[tuple[str, str]], table: Table) -> Html:
    """One leaderboard line: rank, the method with its badges, labels, budget, seeds, then each
    metric (with the compare verdict) and published number."""
    data = row.data
    ok, failed = data.runs_ok, data.runs_failed
    shown = data.replicates if budgeted(table) else ok  # under label budgets as bench table shows it
    seeds = html("{}{}", shown, html(' <span class="badge failed">{} failed</span>', failed) if failed else "")
    cells = [
        html('<td class="num" data-value="{}">{}</td>', rank, data.rank),
        html("<td>{}</td>", join(_method_cell(row, table))),
        *([labels_cell(row)] if budgeted(table) else []),
        html("<td>{}</td>", data.budget or "full"),
        html('<td class="num" data-value="{}">{}</td>', ok, seeds),
    ]
    say_n = not one_seed([r.data for r in table.rows])
    cells += [_paper_cell(row, m) if kind == "paper" else _metric_cell(row, m, say_n) for kind, m in columns]
    return html('<tr{} data-row="{}">{}</tr>', Html(' class="failed-row"' if not ok else ""), row.slug, join(cells))


def _method_cell(row: Row, table: Table) -> list[Html]:
    """The method's name linked to its page, its history, and its badges (failed, marks, verdicts)."""
    data = row.data
    method = [html('<a href="records/{}.html">{}</a>', row.slug, row.label), history_spark(row)]
    if not data.runs_ok:
        method.append(Html(' <span class="badge failed">failed</span>'))
    if table.gallery and data.runs_ok:
        method.append(html(' <a class="gallery-link" href="{}#row-{}">per image</a>', table.gallery, row.slug))
    method += [
        html(
            ' <span class="badge {}"{}>{}</span>',
            mark,
            html(' title="{}"', "; ".join(data.stale)) if mark == "stale" else "",
            mark,
        )
        for mark in data.marks
    ]
    if data.features:
        method.append(
            html(
                ' <small title="read-out chosen on held-out training images (protocol option '
                'feature_sweep)">{}</small>',
                data.features,
            )
        )
    for name in ("status", "-"):
        d = row.verdicts.get(name)
        if d is not None:
            method.append(
                html(
                    ' <span class="badge {}">{}: {}</span>',
                    "failed" if d.verdict == "REGRESSION" else "ok",
                    d.verdict,
                    d.note,
                )
            )
    return method


def _paper_cell(row: Row, m: str) -> Html:
    """The published number beside metric ``m`` (its source in the tooltip), or a dash."""
    refs = row.published.get(m, [])
    if not refs:
        return Html('<td class="num paper" data-value="">-</td>')
    ref = refs[0]
    origin = "from the installed plugin, not the record" if ref["origin"] != "record" else ""
    title = "; ".join(x for x in (ref["source"], ref["note"], origin) if x)
    return html(
        '<td class="num paper" data-value="{}" title="{}">{}{}</td>',
        ref["value"],
        title,
        number(ref["value"], m),
        "*" if ref["subset"] else "",
    )


def _metric_cell(row: Row, m: str, say_n: bool) -> Html:
    """Metric ``m``'s mean (the seeds' values in the tooltip) and ``bench compare``'s verdict."""
    value = row.data.metrics.get(m)
    if value is None:
        return html('<td class="num" data-value="">{}</td>', "failed" if not row.data.runs_ok else "-")
    text = cell(m, value, say_n=say_n)
    css, verdict = "num", Html("")
    d = row.verdicts.get(m)
    if d is not None and d.verdict in MARKS:
        cls, word = MARKS[d.verdict]
        css += f" {cls}"
        base = fmt(d.base_mean, None, digits(m))
        p = f", p {d.p_value:.3g}" if d.p_value is not None else ""
        verdict = html('<span class="verdict">{} (base {}{})</span>', word, base, p)
    title = f"n = {value.n}: " + ", ".join(number(v, m) for v in value.values)
    return html('<td class="{}" data-value="{}" title="{}">{}{}</td>', css, repr(value.mean), title, text, verdict)


#: The leaderboard's labels column (as ``bench table``'s): sorted by labels per class, fractions
#: after counts, all labels last (:func:`bench.report.label_budget`); fewest first on a first click.
LABELS_HEAD = Html(
    '<th data-type="number" class="num" data-better="lower" title="labelled training images the '
    'method was given: per class or a fraction of the training split, class-balanced">labels</th>'
)


def budgeted(table: Table) -> bool:
    """Whether a leaderboard has the labels column: only when a row has a label budget."""
    return any(row.data.labels != "all" for row in table.rows)


def labels_cell(row: Row) -> Html:
    from bench.report import label_budget

    order = label_budget(row.group.config.options)[1]
    value = "Infinity" if math.isinf(order) else repr(order)  # what the sorting script's parseFloat reads
    return html('<td class="num" data-value="{}">{}</td>', value, row.data.labels)


def history_spark(row: Row) -> Html:
    """A row's history (``bench history``) as a sparkline beside its name, linking to its plot on
    the row's page; nothing for a row made by one code version."""
    if row.history is None or not row.history.plots:
        return Html("")
    spark = row.history.plots[0]
    return html(
        ' <a class="history-link" href="records/{}.html#history" title="{}"><img src="{}" class="spark" alt="{}" '
        'loading="eager"></a>',
        row.slug,
        spark.alt,
        spark.path,
        spark.alt,
    )


def history_section(row: Row) -> Html:
    """On a row's page: its primary metric by code version (oldest first), the plot and a table,
    the versions where a step beyond the noise starts marked (``bench history``'s)."""
    trend = row.history
    if trend is None or not trend.plots:
        return Html("")
    series, plot = trend.series, trend.plots[-1]
    body = []
    for i, version in enumerate(trend.versions):
        values = series.spreads[i]
        mean = series.values[i]
        text = "-" if mean is None else number(mean, series.metric)
        if len(values) > 1:
            text += f" ± {number(statistics.stdev(values), series.metric)} (n={len(values)})"
        body.append(
            html(
                '<tr{}><td>{}</td><td>{}</td><td class="num" data-value="{}">{}</td><td>{}</td></tr>',
                Html(' class="step"' if i in series.steps else ""),
                version.label,
                version.ended[:16],
                "" if mean is None else repr(mean),
                text,
                "step" if i in series.steps else "",
            )
        )
    noise = "" if series.noise is None else f"; the noise of a version's mean: {number(series.noise, series.metric)}"
    return html(
        '<section id="history"><h2>History</h2><p class="note">{} of this row by the code version that made '
        "its records, oldest first (<code>bench history</code>): records a re-run replaced are kept under "
        "<code>superseded/</code>; a version where the value moved beyond its noise starts a step "
        '(an L1 Potts fit){}.</p><div class="plots"><figure class="plot"><img src="../{}" alt="{}" loading="eager">'
        "<figcaption>{}: {}</figcaption></figure></div>"
        '<table class="history"><thead><tr><th>version</th><th>ended</th><th class="num">{}</th><th>step</th>'
        "</tr></thead><tbody>{}</tbody></table></section>",
        header(series.metric),
        noise,
        plot.path,
        plot.alt,
        plot.title,
        plot.alt,
        header(series.metric),
        join(body),
    )


def gallery_html(gallery: Gallery) -> Html:
    grid = all("restoration" not in p.path for p in gallery.pictures)
    out = [html('<div class="gallery"><h4>{}</h4>', gallery.title)]
    if gallery.note:
        out.append(html('<p class="note">{}</p>', gallery.note))
    out.append(html('<div class="{}">', "grid" if grid else "list"))
    for p in gallery.pictures:
        out.append(
            html(
                '<figure><img src="{}" alt="{}" loading="eager"><figcaption>{}</figcaption></figure>',
                p.path,
                p.alt,
                p.caption,
            )
        )
    out.append(Html("</div>"))
    if gallery.missing:
        out.append(
            html(
                '<p class="note">Listed in the records but missing from the results folder: {}</p>',
                "; ".join(gallery.missing),
            )
        )
    out.append(Html("</div>"))
    return join(out, "\n")


# -- records/<row>.html ------------------------------------------------------------------------------


def record_page(table: Table, row: Row, copies: dict[int, str]) -> str:
    """One page per leaderboard row: every record behind it (ok and failed), its configuration,
    metrics, timings, environment, code version and, for a failed run, the traceback."""
    records = row.records()
    parts = [_record_header(table, row), history_section(row)]
    if records:
        parts.append(_configuration(records[0][0].spec))
    if row.published:
        parts.append(_published_numbers(row))
    parts.append(_runs_table(records, copies))
    parts += [_run_section(i, r, copies) for i, (r, _) in enumerate(records)]
    parts.append(Html("</main>"))
    return document(f"{row.label} · {table.title}", join(parts, "\n"))


def _record_header(table: Table, row: Row) -> Html:
    return join(
        [
            Html('<header class="top">'),
            html("<h1>{}</h1>", row.label),
            html(
                '<p>{} · {} · budget {}; {} ok, {} failed. <a href="../index.html#{}">back to the leaderboard</a></p>',
                table.suite,
                table.title,
                row.data.budget or "full",
                row.data.runs_ok,
                row.data.runs_failed,
                table.slug,
            ),
            Html("</header><main>"),
        ],
        "\n",
    )


def _configuration(spec: dict) -> Html:
    """What the row's runs share: method, dataset, protocol and their settings."""
    return join(
        [
            Html("<h2>Configuration</h2>"),
            _kv_table(
                {
                    "method": spec["method"],
                    "dataset": spec["dataset"],
                    "protocol": spec["protocol"],
                    "params": spec["params"],
                    "budget": spec["budget"],
                    "protocol options": spec["protocol_options"],
                    "budget scale": spec.get("budget_scale"),
                    "device": spec.get("device"),
                    "precision": spec.get("precision"),
                }
            ),
        ],
        "\n",
    )


def _published_numbers(row: Row) -> Html:
    return html(
        "<h2>Published numbers</h2><ul>{}</ul>",
        join(
            html(
                "<li>{}: {} — {}{}{}</li>",
                header(m),
                number(ref["value"], m),
                ref["source"],
                f" ({ref['note']})" if ref["note"] else "",
                " [from the installed plugin]" if ref["origin"] != "record" else "",
            )
            for m, refs in row.published.items()
            for ref in refs
        ),
    )


def _runs_table(records: list, copies: dict[int, str]) -> Html:
    """One line per run: seed, status, metrics, wall seconds, a link to its JSON."""
    metrics = list(dict.fromkeys(m for r, _ in records for m in r.metrics))
    head = join(html('<th class="num" data-type="number">{}</th>', header(m)) for m in metrics)
    body = []
    for i, (r, _) in enumerate(records):
        status, seed, wall = r.status, r.spec["seed"], r.timings.get("wall_seconds")
        badge = html('<span class="badge {}">{}</span>', "ok" if status == "ok" else "failed", status)
        values = join(
            html('<td class="num" data-value="{}">{}</td>', repr(r.metrics[m]), number(r.metrics[m], m))
            if m in r.metrics
            else Html('<td class="num" data-value="">-</td>')
            for m in metrics
        )
        link = html('<a href="{}">JSON</a>', copies[i]) if i in copies else ""
        body.append(
            html(
                '<tr><td class="num" data-value="{0}"><a href="#seed{0}">{0}</a></td><td>{1}</td>{2}'
                '<td class="num" data-value="{3}">{4}</td><td>{5}</td></tr>',
                seed,
                badge,
                values,
                "" if wall is None else wall,
                "-" if wall is None else wall,
                link,
            )
        )
    return html(
        '<h2>Runs</h2><table class="sortable"><thead><tr><th class="num" data-type="number">seed</th>'
        '<th>status</th>{}<th class="num" data-type="number">wall s</th><th>record</th></tr></thead>'
        "<tbody>{}</tbody></table>",
        head,
        join(body),
    )


def _run_section(i: int, r: Record, copies: dict[int, str]) -> Html:
    """One run in full: its error, timings, code, switches, environment, conventions, data, details."""
    parts = [
        html(
            '<section id="seed{0}"><h3>Seed {0}: {1}{2}</h3>',
            r.spec["seed"],
            r.status,
            html(' <a href="{}">(record JSON)</a>', copies[i]) if i in copies else "",
        )
    ]
    if r.status != "ok":
        err = r.failure
        parts.append(html("<p><strong>{}</strong>: {}</p>", err.type, err.message))
        if err.traceback:
            parts.append(html("<pre>{}</pre>", err.traceback))
    parts.append(
        _kv_table(
            {
                "key": r.key,
                "started": r.started_at,
                "ended": r.ended_at,
                "timings": r.timings,
                "throughput": _throughput_text(r),
                "peak memory": r.memory,
                "code": r.code,
                "plugins": r.plugins,
                "precision": r.precision,
                "accelerator switches": r.accel,
            }
        )
    )
    parts.append(html("<details><summary>environment</summary>{}</details>", _kv_table(r.environment)))
    if r.metric_info:
        conventions = {m: info["convention"] for m, info in r.metric_info.items()}
        parts.append(html("<details><summary>metric conventions</summary>{}</details>", _kv_table(conventions)))
    if r.data_files:
        files = {k: v.get("sha256") or v.get("md5") for k, v in r.data_files.items()}
        parts.append(html("<details><summary>data files</summary>{}</details>", _kv_table(files)))
    if r.details:
        details = json.dumps(r.details, indent=1, default=str)[:200_000]
        parts.append(html("<details><summary>details</summary><pre>{}</pre></details>", details))
    parts.append(Html("</section>"))
    return join(parts, "\n")


def _throughput_text(record: Record) -> dict:
    out = {}
    for name, fig in record.throughput.items():
        if fig.get("items_per_s"):
            rate = fig["items_per_s"]
            out[name] = (f"{rate:,.1f}/s" if rate >= 100 else f"{rate:.3g}/s") + (
                f" (median of {fig['repeats']})" if fig.get("repeats") else ""
            )
    return out


def _kv_table(values: dict) -> Html:
    rows = []
    for key, value in values.items():
        if value is None or value in ({}, [], ""):
            continue
        if isinstance(value, dict):
            text = ", ".join(
                f"{k}={json.dumps(v, default=str) if isinstance(v, (dict, list)) else v}" for k, v in value.items()
            )
        else:
            text = str(value)
        rows.append(html("<tr><th>{}</th><td>{}</td></tr>", key, text))
    return html('<table class="kv"><tbody>{}</tbody></table>', join(rows))


# -- across a suite's leaderboards -------------------------------------------------------------------


def suite_ranks_html(ranks, plot: Plot) -> Html:
    """Average ranks over the suite's leaderboards (Demšar 2006) and their critical-difference plot."""
    friedman = "" if ranks.friedman_p is None else f"; Friedman test p = {ranks.friedman_p:.3g}"
    rows = join(
        html(
            '<tr><td>{}</td><td class="num" data-value="{}">{}</td><td>{}</td></tr>',
            label,
            repr(rank),
            f"{rank:.2f}",
            "yes" if rank - ranks.average[0] < ranks.cd else "no",
        )
        for label, rank in zip(ranks.labels, ranks.average)
    )
    return html(
        '<section class="board across" id="across-{}"><h3>{} · across {} leaderboards</h3>'
        '<p class="meta">each leaderboard ranks the methods by its primary metric (1 = best); the ranks are '
        "averaged; methods whose average ranks differ by less than the critical difference (Nemenyi, "
        "alpha {}{}) are not told apart by this many leaderboards (Demšar 2006). Leaderboards: {}.</p>"
        '<table class="sortable"><thead><tr><th data-type="text">method</th><th class="num" data-type="number" '
        'data-better="lower">average rank</th><th data-type="text">within CD of the best</th></tr></thead>'
        '<tbody>{}</tbody></table><div class="plots"><figure class="plot"><img src="{}" alt="{}" loading="eager">'
        "<figcaption>{}: {}</figcaption></figure></div></section>",
        ranks.suite,
        ranks.suite,
        len(ranks.tables),
        f"{stats.ALPHA:g}",
        friedman,
        "; ".join(t.title for t in ranks.tables),
        rows,
        plot.path,
        plot.alt,
        plot.title,
        plot.alt,
    )


# -- gallery/<table>.html --------------------------------------------------------------------------


def gallery_page(page) -> str:
    """One restoration leaderboard image by image (a :class:`bench.html.gallery.GalleryPage`):
    the paired comparison, the per-image table, then each image's panels."""
    table, found = page.table, page.images
    parts = [
        Html('<header class="top">'),
        html("<h1>{} · {}: image by image</h1>", table.suite, table.title),
        html(
            '<p>{} images; {}. <a href="../index.html#{}">back to the leaderboard</a></p>',
            len(found.images),
            found.inputs,
            table.slug,
        ),
        Html("</header><main>"),
    ]
    comparison = _paired_comparison(table, found)
    if comparison:
        parts.append(comparison)
    parts.append(_per_image_table(table, found))
    parts += [_image_section(view) for view in page.views]
    parts.append(Html("</main>"))
    return document(f"{table.title}: image by image", join(parts, "\n"))


def _paired_comparison(table: Table, found) -> Html | None:
    """Each method against the best, paired by image (or why the images cannot be paired)."""
    from bench import perimage

    if found.comparisons:
        head = join(html("<th>{}</th>", h) for h in ("method", "wins / ties / losses", "median Δ dB", "p"))
        body = join(
            html(
                '<tr id="row-{}">{}</tr>',
                _row_slug(table, cells[0]),
                join(html("<td>{}</td>", c) for c in cells),
            )
            for cells in perimage.comparison_rows(found)
        )
        return html(
            '<h2>Against {}</h2><p class="note">each method against the best mean PSNR, paired by image: '
            "wins / ties / losses (ties within {} dB), median difference, and the {} (two-sided; "
            "chosen over a paired t-test because per-image gains are far from normal and one failed "
            "image would dominate a mean; with n images its p is never below 2 / 2^n).</p>"
            "<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>",
            found.reference,
            f"{perimage.TIE_MARGIN['psnr']:g}",
            stats.WILCOXON,
            head,
            body,
        )
    if not found.same_inputs:
        return html('<p class="note">Not compared: {}.</p>', found.inputs)
    return None


def _per_image_table(table: Table, found) -> Html:
    """PSNR / SSIM of every method on every image, sortable."""
    from bench import perimage

    return html(
        '<h2 id="row-{}">Per image</h2><table class="sortable"><thead><tr><th data-type="text">image</th>{}'
        "</tr></thead><tbody>{}</tbody></table>",
        _row_slug(table, found.reference),
        join(html('<th class="num" data-type="number">{} (PSNR dB / SSIM)</th>', label) for label in found.labels),
        join(
            html(
                '<tr><td><a href="#image-{}">{}</a></td>{}</tr>',
                slug(image),
                image,
                join(
                    html(
                        '<td class="num" data-value="{}">{}</td>',
                        repr(found.values[label]["psnr"].get(image, "")),
                        perimage.value_text(found, label, image),
                    )
                    for label in found.labels
                ),
            )
            for image in found.images
        ),
    )


def _image_section(view) -> Html:
    """One image: the zoom note and each method's panel (image, crop, difference map)."""
    top, left, side = view.window
    parts = [
        html('<section class="image" id="image-{}"><h3>{}</h3>', slug(view.image), view.image),
        html(
            '<p class="note">zoom: the {0}x{0} window at ({1}, {2}) where the methods\' errors differ most; '
            "difference maps: |output - clean| x {3}, black = exact</p>",
            side,
            left,
            top,
            DIFF_GAIN,
        ),
        Html('<div class="panels">'),
    ]
    for panel in view.panels:
        extras = [html('<img src="../{}" alt="zoomed crop: {}" loading="eager">', panel.crop, panel.caption)]
        if panel.diff:
            extras.append(html('<img src="../{}" alt="difference map: {}" loading="eager">', panel.diff, panel.caption))
        parts.append(
            html(
                '<figure><img src="../{}" alt="{}" loading="eager">{}<figcaption>{}</figcaption></figure>',
                panel.path,
                panel.caption,
                join(extras),
                panel.caption,
            )
        )
    parts.append(Html("</div></section>"))
    return join(parts, "\n")


def _row_slug(table: Table, label: str) -> str:
    return next((row.slug for row in table.rows if row.label == label), slug(label))
