"""Look at a generated report in a real browser: Debian's headless Chromium driven by Selenium.

``serve(folder)`` serves a folder on localhost in a thread; ``open_chromium()`` starts the browser
(closed network, fresh profile); ``check_report(driver, url)`` returns the problems a person would
see (an image or plot that did not render, an empty leaderboard, sorting that does nothing, a dead
record link); ``screenshot(driver, path)`` saves the whole page.

Also a command, to look at any report folder::

    python tests/browser.py report/ shot.png
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

CHROMIUM = os.environ.get("BENCH_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("BENCH_CHROMEDRIVER", "/usr/bin/chromedriver")

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--window-size=1400,1000",
)


def missing_browser() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    for path in (CHROMIUM, CHROMEDRIVER):
        if not Path(path).exists():
            return f"{path} not found (apt-get install -y chromium chromium-driver)"
    return None


def require_browser() -> None:
    """Skip the calling test when the browser is missing, or fail it where CI sets
    BENCH_REQUIRE_BROWSER (there a browser test must run, not skip)."""
    import pytest

    reason = missing_browser()
    if reason and os.environ.get("BENCH_REQUIRE_BROWSER"):
        pytest.fail(f"BENCH_REQUIRE_BROWSER is set but {reason}")
    if reason:
        pytest.skip(reason)


@contextlib.contextmanager
def serve(folder: str | Path):
    """Serve ``folder`` on 127.0.0.1 (a free port) in a thread; yields the base URL."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def open_chromium(width: int = 1400, height: int = 1000):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="bench-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    try:
        driver.set_window_size(width, height)
        driver.set_page_load_timeout(30)
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


_IMAGES = """return Array.from(document.images).map(i => [i.getAttribute('src'), i.complete, i.naturalWidth]);"""

_ORDER = """return Array.from(arguments[0].tBodies[0].rows).map(r => r.getAttribute('data-row'));"""

_VALUES = """return Array.from(arguments[0].tBodies[0].rows).map(r => {
  const v = r.cells[arguments[1]].getAttribute('data-value');
  return (v === null || v === '') ? null : parseFloat(v); });"""


def wait_for_images(driver, timeout: float = 10.0) -> list:
    deadline = time.monotonic() + timeout
    while True:
        images = driver.execute_script(_IMAGES)
        if all(complete for _, complete, _ in images) or time.monotonic() > deadline:
            return images
        time.sleep(0.05)


def check_report(driver, url: str, pictures: bool = True) -> list[str]:
    """Open the report at ``url`` and return every problem found (empty: it renders and works).
    ``pictures``: the page must show at least one PNG (restored images, a method's pictures)."""
    from selenium.webdriver.common.by import By

    problems = []
    driver.get(url)
    images = wait_for_images(driver)
    for src, _, width in images:
        if not width:
            problems.append(f"image or plot not rendered: {src}")
    plots = [src for src, _, _ in images if src.endswith(".svg")]
    if not plots:
        problems.append("no plots (SVG) on the page")
    if pictures and not any(src.endswith(".png") for src, _, _ in images):
        problems.append("no pictures (PNG) on the page")
    tables = driver.find_elements(By.CSS_SELECTOR, "table.leaderboard")
    if not tables:
        problems.append("no leaderboard table")
    for table in tables:
        if not table.find_elements(By.CSS_SELECTOR, "tbody tr"):
            problems.append(f"empty leaderboard {table.get_attribute('data-table')}")
    sortable = [t for t in tables if len(t.find_elements(By.CSS_SELECTOR, "tbody tr")) >= 2]
    if not sortable:
        problems.append("no leaderboard with two rows to sort")
    else:
        problems += _check_sorting(driver, sortable[0])
    links = driver.find_elements(By.CSS_SELECTOR, "table.leaderboard tbody a[href^='records/']")
    if not links:
        problems.append("no leaderboard row links to its records")
    else:
        href = links[0].get_attribute("href")
        driver.get(href)
        if not driver.find_elements(By.CSS_SELECTOR, "section[id^='seed'] table.kv"):
            problems.append(f"record page {href} shows no record")
        driver.get(url)
        wait_for_images(driver)
    return problems


def check_choice(driver, url: str) -> list[str]:
    """Pick each x axis of the first quality-cost plot: the picture must change and render."""
    from selenium.webdriver.support.ui import Select

    driver.get(url)
    selects = driver.find_elements("css selector", "select[data-choice]")
    if not selects:
        return ["no quality-cost plot with a choice of x axis"]
    slug = selects[0].get_attribute("data-choice")
    img = driver.find_element("css selector", f'img[data-choice-img="{slug}"]')
    problems, seen = [], set()
    for option in Select(selects[0]).options:
        Select(selects[0]).select_by_value(option.get_attribute("value"))
        wait_for_images(driver)
        src = img.get_attribute("src")
        seen.add(src)
        if not driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth", img):
            problems.append(f"x axis {option.text!r}: plot not rendered ({src})")
    if len(seen) != len(Select(selects[0]).options):
        problems.append(f"choosing an x axis did not change the plot: {sorted(seen)}")
    return problems


