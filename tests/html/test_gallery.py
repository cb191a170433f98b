"""bench.html.gallery: a page per restoration leaderboard, every image with crops, difference maps and
the paired test, its links resolving; in a real browser on real Set12 records (slow, real data)."""

import re
from html.parser import HTMLParser

import numpy as np
import pytest

import browser
from bench import registry
from bench.data.store import DataStore
from bench.html import build
from bench.progress import Progress
from bench.records import ResultStore
from bench.runner import run_specs
from bench.suite import load_suite
from markup import assert_no_markup_from_records


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
