"""bench.html.page: the leaderboard page (a board per suite, dataset, protocol and setting; the labels
column) and every value a record carries shown escaped, as text."""

import re
from html import escape

from bench import cli
from bench.records import key_of, write_json_atomic
from markup import HOSTILE, Elements, assert_no_markup_from_records, files_outside


def test_the_site_has_a_leaderboard_per_suite_dataset_protocol_and_setting(site):
    html = site.index.read_text()
    titles = re.findall(r"<h3>(.*?)</h3>", html)
    assert titles == [
        "board · toy · classify",
        "restore · tiny-restore · restore · denoise sigma 25",
        "restore · tiny-restore · restore · sr x2",
    ]
    board = html[html.index("<h3>board · toy · classify</h3>") : html.index("<h3>restore")]
    # mean ± std over the three seeds, as bench table prints it
    linear = next(r for t in site.report.tables for r in t.rows if r.label == "toy-linear")
    acc = linear.data.metrics["test_accuracy"]
    assert acc.n == 3 and f"{acc.mean:.2f} ± {acc.std:.2f}" in board
    # the failed method is a row marked failed, and its runs are listed with their error
    assert re.search(r'<tr class="failed-row"[^>]*>.*?toy-crash.*?failed', board)
    assert "toy-crash seed 2</a>: RuntimeError toy-crash always fails" in board
    # the published number sits beside ours, carried by the record
    assert "paper test acc %" in board and ">99.50<" in board and "Toy et al. 2024" in board
    assert "12.00" not in board  # another dataset's number is not shown
    # sortable headers and the inline script; nothing fetched from the network
    assert 'table class="sortable leaderboard"' in html and "aria-sort" in html
    assert not re.search(r'(src|href)="(https?:)?//', html) and "<link" not in html


def test_the_report_leaderboard_has_a_labels_column_sorted_by_labels_per_class(label_site):
    html = label_site.index.read_text()
    board = html[html.index('<table class="sortable leaderboard"') : html.index("</table>")]
    heads = re.findall(r"<th[^>]*>([^<]*)</th>", board)
    assert heads[:4] == ["rank", "method", "labels", "budget"]  # where bench table puts it
    assert re.search(r'<th data-type="number"[^>]*>labels</th>', board)  # sorted as numbers, not as text
    cells = re.findall(r'<td class="num" data-value="([^"]*)">(\d+/class|all|[\d.]+%)</td>', board)
    assert cells == [("2.0", "2/class"), ("10.0", "10/class"), ("Infinity", "all")]  # all labels last


def hostile_records(root):
    """One row of two records (ok, failed) with markup in every text field the schema allows, and
    a record whose seed is a path, which the schema refuses."""
    spec = {
        "suite": HOSTILE,
        "dataset": HOSTILE,
        "method": HOSTILE,
        "protocol": HOSTILE,
        "seed": 0,
        "params": {HOSTILE: HOSTILE},
        "budget": {HOSTILE: HOSTILE},
        "protocol_options": {HOSTILE: HOSTILE},
        "device": HOSTILE,
        "precision": HOSTILE,
    }
    common = {
        "schema_version": 1,
        "started_at": HOSTILE,
        "ended_at": HOSTILE,
        "timings": {HOSTILE: 1.0, "wall_seconds": 2.0},
        "environment": {"device": {"name": HOSTILE}, HOSTILE: HOSTILE},
        "code": {HOSTILE: HOSTILE},
        "plugins": {HOSTILE: HOSTILE},
        "accel": {HOSTILE: HOSTILE},
        "precision": HOSTILE,
        "data_files": {HOSTILE: {"sha256": HOSTILE}},
        HOSTILE: HOSTILE,
        "published": [
            {"metric": "test_accuracy", "value": 99.0, "dataset": HOSTILE, "source": HOSTILE, "note": HOSTILE}
        ],
        "artifacts": [
            {"path": "../../../../../outside.png", "kind": HOSTILE, "caption": HOSTILE},
            {"path": str(root.parent / "outside.png"), "kind": HOSTILE},
        ],
    }
    ok = {
        **common,
        "key": key_of(spec),
        "spec": spec,
        "status": "ok",
        "metrics": {"test_accuracy": 90.0, HOSTILE: 1.0},
        "metric_info": {"test_accuracy": {"convention": HOSTILE, "unit": HOSTILE}, HOSTILE: {"kind": HOSTILE}},
        "throughput": {HOSTILE: {"items_per_s": 10.0}},
        "details": {
            HOSTILE: HOSTILE,
            "features": {"chosen": {HOSTILE: HOSTILE}},
            "curves": [{"epoch": 1, HOSTILE: 0.5}],
        },
    }
    failed = {
        **common,
        "key": key_of({**spec, "seed": 1}),
        "spec": {**spec, "seed": 1},
        "status": "failed",
        "error": {"type": HOSTILE, "message": HOSTILE, "traceback": HOSTILE},
    }
    write_json_atomic(root / "ok.json", ok)
    write_json_atomic(root / "failed.json", failed)
    write_json_atomic(root / "path-seed.json", {**ok, "key": "k2", "spec": {**spec, "seed": "/../../../../x"}})
    (root.parent / "outside.png").write_bytes(b"\x89PNG not really")


def test_a_hostile_record_puts_no_markup_in_any_page_and_no_file_outside_the_site(tmp_path, capsys):
    results = tmp_path / "results"
    hostile_records(results)
    site = tmp_path / "a" / "b" / "c" / "d" / "site"
    before = files_outside(tmp_path, site)
    assert cli.main(["report", str(results), "-o", str(site)]) == 0
    out, err = capsys.readouterr()
    assert "from 2 records, 1 unreadable" in out and "path-seed.json: spec.seed: expected an integer" in err
    assert files_outside(tmp_path, site) == before
    pages = sorted(site.rglob("*.html"))
    assert len(pages) == 2  # index.html and the row's page
    for path in pages:
        parsed = assert_no_markup_from_records(path.read_text())
        assert any(HOSTILE in text for text in parsed.text), path  # shown as text, not dropped
    record_page = next(p for p in pages if p.name != "index.html").read_text()
    assert record_page.count(escape(HOSTILE, quote=True)) > 20
    assert "Listed in the records but missing" in (site / "index.html").read_text()  # the outside pictures
    plots = sorted(site.rglob("*.svg"))
    assert plots
    for path in plots:
        parsed = Elements()
        parsed.feed(path.read_text())
        assert "script" not in {tag for tag, _ in parsed.elements}
        assert not [name for _, attrs in parsed.elements for name, _ in attrs if name.startswith("on")]
