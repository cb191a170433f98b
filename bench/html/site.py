"""Build the static site: ``index.html`` (leaderboards, plots, pictures), ``records/`` (one page per
row, with copies of its record files), ``plots/`` (SVG) and ``images/`` (PNG), all relative links,
so the folder opens from disk and can be published as it is."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from bench.compare import Tolerances
from bench.html import cdplot, gallery, images, page, plots
from bench.html.collect import Report, attach_history, collect, inside, slug
from bench.paths import absolute, as_if_created

#: Written into every site; a folder holding it may be rebuilt (its old contents removed).
MARKER = ".bench-report"
_OURS = ("index.html", "records", "plots", "images", "gallery", MARKER)


class SiteError(Exception):
    """The output folder cannot be used; the message says why and what to do."""


@dataclass
class Site:
    root: Path
    report: Report
    pages: list[Path] = field(default_factory=list)
    plots: int = 0
    pictures: int = 0
    missing: list[str] = field(default_factory=list)  # artifacts the records list that are not there

    @property
    def index(self) -> Path:
        return self.root / "index.html"


def build(
    results: str | Path,
    out: str | Path,
    baseline: str | Path | None = None,
    tolerances: Tolerances | None = None,
    suite: str | None = None,
) -> Site:
    """Write the report of the records under ``results`` into ``out`` and return what was written.
    With ``baseline``, every metric carries ``bench compare``'s verdict against it.

    The site is built in a hidden folder beside ``out`` and swapped in when complete, so an
    interrupted build (Ctrl-C, SIGTERM, a full disk) or one that finds no records leaves an earlier
    report in ``out`` whole, and two builds into one ``out`` at once each swap in a whole site."""
    out = absolute(out)
    _check_target(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=_STAGING, dir=out.parent))
    as_if_created(staging, directory=True)
    try:
        site = _write(results, staging, baseline, tolerances, suite)
        if site.report.tables:
            _swap_in(staging, out)
    except OSError as exc:
        if exc.filename is None or staging in Path(exc.filename).parents:
            exc.filename = str(out)  # the hidden folder is ours; the person knows the report's
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    site.pages = [out / page.relative_to(staging) for page in site.pages]
    site.root = out
    return site


#: The hidden folders a report is built in beside its target end so.
_STAGING = ".bench-report-building"


def _write(results, root: Path, baseline, tolerances, suite) -> Site:
    report = collect(results, baseline=baseline, tolerances=tolerances, suite=suite)
    attach_history(report)
    site = Site(root, report)
    figures = {t.slug: plots.plots_for(t, root, report.notes) for t in report.tables}
    pictures = images.galleries(report, root)
    across = _across(report, root)
    site.plots = sum(map(len, figures.values())) + len(across) + plots.histories(report, root, report.notes)
    site.pictures = sum(len(g.pictures) for gs in pictures.values() for g in gs)
    site.missing = [m for gs in pictures.values() for g in gs for m in g.missing]
    for gallery_page in gallery.build(report, root):
        path = inside(root, gallery_page.path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(page.gallery_page(gallery_page), encoding="utf-8")
        site.pages.append(path)
        site.pictures += gallery_page.pictures
    for table in report.tables:
        for row in table.rows:
            copies = _copy_records(row, root)
            path = inside(root, f"records/{row.slug}.html")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(page.record_page(table, row, copies), encoding="utf-8")
            site.pages.append(path)
    site.index.write_text(page.index(report, figures, pictures, across), encoding="utf-8")
    site.pages.insert(0, site.index)
    (root / MARKER).write_text("written by `bench report`; this folder is replaced whole by the next report\n")
    return site


def _across(report, out: Path) -> dict:
    """Suite -> (its average ranks over its leaderboards, their critical-difference plot), for
    suites where at least two leaderboards share at least two methods."""
    found = {}
    for suite in report.suites:
        ranks = cdplot.suite_ranks(suite, report.tables)
        if ranks is not None:
            found[suite] = (ranks, cdplot.plot(ranks, out))
    return found


def _check_target(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise SiteError(f"{out} is a file; give a folder for the report")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).exists():
        raise SiteError(f"{out} is not empty and holds no earlier report; give an empty or new folder")


def _swap_in(new: Path, out: Path) -> None:
    """Replace ``out`` by the complete site in ``new`` (same folder, so renames): one report at a
    time (a lock on the parent folder), with Ctrl-C and SIGTERM held until both renames are done.
    Files of the person's own in ``out`` (not the report's) move into the new site."""
    old = new.with_name(new.name.replace(_STAGING, ".bench-report-old"))
    try:
        with _folder_lock(out.parent), _signals_held():
            _check_target(out)  # again: the folder may have changed while the site was built
            if out.exists():
                for entry in out.iterdir():
                    if entry.name not in _OURS:
                        os.rename(entry, new / entry.name)
                os.rename(out, old)
            os.rename(new, out)
    finally:  # a signal held during the swap is delivered here
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def _folder_lock(folder: Path):
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # released when the process dies, so a killed build blocks nobody
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def _signals_held():
    """Ctrl-C and SIGTERM wait (they are delivered after the block) in the main thread."""
    held = {signal.SIGINT, signal.SIGTERM}
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, held)


def _copy_records(row, out: Path) -> dict[int, str]:
    """Copy the row's record files beside its page; index in row.records() -> link from the page."""
    copies = {}
    for i, (record, path) in enumerate(row.records()):
        if path is None or not path.is_file():
            continue
        rel = f"{row.slug}/seed{slug(record.spec['seed'])}-{slug(record.status)}-{i}.json"
        target = inside(out, f"records/{rel}")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        copies[i] = rel
    return copies
