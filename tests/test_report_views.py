"""The report's new views: rank column, per-image gallery pages, the critical-difference plot, the
quality-cost plot's x axes, plain tick labels, accuracy curves in %; in a real browser on real
Set12 records (slow, real data)."""

import json
import re
from html.parser import HTMLParser

import numpy as np
import pytest
import torch

import browser
import restoration_toy
import toy
from bench import Classifier, cli, hookimpl, registry
from bench.data.store import DataStore
from bench.html import build
from bench.html.cdplot import choose
from bench.html.collect import collect
from bench.html.plots import in_percent, quality_vs_cost, training_curves
from bench.progress import Progress
from bench.records import ResultStore, key_of, write_json_atomic
from bench.runner import run_specs
from bench.suite import load_suite
from markup import assert_no_markup_from_records

#: Per-image PSNR offsets of three methods on 12 images: "good" beats "fair" on every image, "fair"
#: beats "floor"; two noise levels, each its own leaderboard.
METHODS = {"good": 4.0, "fair": 2.0, "floor": 0.0}
SIGMAS = (25.0, 50.0)


def _png(path, array):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array.astype(np.uint8)).save(path)


def planted_restoration(root, images=12):
    rng = np.random.default_rng(0)
    clean = {f"{i:02d}": rng.integers(0, 255, (24, 24)).astype(np.float64) for i in range(1, images + 1)}
    for sigma in SIGMAS:
        for method, offset in METHODS.items():
            key = f"{method}-{sigma:g}"
            spec = {
                "suite": "planted",
                "dataset": "set12",
                "method": method,
                "protocol": "restore",
                "protocol_options": {"task": "denoise", "sigma": sigma},
                "params": {},
                "budget": {},
                "seed": 0,
            }
            per_image = []
            for n, (name, image) in enumerate(clean.items()):
                noisy = image + rng.normal(0, sigma, image.shape)
                restored = image + rng.normal(0, sigma / (1 + offset), image.shape)
                folder = root / f"{key}" / name
                _png(folder / "clean.png", image)
                _png(folder / "degraded.png", np.clip(noisy, 0, 255))
                _png(folder / "restored.png", np.clip(restored, 0, 255))
                psnr = 20.0 + offset + 0.1 * n - sigma / 25
                per_image.append({"image": name, "psnr": psnr, "ssim": psnr / 40, "input_sha256": f"{sigma}-{name}"})
            write_json_atomic(
                root / f"{key}.json",
                {
                    "schema_version": 1,
                    "key": key_of(spec),
                    "spec": spec,
                    "status": "ok",
                    "ended_at": "2026-01-01T00:00:00",
                    "metrics": {"psnr": sum(e["psnr"] for e in per_image) / images, "ssim": 0.5},
                    "throughput": {"restore_images_per_s": {"items_per_s": 10.0 / (1 + offset)}},
                    "timings": {"wall_seconds": 1.0 + offset},
                    "memory": {"bytes": (100 + 10 * offset) * 2**20, "kind": "cpu_peak_rss_increase"},
                    "environment": {"device": {"name": "cpu"}},
                    "details": {"setting": f"denoise sigma {sigma:g}", "per_image": per_image},
                },
            )
    return root


@pytest.fixture(scope="module")
def planted_site(tmp_path_factory):
    root = planted_restoration(tmp_path_factory.mktemp("planted") / "results")
    return build(root, root.parent / "site")


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links, self.ids = [], set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        for name in ("href", "src"):
            if attrs.get(name):
                self.links.append(attrs[name])


def parse(path):
    parser = Links()
    parser.feed(path.read_text())
    return parser


def test_restoration_rows_link_to_a_gallery_page_whose_links_all_resolve(planted_site):
    site = planted_site.root
    index = parse(site / "index.html")
    galleries = sorted({link for link in index.links if link.startswith("gallery/")})
    assert len(galleries) == 6  # three rows in each of two leaderboards
    assert {g.split("#")[0] for g in galleries} == {
        "gallery/planted-set12-restore-denoise-sigma-25.html",
        "gallery/planted-set12-restore-denoise-sigma-50.html",
    }
    for link in galleries:
        page, anchor = link.split("#")
        parsed = parse(site / page)
        assert anchor in parsed.ids  # the row's line in the paired comparison
        for target in parsed.links:
            path, _, fragment = target.partition("#")
            if path:
                assert (site / page).parent.joinpath(path).resolve().is_file(), target
            if fragment and not path:
                assert fragment in parsed.ids, target
        assert_no_markup_from_records((site / page).read_text())


