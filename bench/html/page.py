"""HTML for the report's pages: the leaderboard page (index.html) and one page per row's records.

Plain strings with every value escaped; the style sheet and the sorting script are inlined, so a
page needs nothing but the files beside it.
"""

from __future__ import annotations

import datetime as dt
import json
from html import escape

from bench.compare import DELTA_COLUMNS, Delta, delta_cells
from bench.html.assets import CSS, SORT_JS
from bench.html.collect import Report, Row, Table
from bench.html.images import Gallery
from bench.html.plots import Plot
from bench.report import _DIGITS, _HEADERS, _fmt, stale_note

MARKS = {"REGRESSION": ("regressed", "▼ regressed"), "better": ("improved", "▲ better"), "noise": ("noise", "~ noise")}


def _e(value) -> str:
    return escape(str(value), quote=True)


def document(title: str, body: str, depth: int = 0) -> str:
    return (f"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<meta name=\"generator\" content=\"bench report\">\n<title>{_e(title)}</title>\n"
            f"<style>{CSS}</style>\n</head>\n<body>\n{body}\n<script>{SORT_JS}</script>\n</body>\n</html>\n")


def header(metric: str) -> str:
    return _HEADERS.get(metric, metric)


def number(value: float, metric: str) -> str:
    return _fmt(value, None, _DIGITS.get(metric, 2))


# -- index.html -------------------------------------------------------------------------------------


def index(report: Report, plots: dict[str, list[Plot]], galleries: dict[str, list[Gallery]]) -> str:
    failed = sum(len(row.failed) for t in report.tables for row in t.rows)
    built = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    parts = ["<header class=\"top\">", "<h1>bench report</h1>",
             f"<p>{report.record_count} result records from <code>{_e(report.results)}</code>"
             + (f", <strong>{failed} failed</strong>" if failed else ", none failed")
             + f"; {len(report.tables)} leaderboards in {len(report.suites)} suites. Built {built}.</p>",
             "<p>Every number is the mean ± sample standard deviation over seeds; each method links to its "
             "records (configuration, environment, timings). Click a column header to sort.</p>"]
    if report.baseline is not None:
        parts.append(f"<p>Compared with the baseline <code>{_e(report.baseline)}</code>: "
                     f"{_e(report.tolerances.describe())} (the verdicts of <code>bench compare</code>).</p>")
    for note in report.notes:
        parts.append(f"<p class=\"note\">Note: {_e(note)}.</p>")
    parts.append("</header>")
    parts.append("<nav class=\"toc\">" + " ".join(
        f"<a href=\"#{_e(t.slug)}\">{_e(t.suite)} · {_e(t.title)}</a>" for t in report.tables) + "</nav>")
    parts.append("<main>")
    if report.baseline is not None:
        parts.append(comparison(report))
    for suite in report.suites:
        parts.append(f"<section class=\"suite\" id=\"suite-{_e(suite)}\"><h2>Suite {_e(suite)}</h2>")
        for table in [t for t in report.tables if t.suite == suite]:
            parts.append(board(table, plots.get(table.slug, []), galleries.get(table.slug, [])))
        parts.append("</section>")
    if not report.tables:
        parts.append("<p>No result records.</p>")
    parts.append("</main>")
    return document("bench report", "\n".join(parts))


def comparison(report: Report) -> str:
    counts: dict[str, int] = {}
    for d in report.deltas:
        counts[d.verdict] = counts.get(d.verdict, 0) + 1
    regressions = [d for d in report.deltas if d.verdict == "REGRESSION"]
    out = ["<section class=\"comparison\" id=\"comparison\"><h2>Against the baseline</h2>",
           "<p class=\"summary-verdicts\">" + "".join(
               f"<span><strong>{n}</strong> {_e(v)}</span>" for v, n in sorted(counts.items())) + "</p>"]
    if regressions:
        out.append("<p><strong>Regressed beyond the noise:</strong></p><ul>" + "".join(
            f"<li>{_e(d.name)}: {_e(d.metric)} {_e(delta_cells(d)[4])}"
            + (f" (p = {d.p_value:.3g})" if d.p_value is not None else "") + (f"; {_e(d.note)}" if d.note else "")
            + "</li>" for d in regressions) + "</ul>")
    else:
        out.append("<p>No metric regressed beyond the noise.</p>")
    out.append("<details><summary>every comparison</summary>")
    out.append(delta_table(report.deltas))
    out.append("</details></section>")
    return "\n".join(out)


