"""bench.html.collect: the report's rows with their published numbers (from the record or the installed
plugin) and, against a baseline, bench compare's verdicts."""

import json
import re
import shutil

from bench import cli
from bench.compare import Tolerances, compare
from bench.html.collect import collect
from bench.records import key_of, write_json_atomic


def test_the_baseline_view_marks_bench_compares_verdicts(results, tmp_path):
    baseline = tmp_path / "baseline"
    shutil.copytree(results, baseline)
    for path in baseline.rglob("*.json"):
        record = json.loads(path.read_text())
        if (
            isinstance(record, dict)
            and record.get("spec", {}).get("method") == "toy-linear"
            and record["status"] == "ok"
        ):
            record["metrics"]["test_accuracy"] += 5.0 + record["spec"]["seed"] * 0.1
            write_json_atomic(path, record)
    out = tmp_path / "site"
    assert cli.main(["report", str(results), "-o", str(out), "--baseline", str(baseline)]) == 0
    html = (out / "index.html").read_text()
    deltas = {(d.name, d.metric): d.verdict for d in compare(baseline, results, Tolerances())}
    assert deltas["board / toy / classify / toy-linear", "test_accuracy"] == "REGRESSION"
    assert "Against the baseline" in html and "Regressed beyond the noise" in html
    row = re.search(r'<tr data-row="[^"]*toy-linear">(.*?)</tr>', html).group(1)
    assert 'class="num regressed"' in row and "regressed (base" in row
    marked = len(re.findall(r'class="num regressed"', html))
    assert marked == sum(v == "REGRESSION" and m != "status" for (_, m), v in deltas.items())


def test_published_numbers_come_from_the_installed_plugin_for_older_records(tmp_path):
    spec = {
        "suite": "old",
        "dataset": "set5",
        "method": "bicubic",
        "protocol": "restore",
        "protocol_options": {"task": "sr", "scale": 3},
        "params": {},
        "budget": {},
        "seed": 0,
    }
    write_json_atomic(
        tmp_path / "r.json",
        {
            "schema_version": 1,
            "key": key_of(spec),
            "spec": spec,
            "status": "ok",
            "metrics": {"psnr": 30.4, "ssim": 0.868},
        },
    )
    report = collect(tmp_path)
    row = report.tables[0].rows[0]
    assert row.published["psnr"][0]["value"] == 30.39 and row.published["psnr"][0]["origin"] == "installed plugin"
    assert row.published["ssim"][0]["value"] == 0.8682 and report.notes
    assert {p["setting"] for entries in row.published.values() for p in entries} == {"sr x3"}  # the table's only


def test_the_report_asks_published_applies_to_which_numbers_sit_beside_a_row(tmp_path, monkeypatch):
    """One place decides whether a published number applies (the runner's and the report's)."""
    from bench.specs import Published

    test_published_numbers_come_from_the_installed_plugin_for_older_records(tmp_path)
    asked = []
    monkeypatch.setattr(Published, "applies_to", lambda self, *args, **kw: asked.append(kw) or False)
    assert not collect(tmp_path).tables[0].rows[0].published
    assert asked and all(kw == {"setting": "sr x3"} for kw in asked)