def test_the_gallery_shows_every_image_with_crops_difference_maps_and_the_paired_test(planted_site):
    page = (planted_site.root / "gallery/planted-set12-restore-denoise-sigma-25.html").read_text()
    assert page.count('<section class="image"') == 12
    first = page[page.index('<section class="image" id="image-01"') : page.index('id="image-02"')]
    assert first.count("<figure>") == 5  # clean, degraded, three methods
    assert first.count("-crop.png") == 5 and first.count("-diff.png") == 3
    assert "good: 23.00 dB / 0.5750" in first
    # the paired comparison against the best: fair and floor lose on all 12 images
    assert re.search(r"fair</td><td>0/0/12</td><td>-2.00</td><td>0.000488", page), page[:3000]
    assert "Wilcoxon signed-rank test by image" in page and "same degraded inputs (checksums match)" in page


def test_the_zoomed_crop_is_where_the_methods_differ_most():
    from bench.html.gallery import crop_window

    clean = np.zeros((64, 64, 3))
    a, b = clean.copy(), clean.copy()
    b[40:56, 8:24] = 80.0  # the methods disagree only here
    top, left, side = crop_window(clean, [a, b])
    assert side == 16 and (top, left) == (40, 8)


def test_ranks_by_image_and_the_critical_difference_plot_across_the_suites_leaderboards(planted_site):
    html = planted_site.index.read_text()
    assert "planted · across 2 leaderboards" in html
    ranks = re.search(r'id="across-planted">(.*?)</section>', html, re.S).group(1)
    assert [m for m in re.findall(r"<tr><td>([a-z]+)</td>", ranks)] == ["good", "fair", "floor"]
    svg = planted_site.root / "plots/suite-planted-critical-difference.svg"
    assert svg.is_file() and "CD = 2.34" in svg.read_text()  # q(3) = 2.343, N = 2: 2.343 * sqrt(12 / 12)
    board = html[html.index("planted · set12 · restore · denoise sigma 25") :]
    ranks = re.findall(r'<tr data-row="[^"]+"><td class="num" data-value="\d">([^<]+)</td>', board)
    assert ranks[:3] == ["1", "2", "3"]  # 12 images that all agree: significant after Holm
    assert "Wilcoxon signed-rank test by image; two-sided, Holm-corrected" in board


def test_the_cd_plot_takes_the_tables_that_share_the_most_methods(planted_site):
    tables = planted_site.report.tables
    chosen, labels = choose(tables)
    assert len(chosen) == 2 and labels == ["fair", "floor", "good"]
    assert choose(tables[:1]) == ([], [])


def test_the_quality_cost_plot_offers_throughput_seconds_and_memory_with_plain_ticks(planted_site):
    html = planted_site.index.read_text()
    select = re.search(r'<select data-choice="[^"]+">(.*?)</select>', html).group(1)
    assert re.findall(r">(\w+)</option>", select) == ["throughput", "seconds", "memory"]
    for path in re.findall(r'<option value="([^"]+)"', select):
        svg = (planted_site.root / path).read_text()
        assert "$" not in svg and "mathdefault" not in svg  # no raw mathtext on the log axis
    assert "peak RSS+ MiB" in (planted_site.root / re.findall(r'<option value="([^"]+)"', select)[2]).read_text()


def test_log_axis_ticks_are_plain_numbers_over_a_narrow_range(tmp_path):
    """Rates 5,000-7,000: matplotlib labels minor log ticks as $\\mathdefault{6\\times10^{3}}$."""
    for i, rate in enumerate([5000.0, 6100.0, 7000.0]):
        spec = {
            "suite": "s",
            "dataset": "toy",
            "method": f"m{i}",
            "protocol": "classify",
            "protocol_options": {},
            "seed": 0,
            "params": {},
            "budget": {},
        }
        write_json_atomic(
            tmp_path / "r" / f"{i}.json",
            {
                "schema_version": 1,
                "key": key_of(spec),
                "spec": spec,
                "status": "ok",
                "metrics": {"test_accuracy": 90.0 + i},
                "throughput": {"train_images_per_s": {"items_per_s": rate}},
            },
        )
    report = collect(tmp_path / "r")
    plot = quality_vs_cost(report.tables[0], tmp_path / "site", "throughput")
    svg = (tmp_path / "site" / plot.path).read_text()
    assert "$" not in svg and "6,000" in svg


