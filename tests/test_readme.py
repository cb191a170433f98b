"""The README is the project's first screen: what bench is, the two commands, measured results.
Its numbers come from the committed reference records, and nothing it states is lost from docs/.
(tests/test_docs.py runs its commands and checks its links, with every docs page's.)"""

import re
from pathlib import Path

from bench import cli

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
REFERENCE = ROOT / "results" / "reference"


def numbers(text: str) -> set[str]:
    return set(re.findall(r"(?<![\w.])\d+(?:[.,]\d+)*%?", text))


def test_first_screen_says_what_gives_the_two_commands_and_the_results():
    lines = README.splitlines()
    first = "\n".join(lines[:50])
    assert "make quick" in first and "make test" in first
    assert "## Results" in first
    assert len(lines) < 120, "the README is a project page; the manual lives in docs/"


def test_what_make_quick_prints_is_the_reference_records_table(capsys, monkeypatch):
    """The frozen reference records turn stale whenever the code that makes numbers changes; a
    fresh `make quick` prints no stale mark, so the README's copy is compared without it."""
    from bench import identity

    monkeypatch.setattr(identity, "stale_reason", lambda record, current=None: None)
    fenced = re.findall(r"^```(\w*)\n(.*?)^```", README, flags=re.S | re.M)
    (shown,) = [body for language, body in fenced if not language and body.startswith("### quick")]
    assert cli.main(["table", str(REFERENCE / "quick"), "--format", "markdown"]) == 0
    printed = capsys.readouterr().out
    assert [line.rstrip() for line in shown.strip().splitlines()] == [
        line.rstrip() for line in printed.strip().splitlines() if line.strip()
    ]


def test_results_rows_from_records_match_the_records(capsys):
    """Every row that names a committed suite shows that suite's test accuracies as bench table does."""
    results = README[README.index("## Results") : README.index("## Runs and records")]
    rows = [line for line in results.splitlines() if line.startswith("| ") and not line.startswith("| track")]
    for suite in sorted(p.name for p in REFERENCE.iterdir() if p.is_dir()):
        assert cli.main(["table", str(REFERENCE / suite), "--format", "markdown"]) == 0
        table = capsys.readouterr().out
        accuracies = re.findall(r"\| (\d+\.\d\d ± \d+\.\d\d)(?: \[[^\]]*\])? \|", table)  # interval or not
        row = next((r for r in rows if suite in r or (suite == "quick" and "make quick" in r)), None)
        assert row, f"the README's results table has no row for the committed {suite} records"
        shown = re.findall(r"\d+\.\d\d ± \d+\.\d\d", row)
        assert shown and set(shown) <= set(accuracies), (suite, shown, accuracies)


def test_every_number_the_readme_states_is_in_the_docs_or_the_records(capsys):
    docs = "".join(p.read_text() for p in (ROOT / "docs").glob("*.md"))
    for suite in (p for p in REFERENCE.iterdir() if p.is_dir()):
        cli.main(["table", str(suite), "--format", "markdown"])
    records = capsys.readouterr().out
    results = README[README.index("## Results") : README.index("## Add a method")]
    stray = sorted(
        n
        for n in numbers(results)
        if n not in docs and n not in records and not re.search(rf"suites/\S*{re.escape(n)}", results)
    )
    assert not stray, f"README numbers that neither docs/ nor the reference records state: {stray}"