def delta_table(deltas: list[Delta]) -> str:
    head = "".join(f"<th>{_e(c)}</th>" for c in DELTA_COLUMNS)
    body = []
    for d in deltas:
        cells = delta_cells(d)
        mark = MARKS.get(d.verdict, ("", ""))[0]
        body.append("<tr>" + "".join(
            f"<td class=\"{mark if c == 'verdict' else ''}\">{_e(v)}</td>" for c, v in zip(DELTA_COLUMNS, cells)) + "</tr>")
    return f"<table class=\"sortable deltas\"><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def board(table: Table, plots: list[Plot], galleries: list[Gallery]) -> str:
    metrics = table.metrics()
    papers = {m for row in table.rows for m in row.published}
    columns: list[tuple[str, str]] = []  # (kind, metric)
    for m in metrics:
        columns.append(("metric", m))
        if m in papers:
            columns.append(("paper", m))
    heads = ["<th data-type=\"number\" class=\"num\" data-better=\"lower\">#</th>", "<th data-type=\"text\">method</th>",
             "<th data-type=\"text\">budget</th>", "<th data-type=\"number\" class=\"num\">seeds</th>"]
    for kind, m in columns:
        info = table.metric_info(m)
        higher = info.get("higher_is_better", True) and m != "train_seconds"
        better = "higher is better" if higher else "lower is better"
        title = f"{better}; {info.get('convention', '')}".strip("; ")
        if m == "train_seconds":
            title = "lower is better; seconds in the method's fit, mean over seeds"
        text = header(m) if kind == "metric" else f"paper {header(m)}"
        lower = "" if higher else " data-better=\"lower\""
        heads.append(f"<th data-type=\"number\" class=\"num\"{lower} title=\"{_e(title)}\">{_e(text)}</th>")
    body = [board_row(i, row, columns, table) for i, row in enumerate(table.rows, 1)]
    primary = table.primary
    conv = table.metric_info(primary).get("convention") if primary else None
    out = [f"<section class=\"board\" id=\"{_e(table.slug)}\">",
           f"<h3>{_e(table.suite)} · {_e(table.title)}</h3>",
           f"<p class=\"meta\">mean ± std over seeds; device: {_e(table.device or '?')}"
           + (f"; {_e(header(primary))}: {_e(conv)}" if conv else "") + "</p>",
           f"<table class=\"sortable leaderboard\" data-table=\"{_e(table.slug)}\">"
           f"<thead><tr>{''.join(heads)}</tr></thead><tbody>{''.join(body)}</tbody></table>"]
    failures = [(row, r) for row in table.rows for r in row.failed]
    if failures:
        out.append("<div class=\"failures\"><strong>Failed runs</strong> (kept as evidence; "
                   "<code>bench run</code> tries them again):<ul>" + "".join(
                       f"<li><a href=\"records/{_e(row.slug)}.html#seed{r['spec']['seed']}\">{_e(row.label)} seed "
                       f"{r['spec']['seed']}</a>: {_e(r.get('error', {}).get('type', ''))} "
                       f"{_e(r.get('error', {}).get('message', 'failed'))}</li>" for row, r in failures) + "</ul></div>")
    reasons = sorted({reason for row in table.rows for reason in row.data.get("stale", [])})
    if reasons:
        out.append(f"<p class=\"note\"><span class=\"badge stale\">stale</span> {_e(stale_note(reasons))}</p>")
    if any(r.published.get(m, [{}])[0].get("subset") for r in table.rows for m in r.published):
        out.append("<p class=\"note\">* published numbers are over the whole set; this table runs on a subset.</p>")
    if plots:
        out.append("<div class=\"plots\">" + "".join(
            f"<figure class=\"plot{' wide' if 'training' in p.path else ''}\"><img src=\"{_e(p.path)}\" "
            f"alt=\"{_e(p.alt)}\" loading=\"eager\"><figcaption>{_e(p.title)}: {_e(p.alt)}</figcaption></figure>"
            for p in plots) + "</div>")
    for gallery in galleries:
        out.append(gallery_html(gallery))
    out.append("</section>")
    return "\n".join(out)