def test_accuracy_curves_are_drawn_in_percent_as_the_tables_show_them(tmp_path):
    assert in_percent("val_accuracy", [(1, 0.5), (2, 0.97)]) == ("val_accuracy %", [(1, 50.0), (2, 97.0)])
    assert in_percent("val_accuracy", [(1, 50.0)]) == ("val_accuracy", [(1, 50.0)])  # already in %
    assert in_percent("loss", [(1, 0.5)]) == ("loss", [(1, 0.5)])
    reg = registry.load(extra_plugins=[("toy", toy), ("logging_toy", LoggingToy())])
    path = tmp_path / "s.yaml"
    path.write_text("name: s\nruns: [{datasets: toy, methods: toy-logging, protocol: classify, budget: {epochs: 2}}]\n")
    run_specs(
        load_suite(path, reg).runs, reg, ResultStore(tmp_path / "r"), DataStore(tmp_path / "d"), Progress(quiet=True)
    )
    plot = training_curves(collect(tmp_path / "r").tables[0], tmp_path / "site")
    svg = (tmp_path / "site" / plot.path).read_text()
    assert "val accuracy %" in svg


# -- a toy run's record: peak memory, time to quality ----------------------------------------------------


def fit_logging(data, ctx):
    """toy-linear that logs its validation accuracy each epoch (ctx.log), as the built-ins do."""
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, data.num_classes)).to(ctx.device)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    for _ in ctx.epochs(ctx.budget.epochs):
        for x, y in ctx.batches(data.train, 50):
            loss = torch.nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            ctx.step(loss, n=len(x))
        ctx.log(val_accuracy=ctx.accuracy(model, data.val))
    return model


class LoggingToy:
    @hookimpl
    def bench_register_methods(self, register):
        register(Classifier("toy-logging", fit_logging, budget={"epochs": 3}))


def test_a_toy_run_records_its_peak_memory_and_its_table_shows_time_to_quality(tmp_path, capsys):
    reg = registry.load(extra_plugins=[("toy", toy), ("logging_toy", LoggingToy())])
    path = tmp_path / "s.yaml"
    path.write_text("name: s\nruns: [{datasets: toy, methods: toy-logging, protocol: classify}]\n")
    store = ResultStore(tmp_path / "r")
    suite = load_suite(path, reg)
    run_specs(suite.runs, reg, store, DataStore(tmp_path / "d"), Progress(quiet=True))
    record = store.read(suite.runs[0])
    assert record.memory["kind"] == "cpu_peak_rss_increase" and record.memory["bytes"] >= 0
    assert "VmHWM" in record.memory["how"] or "ru_maxrss" in record.memory["how"]
    assert cli.main(["table", str(tmp_path / "r"), "--format", "json"]) == 0
    row = json.loads(capsys.readouterr().out)[0]
    assert {"peak_rss_mib", "time_to_90_s", "time_to_99_s", "run_seconds"} <= set(row["metrics"])
    assert 0 < row["metrics"]["time_to_90_s"]["mean"] <= row["metrics"]["time_to_99_s"]["mean"]
    assert row["metrics"]["time_to_99_s"]["mean"] <= record.timings["train_seconds"]


def test_on_cuda_the_peak_is_torchs_max_memory_allocated(monkeypatch):
    """The CUDA path with torch.cuda mocked (no GPU here): reset at the start, read at the end."""
    import torch

    from bench import peakmem

    calls = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: calls.append("sync"))
    monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats", lambda device=None: calls.append("reset"))
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device=None: 10 * 2**20)
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda device=None: 700 * 2**20)
    with peakmem.measure(torch.device("cuda")) as memory:
        calls.append("run")
    assert calls == ["sync", "reset", "run", "sync"]
    assert memory == {
        "bytes": 700 * 2**20,
        "start_bytes": 10 * 2**20,
        "kind": "cuda_max_allocated",
        "how": memory["how"],
    }


# -- grid variants, compare, make quick ---------------------------------------------------------------


def test_variants_differing_only_in_an_option_are_named_so_only_can_pick_one(tmp_path, capsys, monkeypatch):
    reg = registry.load(extra_plugins=[("toy", toy), ("restoration_toy", restoration_toy)])
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: s\nruns:\n"
        "  - {datasets: tiny-restore, methods: degraded-input, protocol: {name: restore, task: denoise, monitor_every: 5}}\n"
        "  - {datasets: tiny-restore, methods: degraded-input, protocol: {name: restore, task: denoise, monitor_every: 10}}\n"
    )
    labels = [s.label for s in load_suite(path, reg).runs]
    assert labels == [
        "tiny-restore / degraded-input monitor_every=5 / restore / seed 0",
        "tiny-restore / degraded-input monitor_every=10 / restore / seed 0",
    ]
    monkeypatch.setattr(registry, "load", lambda *a, **k: reg)  # the CLI loads the registry itself
    argv = ["run", str(path), "--dry-run", "--only", "monitor_every=10", "--results-dir", str(tmp_path / "r")]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "monitor_every=10" in out and "monitor_every=5 " not in out
    run_specs(
        load_suite(path, reg).runs, reg, ResultStore(tmp_path / "r"), DataStore(tmp_path / "d"), Progress(quiet=True)
    )
    text = cli.main(["table", str(tmp_path / "r")])
    table = capsys.readouterr().out
    assert text == 0 and "degraded-input monitor_every=10" in table and "degraded-input monitor_every=5" in table