def check_history(driver, url: str) -> list[str]:
    """A row's history sparkline must render beside it in the leaderboard and lead to its page's
    history section, whose plot renders too."""
    driver.get(url)
    wait_for_images(driver)
    sparks = driver.find_elements("css selector", "table.leaderboard a.history-link img.spark")
    if not sparks:
        return ["no leaderboard row shows a history sparkline"]
    problems = []
    if not driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth", sparks[0]):
        problems.append(f"history sparkline not rendered: {sparks[0].get_attribute('src')}")
    href = driver.find_element("css selector", "table.leaderboard a.history-link").get_attribute("href")
    driver.get(href)
    plots = driver.find_elements("css selector", "section#history img")
    if not plots:
        return [*problems, f"{href} shows no history plot"]
    problems += [f"history plot not rendered: {src}" for src, _, width in wait_for_images(driver) if not width]
    if not driver.find_elements("css selector", "section#history table.history tr.step"):
        problems.append(f"{href}: no version marked as a step")
    return problems


_RAW_VALUES = (
    """return Array.from(arguments[0].tBodies[0].rows).map(r => r.cells[arguments[1]].getAttribute('data-value'));"""
)


def check_sorting_by(driver, url: str, column: str) -> tuple[list[str], list[list[str]]]:
    """Click the header ``column`` of the first leaderboard that has it, twice: returns (problems,
    the column's cells as shown after each click). Each click must leave its values sorted."""
    driver.get(url)
    for table in driver.find_elements("css selector", "table.leaderboard"):
        heads = table.find_elements("css selector", "thead th")
        names = [th.text.strip() for th in heads]
        if column not in names:
            continue
        index, problems, shown = names.index(column), [], []
        for _ in range(2):
            heads[index].click()
            raw = driver.execute_script(_RAW_VALUES, table, index)  # strings: JSON has no Infinity
            values = [float(v) for v in raw if v]
            direction = heads[index].get_attribute("aria-sort")
            if values != sorted(values, reverse=direction == "descending"):
                problems.append(f"column {column!r} is not sorted {direction} after a click: {values}")
            rows = table.find_elements("css selector", "tbody tr")
            shown.append([row.find_elements("css selector", "td")[index].text for row in rows])
        return problems, shown
    return [f"no leaderboard with a {column!r} column"], []


def check_gallery(driver, url: str) -> list[str]:
    """Follow a leaderboard row's "per image" link: the gallery must show each image's panels
    (clean, degraded, the methods) with zoomed crops and difference maps, all rendered."""
    driver.get(url)
    links = driver.find_elements("css selector", "a.gallery-link")
    if not links:
        return ["no leaderboard row links to a gallery"]
    href = links[0].get_attribute("href")
    driver.get(href)
    problems = [f"gallery image not rendered: {src}" for src, _, width in wait_for_images(driver) if not width]
    sections = driver.find_elements("css selector", "section.image")
    if not sections:
        problems.append(f"gallery {href} shows no image")
    for section in sections:
        figures = section.find_elements("css selector", "figure")
        diffs = section.find_elements("css selector", "img[src$='-diff.png']")
        crops = section.find_elements("css selector", "img[src$='-crop.png']")
        if len(figures) < 3 or len(crops) != len(figures) or len(diffs) != len(figures) - 2:
            problems.append(
                f"{section.get_attribute('id')}: {len(figures)} panels, {len(crops)} crops, {len(diffs)} maps"
            )
    anchor = href.partition("#")[2]
    if anchor and not driver.find_elements("id", anchor):
        problems.append(f"the row's anchor #{anchor} is not on the gallery page")
    return problems


def _check_sorting(driver, table) -> list[str]:
    """Click a numeric column whose values differ: the rows must change order and end sorted."""
    from selenium.webdriver.common.by import By

    heads = table.find_elements(By.CSS_SELECTOR, "thead th")
    for index, th in enumerate(heads):
        if th.get_attribute("data-type") != "number" or th.text.strip() == "#":
            continue
        values = driver.execute_script(_VALUES, table, index)
        if len({v for v in values if v is not None}) < 2:
            continue
        before = driver.execute_script(_ORDER, table)
        orders = []
        for _ in range(2):  # descending, then ascending: one of them must move a row
            th.click()
            orders.append(driver.execute_script(_ORDER, table))
            shown = [v for v in driver.execute_script(_VALUES, table, index) if v is not None]
            direction = th.get_attribute("aria-sort")
            expected = sorted(shown, reverse=direction == "descending")
            if shown != expected:
                return [f"column {th.text!r} is not sorted {direction} after a click: {shown}"]
        if all(order == before for order in orders):
            return [f"clicking column {th.text!r} did not change the order of the rows"]
        return []
    return ["no numeric column with differing values to sort by"]


def screenshot(driver, path: str | Path, full_page: bool = True) -> Path:
    """Save a PNG of the page (the whole page, up to 16000 px tall)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if full_page:
        height = driver.execute_script("return Math.min(16000, document.documentElement.scrollHeight)")
        width = driver.execute_script("return window.innerWidth")
        driver.set_window_size(width, height + 100)
        time.sleep(0.2)
    driver.save_screenshot(str(path))
    return path


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print("usage: python tests/browser.py REPORT_DIR SCREENSHOT.png", file=sys.stderr)
        return 2
    reason = missing_browser()
    if reason:
        print(f"error: {reason}", file=sys.stderr)
        return 2
    with serve(argv[0]) as url, open_chromium() as driver:
        problems = check_report(driver, url + "index.html", pictures=False)
        print(f"screenshot: {screenshot(driver, argv[1])}")
    for problem in problems:
        print(f"problem: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