def board_row(rank: int, row: Row, columns: list[tuple[str, str]], table: Table) -> str:
    data = row.data
    ok, failed = data["runs_ok"], data["runs_failed"]
    seeds = f"{ok}" + (f" <span class=\"badge failed\">{failed} failed</span>" if failed else "")
    method = f"<a href=\"records/{_e(row.slug)}.html\">{_e(row.label)}</a>"
    if not ok:
        method += " <span class=\"badge failed\">failed</span>"
    if data.get("stale"):
        method += f" <span class=\"badge stale\" title=\"{_e('; '.join(data['stale']))}\">stale</span>"
    if data.get("features"):
        method += (f" <small title=\"read-out chosen on held-out training images (protocol option feature_sweep)\">"
                   f"{_e(data['features'])}</small>")
    for name in ("status", "-"):
        d = row.verdicts.get(name)
        if d is not None:
            method += f" <span class=\"badge {'failed' if d.verdict == 'REGRESSION' else 'ok'}\">{_e(d.verdict)}: {_e(d.note)}</span>"
    cells = [f"<td class=\"num\" data-value=\"{rank}\">{rank}</td>", f"<td>{method}</td>",
             f"<td>{_e(data['budget'] or 'full')}</td>", f"<td class=\"num\" data-value=\"{ok}\">{seeds}</td>"]
    for kind, m in columns:
        if kind == "paper":
            refs = row.published.get(m, [])
            if not refs:
                cells.append("<td class=\"num paper\" data-value=\"\">-</td>")
                continue
            ref = refs[0]
            title = "; ".join(x for x in (ref.get("source"), ref.get("note"),
                                          "from the installed plugin, not the record" if ref["origin"] != "record" else "")
                              if x)
            mark = "*" if ref.get("subset") else ""
            cells.append(f"<td class=\"num paper\" data-value=\"{ref['value']}\" title=\"{_e(title)}\">"
                         f"{_e(number(ref['value'], m))}{mark}</td>")
            continue
        value = data["metrics"].get(m)
        if not value:
            text = "failed" if not ok else "-"
            cells.append(f"<td class=\"num\" data-value=\"\">{text}</td>")
            continue
        text = _fmt(value["mean"], value["std"], _DIGITS.get(m, 2))
        css, verdict_html = "num", ""
        d = row.verdicts.get(m)
        if d is not None and d.verdict in MARKS:
            cls, word = MARKS[d.verdict]
            css += f" {cls}"
            base = _fmt(d.base_mean, None, _DIGITS.get(m, 2))
            p = f", p {d.p_value:.3g}" if d.p_value is not None else ""
            verdict_html = f"<span class=\"verdict\">{_e(word)} (base {_e(base)}{_e(p)})</span>"
        title = f"n = {value['n']}: " + ", ".join(number(v, m) for v in value["values"])
        cells.append(f"<td class=\"{css}\" data-value=\"{value['mean']!r}\" title=\"{_e(title)}\">{_e(text)}{verdict_html}</td>")
    css = " class=\"failed-row\"" if not ok else ""
    return f"<tr{css} data-row=\"{_e(row.slug)}\">{''.join(cells)}</tr>"


def gallery_html(gallery: Gallery) -> str:
    grid = all("restoration" not in p.path for p in gallery.pictures)
    out = [f"<div class=\"gallery\"><h4>{_e(gallery.title)}</h4>"]
    if gallery.note:
        out.append(f"<p class=\"note\">{_e(gallery.note)}</p>")
    out.append(f"<div class=\"{'grid' if grid else 'list'}\">")
    for p in gallery.pictures:
        out.append(f"<figure><img src=\"{_e(p.path)}\" alt=\"{_e(p.alt)}\" loading=\"eager\">"
                   f"<figcaption>{_e(p.caption)}</figcaption></figure>")
    out.append("</div>")
    if gallery.missing:
        out.append("<p class=\"note\">Listed in the records but missing from the results folder: "
                   + "; ".join(_e(m) for m in gallery.missing) + "</p>")
    out.append("</div>")
    return "\n".join(out)


# -- records/<row>.html ------------------------------------------------------------------------------