def test_compare_lists_a_restorers_iterations_per_s_once(tmp_path):
    from bench.compare import Tolerances, compare

    spec = {
        "suite": "s",
        "dataset": "set5",
        "method": "zssr",
        "protocol": "restore",
        "seed": 0,
        "params": {},
        "budget": {},
        "protocol_options": {"task": "sr", "scale": 2},
    }
    for side in ("base", "new"):
        write_json_atomic(
            tmp_path / side / "r.json",
            {
                "schema_version": 1,
                "key": key_of(spec),
                "spec": spec,
                "status": "ok",
                "metrics": {"psnr": 30.0, "iterations_per_s": 5.0},
                "throughput": {"iterations_per_s": {"items_per_s": 5.0}},
            },
        )
    metrics = [d.metric for d in compare(tmp_path / "base", tmp_path / "new", Tolerances())]
    assert metrics.count("iterations_per_s") == 1


def test_make_quick_prints_one_table():
    from pathlib import Path

    makefile = (Path(__file__).parents[1] / "Makefile").read_text()
    recipe = re.search(r"^quick:.*\n((?:\t.*\n)+)", makefile, re.M).group(1).splitlines()
    printing = [line for line in recipe if "bench table" in line or ("bench run" in line and "> /dev/null" not in line)]
    assert len(printing) == 1 and "--format markdown" in printing[0]


# -- in a real browser, on real Set12 records ----------------------------------------------------------

SET12 = """
name: set12-report
seeds: [0]
runs:
"""
for _sigma in (25.0, 50.0):
    SET12 += f"""  - datasets: [set12]
    methods: [degraded-input, {{name: bm3d, params: {{stages: hard}}}},
              {{name: dip, params: {{channels: 8, scales: 2, input_depth: 4}}, budget: {{denoise_iterations: 10}}}}]
    protocol: {{name: restore, task: denoise, sigma: {_sigma}, max_images: 2, monitor_every: 5}}
"""


@pytest.fixture(scope="module")
def chromium():
    browser.require_browser()
    with browser.open_chromium() as driver:
        yield driver


@pytest.mark.slow
@pytest.mark.real_data
def test_the_report_of_real_set12_records_shows_gallery_and_cd_plot_in_chromium(tmp_path, chromium, shared_data):
    if not (shared_data / "restoration" / "Set12").is_dir():
        pytest.skip(f"Set12 not found under {shared_data}")
    reg = registry.load()
    path = tmp_path / "set12.yaml"
    path.write_text(SET12)
    suite = load_suite(path, reg)
    outcome = run_specs(
        suite.runs, reg, ResultStore(tmp_path / "r"), DataStore(shared_data, offline=True), Progress(quiet=True)
    )
    assert not outcome.failed
    site = build(tmp_path / "r", tmp_path / "site")
    with browser.serve(site.root) as url:
        problems = browser.check_report(chromium, url + "index.html")
        problems += browser.check_choice(chromium, url + "index.html")
        problems += browser.check_gallery(chromium, url + "index.html")
        shots = tmp_path / "screenshots"
        chromium.get(url + "index.html")
        browser.wait_for_images(chromium)
        index_shot = browser.screenshot(chromium, shots / "index.png")
        chromium.set_window_size(1400, 1000)
        chromium.get(url + next(p.relative_to(site.root).as_posix() for p in site.pages if "gallery/" in str(p)))
        browser.wait_for_images(chromium)
        gallery_shot = browser.screenshot(chromium, shots / "gallery.png")
        chromium.set_window_size(1400, 1000)
    print(f"screenshots: {index_shot} {gallery_shot}")
    assert problems == []
    assert index_shot.stat().st_size > 20_000 and gallery_shot.stat().st_size > 20_000
    html = site.index.read_text()
    assert "set12-report · across 2 leaderboards" in html and "critical-difference.svg" in html
