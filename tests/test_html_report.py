"""`bench report`: the static HTML site, built from real (tiny) runs' records, and looked at in a
real browser (Debian's headless Chromium through Selenium)."""

import json
import re
import shutil
from html import escape

import pytest

import browser
import report_toy
import restoration_toy
import toy
from bench import cli, registry
from bench.compare import Tolerances, compare
from bench.data.store import DataStore
from bench.html import SiteError, build
from bench.html.collect import collect
from bench.html.plots import pareto_front
from bench.progress import Progress
from bench.records import ResultStore, key_of, write_json_atomic
from bench.runner import run_specs
from bench.suite import load_suite
from markup import HOSTILE, Elements, assert_no_markup_from_records, files_outside

TINY_DIP = "{channels: 8, scales: 2, input_depth: 4}"
TINY_ZSSR = "{width: 8, depth: 3, crop_size: 16, back_projection_iters: 2, run_test_every: 2}"

SUITES = {
    # Three seeds of two classifiers (one declares a published number and saves pictures) and one
    # that always fails: mean ± std, a Pareto front, a failed row, pictures of a declared kind.
    "board": """
name: board
seeds: [0, 1, 2]
runs:
  - datasets: toy
    methods: [toy-linear, toy-painter, toy-crash]
    protocol: classify
    budget: {epochs: 2}
""",
    # Restoration: a floor and two learned restorers, with PSNR-by-iteration curves and pictures.
    "restore": f"""
name: restore
seeds: [0]
runs:
  - datasets: tiny-restore
    methods: [bicubic, {{name: zssr, params: {TINY_ZSSR}, budget: {{iterations: 4}}}}]
    protocol: {{name: restore, task: sr, scale: 2}}
  - datasets: tiny-restore
    methods: [degraded-input, {{name: dip, params: {TINY_DIP}, budget: {{denoise_iterations: 4}}}}]
    protocol: {{name: restore, task: denoise, sigma: 25.0, monitor_every: 1}}
""",
}


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    root = tmp_path_factory.mktemp("report") / "results"
    reg = registry.load(extra_plugins=[("toy", toy), ("report_toy", report_toy), ("restoration_toy", restoration_toy)])
    for name, text in SUITES.items():
        path = root.parent / f"{name}.yaml"
        path.write_text(text)
        suite = load_suite(path, reg)
        run_specs(suite.runs, reg, ResultStore(root), DataStore(root.parent / "data"), Progress(quiet=True))
    return root


@pytest.fixture(scope="module")
def site(results):
    return build(results, results.parent / "site")


def page(site) -> str:
    return site.index.read_text()


@pytest.mark.slow  # ~17 s of CPU
def test_the_site_has_a_leaderboard_per_suite_dataset_protocol_and_setting(site):
    html = page(site)
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


def test_every_row_links_to_a_page_with_its_records(site, results):
    html = page(site)
    links = re.findall(r'href="(records/[^"#]+\.html)"', html)
    assert len(set(links)) == 7  # 3 classifiers, 4 restoration rows
    crash = (site.root / next(l for l in links if "toy-crash" in l)).read_text()
    assert "RuntimeError" in crash and "Traceback" in crash and "environment" in crash
    painter = (site.root / next(l for l in links if "toy-painter" in l)).read_text()
    assert "Configuration" in painter and "budget" in painter and "Toy et al. 2024" in painter
    copies = re.findall(r'href="([^"]+\.json)"', painter)
    assert len(set(copies)) == 3
    record = json.loads((site.root / "records" / copies[0]).read_text())
    assert record["spec"]["method"] == "toy-painter" and record["status"] == "ok"


def test_plots_and_pictures_are_files_beside_the_page(site):
    html = page(site)
    sources = re.findall(r'<img src="([^"]+)"', html)
    assert sources and all((site.root / s).is_file() for s in sources)
    svgs = [s for s in sources if s.endswith(".svg")]
    assert any("pareto" in s for s in svgs) and any("seeds" in s for s in svgs)
    assert any("training" in s for s in svgs) and any("curve" in s for s in svgs)
    pareto = (site.root / next(s for s in svgs if "board" in s and "pareto" in s)).read_text()
    assert pareto.startswith("<?xml") and "Pareto front" in pareto
    pngs = [s for s in sources if s.endswith(".png")]
    assert len([s for s in pngs if "/restoration/" in s]) == 4  # 2 images x (sr x2, denoise)
    fractals = [s for s in pngs if "/fractal/" in s]
    assert len(fractals) == 12  # 4 pictures x 3 seeds of toy-painter
    assert "The fractal and its perturbations" in html and "perturbation 3" in html
    assert re.search(r"gray: .*dip \(denoise_iterations=4\): [\d.]+ dB / [\d.]+", html)  # PSNR captions


