"""The site's style sheet and its one script, inlined into every page (no network at view time)."""

CSS = """
:root { --fg: #1d2330; --muted: #5b6475; --line: #d9dde5; --bg: #ffffff; --soft: #f5f7fa;
        --accent: #1f5fae; --bad: #b3261e; --bad-bg: #fde7e6; --good: #1b7a3a; --good-bg: #e3f4e8;
        --noise-bg: #f1f1f1; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
       color: var(--fg); background: var(--bg); }
header.top { padding: 18px 28px 12px; border-bottom: 1px solid var(--line); background: var(--soft); }
header.top h1 { margin: 0 0 4px; font-size: 22px; }
header.top p { margin: 2px 0; color: var(--muted); }
nav.toc { padding: 8px 28px; border-bottom: 1px solid var(--line); font-size: 13px; }
nav.toc a { margin-right: 14px; white-space: nowrap; }
main { padding: 8px 28px 40px; max-width: 1500px; }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
h2 { margin: 26px 0 6px; font-size: 19px; border-bottom: 2px solid var(--line); padding-bottom: 4px; }
h3 { margin: 22px 0 4px; font-size: 16px; }
h4 { margin: 14px 0 6px; font-size: 14px; }
p.meta, .note { color: var(--muted); font-size: 12.5px; margin: 2px 0 8px; }
section.board { margin-bottom: 26px; }
table { border-collapse: collapse; font-size: 13px; margin: 6px 0 10px; }
th, td { border-bottom: 1px solid var(--line); padding: 5px 10px; text-align: left; vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
thead th { background: var(--soft); position: sticky; top: 0; }
table.sortable thead th { cursor: pointer; user-select: none; }
table.sortable thead th::after { content: " \\2195"; color: #aab; font-size: 11px; }
table.sortable thead th[aria-sort="ascending"]::after { content: " \\25B2"; color: var(--accent); }
table.sortable thead th[aria-sort="descending"]::after { content: " \\25BC"; color: var(--accent); }
tbody tr:nth-child(even) { background: #fafbfc; }
tr.failed-row td { background: var(--bad-bg); }
.badge { display: inline-block; padding: 0 6px; border-radius: 8px; font-size: 11.5px; margin-left: 4px; }
.badge.failed { background: var(--bad); color: white; }
.badge.ok { background: var(--good-bg); color: var(--good); }
.badge.stale { background: #fff1c2; color: #7a5300; }
td.paper { color: #6a3d9a; }
td.regressed { background: var(--bad-bg); color: var(--bad); font-weight: 600; }
td.improved { background: var(--good-bg); color: var(--good); }
td.noise { background: var(--noise-bg); }
.verdict { font-size: 11px; display: block; font-weight: normal; }
.plots { display: flex; flex-wrap: wrap; gap: 14px; align-items: flex-start; }
figure { margin: 0; }
.plots figure img { max-width: 640px; width: 100%; border: 1px solid var(--line); background: white; }
.plots figure.wide img { max-width: 980px; }
figcaption { font-size: 12px; color: var(--muted); max-width: 640px; margin-top: 3px; }
.gallery figure { margin: 8px 0 14px; }
.gallery img { max-width: 100%; image-rendering: auto; border: 1px solid var(--line); }
.gallery .grid { display: flex; flex-wrap: wrap; gap: 10px; }
.gallery .grid figure img { width: 160px; image-rendering: pixelated; }
.gallery .grid figcaption { max-width: 160px; }
.failures { border-left: 3px solid var(--bad); padding: 4px 10px; background: #fff8f7; margin: 6px 0 12px; }
.failures li { margin: 2px 0; }
pre { background: var(--soft); padding: 8px 10px; overflow-x: auto; font-size: 12px; border: 1px solid var(--line); }
details summary { cursor: pointer; color: var(--accent); margin: 4px 0; }
.summary-verdicts span { margin-right: 12px; }
label.choice { display: block; font-size: 12px; color: var(--muted); margin-bottom: 3px; }
p.rank-note { font-style: italic; }
.gallery-link { font-size: 12px; margin-left: 6px; white-space: nowrap; }
img.spark { height: 20px; width: auto; vertical-align: middle; margin-left: 6px; }
table.history tr.step td { background: var(--bad-bg); }
section.image .panels { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; }
section.image figure { max-width: 260px; }
section.image figure img { display: block; max-width: 256px; margin-bottom: 4px; border: 1px solid var(--line);
                          image-rendering: pixelated; }
"""

#: Click a header to sort by that column (numbers by their data-value, text otherwise); click
#: again to reverse. Rows without a value (a failed run's metrics) stay last either way.
SORT_JS = """
(function () {
  function value(cell) {
    if (!cell) return null;
    var v = cell.getAttribute('data-value');
    if (v === null) return cell.textContent.trim().toLowerCase();
    if (v === '') return null;
    var n = parseFloat(v);
    return isNaN(n) ? v.toLowerCase() : n;
  }
  function sortBy(table, th, index) {
    var body = table.tBodies[0];
    var current = th.getAttribute('aria-sort');
    var numeric = th.getAttribute('data-type') === 'number';
    // First click: best first (descending, or ascending where lower is better), text A to Z.
    var first = numeric && th.getAttribute('data-better') !== 'lower' ? -1 : 1;
    var dir = current ? (current === 'descending' ? 1 : -1) : first;
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (c) { c.removeAttribute('aria-sort'); });
    th.setAttribute('aria-sort', dir === 1 ? 'ascending' : 'descending');
    var rows = Array.prototype.slice.call(body.rows);
    rows.forEach(function (r, i) { r._pos = i; });
    rows.sort(function (a, b) {
      var x = value(a.cells[index]), y = value(b.cells[index]);
      if (x === null && y === null) return a._pos - b._pos;
      if (x === null) return 1;
      if (y === null) return -1;
      if (x < y) return -dir;
      if (x > y) return dir;
      return a._pos - b._pos;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }
  document.querySelectorAll('table.sortable').forEach(function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, index) {
      th.setAttribute('tabindex', '0');
      th.setAttribute('title', 'sort by ' + th.textContent.trim());
      th.addEventListener('click', function () { sortBy(table, th, index); });
      th.addEventListener('keydown', function (e) { if (e.key === 'Enter') sortBy(table, th, index); });
    });
  });
})();
"""

#: A figure with a choice (``<select data-choice=SLUG>``) shows the option picked: the quality-cost
#: plot's x axis. Without a script the first view stays.
CHOICE_JS = """
(function () {
  document.querySelectorAll('select[data-choice]').forEach(function (select) {
    var slug = select.getAttribute('data-choice');
    var img = document.querySelector('img[data-choice-img="' + slug + '"]');
    var caption = document.querySelector('[data-choice-caption="' + slug + '"]');
    select.addEventListener('change', function () {
      var option = select.options[select.selectedIndex];
      img.setAttribute('src', option.value);
      img.setAttribute('alt', option.getAttribute('data-alt'));
      if (caption) caption.textContent = option.textContent + ': ' + option.getAttribute('data-alt');
    });
  });
})();
"""

#: The pages' one script: sorting, then choices.
SCRIPT = SORT_JS + CHOICE_JS
