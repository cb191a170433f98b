"""bench.html.site: ``bench report`` writes one folder (index, a page and record copies per row), rebuilds
only a folder that holds a report, and writes nothing outside it whatever the records say."""

import json
import re

import pytest

from bench import cli
from bench.html import SiteError, build
from bench.html.collect import collect
from markup import HOSTILE, assert_no_markup_from_records, files_outside


def test_every_row_links_to_a_page_with_its_records(site, results):
    html = site.index.read_text()
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