def test_pareto_front_keeps_the_points_nothing_beats_on_both_axes():
    points = [(10.0, 90.0), (100.0, 80.0), (50.0, 70.0), (5.0, 95.0), (100.0, 60.0)]
    assert sorted(pareto_front(points)) == [0, 1, 3]


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


def test_an_output_folder_is_rebuilt_only_when_it_holds_a_report(results, tmp_path, capsys):
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(SiteError, match="not empty"):
        build(results, other)
    assert cli.main(["report", str(results), "-o", str(other)]) == 2
    assert (other / "notes.txt").read_text() == "mine"
    out = tmp_path / "site"
    build(results, out, suite="board")
    stale = out / "plots" / "stale.svg"
    stale.write_text("<svg/>")
    capsys.readouterr()
    assert cli.main(["report", str(results), "-o", str(out), "--suite", "board"]) == 0
    assert not stale.exists() and "1 leaderboards from 9 records" in capsys.readouterr().out
    assert cli.main(["report", str(tmp_path / "none"), "-o", str(out)]) == 2


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


def test_a_listed_picture_that_is_missing_is_said_not_drawn(results, tmp_path, capsys):
    copy = tmp_path / "results"
    shutil.copytree(results, copy)
    victim = next(copy.rglob("images/fractal/perturbed-2.png"))
    victim.unlink()
    assert cli.main(["report", str(copy), "-o", str(tmp_path / "site"), "--suite", "board"]) == 0
    assert "missing: toy-painter seed" in capsys.readouterr().err
    assert "missing from the results folder" in (tmp_path / "site" / "index.html").read_text()


# -- in a real browser ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chromium():
    browser.require_browser()
    with browser.open_chromium() as driver:
        yield driver


@pytest.mark.slow
def test_the_report_renders_and_sorts_in_chromium(site, chromium, tmp_path_factory):
    with browser.serve(site.root) as url:
        problems = browser.check_report(chromium, url + "index.html")
        shot = browser.screenshot(chromium, tmp_path_factory.mktemp("screenshots") / "report.png")
        chromium.set_window_size(1400, 1000)
    print(f"screenshot of the report: {shot}")
    assert problems == []
    assert shot.stat().st_size > 10_000


@pytest.mark.slow
def test_the_browser_check_reports_a_missing_picture_or_plot(site, chromium, tmp_path):
    copy = tmp_path / "site"
    shutil.copytree(site.root, copy)
    picture = next(copy.glob("images/restoration/**/*.png"))
    plot = next(copy.glob("plots/*pareto.svg"))
    picture.unlink()
    plot.unlink()
    with browser.serve(copy) as url:
        problems = browser.check_report(chromium, url + "index.html")
    assert any(picture.relative_to(copy).as_posix() in p for p in problems), problems
    assert any(plot.relative_to(copy).as_posix() in p for p in problems), problems
    assert all(p.startswith("image or plot not rendered") for p in problems)


# -- hostile records ---------------------------------------------------------------------------------


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


def test_the_site_escapes_and_names_safely_even_what_the_schema_would_refuse(results, tmp_path, monkeypatch):
    """The page and the file names do not rely on the schema: records changed after it checked
    them (a seed that is a path and markup, a wall time that is markup) still write nothing
    outside the site and put no markup in a page."""
    from bench.html import site as site_module

    def hostile_collect(*args, **kwargs):
        report = collect(*args, **kwargs)
        for table in report.tables:
            for row in table.rows:
                for record in row.group.records:
                    record.spec["seed"] = f"/../../../../{record.spec['seed']}{HOSTILE}"
                    record.timings["wall_seconds"] = HOSTILE
        return report

    monkeypatch.setattr(site_module, "collect", hostile_collect)
    out = tmp_path / "a" / "b" / "c" / "d" / "site"
    before = files_outside(tmp_path, out)
    built = build(results, out, suite="board")
    assert files_outside(tmp_path, out) == before
    assert len(built.pages) == 4 and len(list((out / "records").rglob("*.json"))) == 9 and built.pictures == 12
    for path in built.pages:
        assert_no_markup_from_records(path.read_text())
