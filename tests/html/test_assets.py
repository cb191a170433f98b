"""bench.html.assets: the inline style sheet and sorting script, in a real browser (Debian's headless
Chromium through Selenium): the page renders, sorts, and the check sees what did not render."""

import shutil

import pytest

import browser


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


@pytest.mark.slow
def test_the_label_efficiency_report_renders_in_chromium(label_site, chromium):
    with browser.serve(label_site.root) as url:
        assert browser.check_report(chromium, url + "index.html", pictures=False) == []
        problems, shown = browser.check_sorting_by(chromium, url + "index.html", "labels")
        assert problems == [] and shown == [["2/class", "10/class", "all"], ["all", "10/class", "2/class"]]
