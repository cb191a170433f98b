"""bench.rows: a leaderboard row's typed shape, and the JSON of ``bench table --format json`` it
writes (the same fields, in the same order, as the table's JSON had as plain dicts)."""

import dataclasses
import json
from pathlib import Path

import pytest

from bench import cli, stats
from bench.report import leaderboard, load_groups, render
from bench.rows import BEST, RankTest, Row, Summary, summarize
from planted import classify_record

#: The fields of a JSON row, in order: what `bench table --format json` wrote before rows were typed,
#: and the label budget's folds after the seeds.
ROW_FIELDS = [
    "suite",
    "dataset",
    "protocol",
    "method",
    "budget",
    "seeds",
    "folds",
    "runs_ok",
    "runs_failed",
    "device",
    "setting",
    "labels",
    "features",
    "metrics",
    "stale",
    "marks",
    "records",
    "headers",
    "label",
    "rank",
    "rank_test",
]
SUMMARY_FIELDS = ["mean", "std", "n", "values", "ci", "ci_level"]


def test_a_json_row_holds_the_same_fields_in_the_same_order(tmp_path, capsys):
    for seed in range(3):
        classify_record(tmp_path, "a", seed, 90.0 + seed)
        classify_record(tmp_path, "b", seed, 80.0 + seed)
    assert cli.main(["table", str(tmp_path), "--format", "json"]) == 0
    text = capsys.readouterr().out
    data = json.loads(text)
    assert [list(row) for row in data] == [ROW_FIELDS, ROW_FIELDS]
    assert all(list(summary) == SUMMARY_FIELDS for row in data for summary in row["metrics"].values())
    best, other = data[0]["rank_test"], data[1]["rank_test"]
    assert list(best) == ["metric", "test", "p", "p_holm"] and best["test"] == BEST  # the best has no n
    assert list(other) == ["metric", "test", "p", "p_holm", "n"] and other["n"] == 3
    assert isinstance(data[0]["seeds"], list) and data[0]["metrics"]["test_accuracy"]["values"] == [90.0, 91.0, 92.0]
    # the dataclass's fields are the JSON's, in its order; its to_dict is what the table writes
    rows = leaderboard(load_groups(tmp_path))
    assert [f.name for f in dataclasses.fields(Row)] == ROW_FIELDS
    assert [f.name for f in dataclasses.fields(Summary)] == SUMMARY_FIELDS
    assert json.dumps([r.to_dict() for r in rows], indent=2) == render(rows, "json") == text.rstrip("\n")


def test_a_row_without_the_ranking_metric_has_no_rank_test(tmp_path):
    classify_record(tmp_path, "a", 0, 90.0)
    (row,) = leaderboard(load_groups(tmp_path))
    row = dataclasses.replace(row, metrics={}, rank="-", rank_test=None)
    assert row.to_dict()["rank_test"] is None and row.to_dict()["rank"] == "-"


def test_rows_are_frozen_and_their_rank_is_set_before(tmp_path):
    for seed in range(2):
        classify_record(tmp_path, "a", seed, 90.0 + seed)
    (row,) = leaderboard(load_groups(tmp_path))
    assert row.rank == "1" and row.rank_test == RankTest("test_accuracy", BEST, None, None)
    assert row.label == "a" and row.table_key == ("s", "toy", "classify", "")
    with pytest.raises(dataclasses.FrozenInstanceError):
        row.rank = "2"  # type: ignore[misc]


def test_summarize_gives_mean_sample_std_and_the_t_interval():
    s = summarize([1.0, 2.0, 3.0])
    assert (s.mean, s.std, s.n, s.values, s.ci_level) == (2.0, 1.0, 3, (1.0, 2.0, 3.0), stats.LEVEL)
    assert s.ci == pytest.approx(stats.t_interval([1.0, 2.0, 3.0]))
    one = summarize([5.0])
    assert (one.std, one.ci) == (None, None) and one.to_dict() == {
        "mean": 5.0,
        "std": None,
        "n": 1,
        "values": [5.0],
        "ci": None,
        "ci_level": stats.LEVEL,
    }
    with pytest.raises(ValueError):
        summarize([])


def test_the_docs_list_a_json_rows_fields_in_order():
    text = (Path(__file__).resolve().parents[1] / "docs" / "report.md").read_text()
    listed = " ".join(
        text.split("A json row (`bench.rows.Row`", 1)[1].split("\n`bench table RESULTS --per-image`")[0].split()
    )
    positions = [listed.index(f"`{name}`") for name in ROW_FIELDS]
    assert positions == sorted(positions), "docs/report.md lists a json row's fields in another order"