def record_page(table: Table, row: Row, copies: dict[int, str]) -> str:
    """One page per leaderboard row: every record behind it (ok and failed), its configuration,
    metrics, timings, environment, code version and, for a failed run, the traceback."""
    parts = ["<header class=\"top\">", f"<h1>{_e(row.label)}</h1>",
             f"<p>{_e(table.suite)} · {_e(table.title)} · budget {_e(row.data['budget'] or 'full')}; "
             f"{row.data['runs_ok']} ok, {row.data['runs_failed']} failed. "
             "<a href=\"../index.html#" + _e(table.slug) + "\">back to the leaderboard</a></p>", "</header><main>"]
    records = row.records()
    if records:
        spec = records[0][0]["spec"]
        parts.append("<h2>Configuration</h2>")
        parts.append(_kv_table({"method": spec["method"], "dataset": spec["dataset"], "protocol": spec["protocol"],
                                "params": spec.get("params"), "budget": spec.get("budget"),
                                "protocol options": spec.get("protocol_options"),
                                "budget scale": spec.get("budget_scale"), "device": spec.get("device"),
                                "precision": spec.get("precision")}))
    if row.published:
        parts.append("<h2>Published numbers</h2><ul>" + "".join(
            f"<li>{_e(header(m))}: {_e(number(ref['value'], m))} — {_e(ref.get('source', ''))}"
            + (f" ({_e(ref['note'])})" if ref.get("note") else "")
            + (" [from the installed plugin]" if ref["origin"] != "record" else "") + "</li>"
            for m, refs in row.published.items() for ref in refs) + "</ul>")
    metrics = list(dict.fromkeys(m for r, _ in records for m in r.get("metrics", {})))
    head = "".join(f"<th class=\"num\" data-type=\"number\">{_e(header(m))}</th>" for m in metrics)
    body = []
    for i, (r, _) in enumerate(records):
        status = r.get("status")
        badge = f"<span class=\"badge {'ok' if status == 'ok' else 'failed'}\">{_e(status)}</span>"
        values = "".join(
            f"<td class=\"num\" data-value=\"{r['metrics'][m]!r}\">{_e(number(r['metrics'][m], m))}</td>"
            if isinstance(r.get("metrics", {}).get(m), (int, float)) else "<td class=\"num\" data-value=\"\">-</td>"
            for m in metrics)
        link = f"<a href=\"{_e(copies[i])}\">JSON</a>" if i in copies else ""
        body.append(f"<tr><td class=\"num\" data-value=\"{r['spec']['seed']}\"><a href=\"#seed{r['spec']['seed']}\">"
                    f"{r['spec']['seed']}</a></td><td>{badge}</td>{values}"
                    f"<td class=\"num\" data-value=\"{r.get('timings', {}).get('wall_seconds', '')}\">"
                    f"{_e(r.get('timings', {}).get('wall_seconds', '-'))}</td><td>{link}</td></tr>")
    parts.append("<h2>Runs</h2><table class=\"sortable\"><thead><tr><th class=\"num\" data-type=\"number\">seed</th>"
                 f"<th>status</th>{head}<th class=\"num\" data-type=\"number\">wall s</th><th>record</th></tr></thead>"
                 f"<tbody>{''.join(body)}</tbody></table>")
    for i, (r, _) in enumerate(records):
        seed = r["spec"]["seed"]
        parts.append(f"<section id=\"seed{seed}\"><h3>Seed {seed}: {_e(r.get('status'))}"
                     + (f" <a href=\"{_e(copies[i])}\">(record JSON)</a>" if i in copies else "") + "</h3>")
        if r.get("status") != "ok":
            err = r.get("error", {})
            parts.append(f"<p><strong>{_e(err.get('type', 'error'))}</strong>: {_e(err.get('message', ''))}</p>")
            if err.get("traceback"):
                parts.append(f"<pre>{_e(err['traceback'])}</pre>")
        parts.append(_kv_table({"key": r.get("key"), "started": r.get("started_at"), "ended": r.get("ended_at"),
                                "timings": r.get("timings"), "throughput": _throughput_text(r),
                                "code": r.get("code"), "plugins": r.get("plugins"), "precision": r.get("precision"),
                                "accelerator switches": r.get("accel")}))
        env = r.get("environment", {})
        parts.append("<details><summary>environment</summary>" + _kv_table(env) + "</details>")
        if r.get("metric_info"):
            parts.append("<details><summary>metric conventions</summary>" + _kv_table(
                {m: i.get("convention", "") for m, i in r["metric_info"].items()}) + "</details>")
        if r.get("data_files"):
            parts.append("<details><summary>data files</summary>" + _kv_table(
                {k: v.get("sha256") or v.get("md5") for k, v in r["data_files"].items()}) + "</details>")
        if r.get("details"):
            parts.append("<details><summary>details</summary><pre>"
                         + _e(json.dumps(r["details"], indent=1, default=str)[:200_000]) + "</pre></details>")
        parts.append("</section>")
    parts.append("</main>")
    return document(f"{row.label} · {table.title}", "\n".join(parts))


def _throughput_text(record: dict) -> dict:
    out = {}
    for name, fig in record.get("throughput", {}).items():
        if isinstance(fig, dict) and fig.get("items_per_s"):
            rate = fig["items_per_s"]
            out[name] = (f"{rate:,.1f}/s" if rate >= 100 else f"{rate:.3g}/s") + (f" (median of {fig['repeats']})" if fig.get("repeats") else "")
    return out


def _kv_table(values: dict) -> str:
    rows = []
    for key, value in values.items():
        if value is None or value == {} or value == []:
            continue
        if isinstance(value, dict):
            text = ", ".join(f"{k}={json.dumps(v, default=str) if isinstance(v, (dict, list)) else v}"
                             for k, v in value.items())
        else:
            text = str(value)
        rows.append(f"<tr><th>{_e(key)}</th><td>{_e(text)}</td></tr>")
    return f"<table class=\"kv\"><tbody>{''.join(rows)}</tbody></table>"

