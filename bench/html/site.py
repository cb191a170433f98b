"""Build the static site: ``index.html`` (leaderboards, plots, pictures), ``records/`` (one page per
row, with copies of its record files), ``plots/`` (SVG) and ``images/`` (PNG), all relative links,
so the folder opens from disk and can be published as it is."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from bench.compare import Tolerances
from bench.html import cdplot, gallery, images, page, plots
from bench.html.collect import Report, collect, inside, slug

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
    With ``baseline``, every metric carries ``bench compare``'s verdict against it."""
    out = Path(out)
    _prepare(out)
    report = collect(results, baseline=baseline, tolerances=tolerances, suite=suite)
    site = Site(out, report)
    figures = {t.slug: plots.plots_for(t, out, report.notes) for t in report.tables}
    pictures = images.galleries(report, out)
    across = _across(report, out)
    site.plots = sum(map(len, figures.values())) + len(across)
    site.pictures = sum(len(g.pictures) for gs in pictures.values() for g in gs)
    site.missing = [m for gs in pictures.values() for g in gs for m in g.missing]
    for gallery_page in gallery.build(report, out):
        path = inside(out, gallery_page.path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(page.gallery_page(gallery_page), encoding="utf-8")
        site.pages.append(path)
        site.pictures += gallery_page.pictures
    for table in report.tables:
        for row in table.rows:
            copies = _copy_records(row, out)
            path = inside(out, f"records/{row.slug}.html")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(page.record_page(table, row, copies), encoding="utf-8")
            site.pages.append(path)
    site.index.write_text(page.index(report, figures, pictures, across), encoding="utf-8")
    site.pages.insert(0, site.index)
    (out / MARKER).write_text("written by `bench report`; this folder is rebuilt in place\n")
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


def _prepare(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise SiteError(f"{out} is a file; give a folder for the report")
    if out.is_dir() and any(out.iterdir()):
        if not (out / MARKER).exists():
            raise SiteError(f"{out} is not empty and holds no earlier report; give an empty or new folder")
        for name in _OURS:
            target = out / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
    out.mkdir(parents=True, exist_ok=True)


def _copy_records(row, out: Path) -> dict[int, str]:
    """Copy the row's record files beside its page; index in row.records() -> link from the page."""
    copies = {}
    for i, (record, path) in enumerate(row.records()):
        if path is None or not path.is_file():
            continue
        rel = f"{row.slug}/seed{slug(record['spec']['seed'])}-{slug(record['status'])}-{i}.json"
        target = inside(out, f"records/{rel}")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        copies[i] = rel
    return copies
