"""`bench diff`: what differs between two records or two rows, and its line beside regressions."""

import json

from bench import cli
from bench.diff import diff_records
from bench.records import check_record
from planted import write_set


def made(tmp_path, name, **changes) -> dict:
    """One record of write_set's, with ``changes`` merged in (one level deep)."""
    root = tmp_path / name
    write_set(root, [98.0])
    path = next(root.glob("*.json"))
    data = json.loads(path.read_text())
    for key, value in changes.items():
        data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
    path.write_text(json.dumps(data))
    return path


ENV = {"device": {"name": "cpu"}, "lock": {"sha256": "a", "packages": {"torch": "2.12.0", "numpy": "2.0.0"}}}
CODE = {"host": {"version": "0.1.0", "source": "a", "modules": {"bench.context": "1", "bench.protocols.classify": "1"}}}


def test_diff_names_a_changed_package_module_option_and_metric(tmp_path, capsys):
    a = made(tmp_path, "a", environment=ENV, code_identity=CODE, data_files={"train.gz": {"sha256": "x"}})
    env_b = {**ENV, "lock": {"sha256": "b", "packages": {"torch": "2.13.0", "numpy": "2.0.0", "rich": "14"}}}
    code_b = {"host": {**CODE["host"], "source": "b", "modules": {**CODE["host"]["modules"], "bench.context": "2"}}}
    b = made(tmp_path, "b", environment=env_b, code_identity=code_b, data_files={"train.gz": {"sha256": "y"}})
    record_b = json.loads(b.read_text())
    record_b["spec"]["protocol_options"]["holdout"] = 0.2
    record_b["metrics"]["test_accuracy"] = 97.0
    b.write_text(json.dumps(record_b))

    d = diff_records(check_record(json.loads(a.read_text())), check_record(record_b))
    assert d.sections["packages"] == ["+rich 14", "torch 2.12.0 -> 2.13.0"]
    assert d.sections["code"] == ["host (bench.context)"]
    assert d.sections["spec"] == ["holdout 0.1 -> 0.2"] and d.sections["data"] == ["train.gz checksum"]
    assert d.metrics["test_accuracy"] == (98.0, 97.0)
    assert d.summary().startswith("code: host (bench.context); packages: +rich 14, torch 2.12.0 -> 2.13.0;")

    capsys.readouterr()
    assert cli.main(["diff", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert "  torch 2.12.0 -> 2.13.0" in out and "  test_accuracy: 98 -> 97  (-1, -1.0%)" in out
    assert "machine: same" in out


def test_records_without_a_lock_fall_back_to_their_libraries(tmp_path):
    a = made(tmp_path, "a", environment={"libraries": {"torch": "2.12.0"}})
    b = made(tmp_path, "b", environment={"libraries": {"torch": "2.13.0"}})
    d = diff_records(*(check_record(json.loads(p.read_text())) for p in (a, b)))
    assert d.sections["packages"] == ["torch 2.12.0 -> 2.13.0", "environment lock not recorded in A"]


def test_diff_of_two_folders_pairs_rows_and_compare_prints_the_summary_beside_a_regression(tmp_path, capsys):
    write_set(tmp_path / "base", [98.0, 98.4, 98.2])
    write_set(tmp_path / "new", [96.0, 96.4, 96.2])
    for path in (tmp_path / "new").glob("*.json"):
        data = json.loads(path.read_text())
        data["environment"]["lock"] = {"sha256": "b", "packages": {"torch": "2.13.0"}}
        path.write_text(json.dumps(data))
    for path in (tmp_path / "base").glob("*.json"):
        data = json.loads(path.read_text())
        data["environment"]["lock"] = {"sha256": "a", "packages": {"torch": "2.12.0"}}
        path.write_text(json.dumps(data))
    capsys.readouterr()
    assert cli.main(["diff", str(tmp_path / "base"), str(tmp_path / "new"), "--row", "cnn"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("== s / toy / classify / cnn") and "torch 2.12.0 -> 2.13.0" in out
    assert cli.main(["compare", str(tmp_path / "base"), str(tmp_path / "new")]) == 1
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if "test_accuracy" in line)
    assert "REGRESSION" in line and "what changed: packages: torch 2.12.0 -> 2.13.0" in line
    assert cli.main(["diff", str(tmp_path / "base"), str(tmp_path / "new"), "--row", "nothing"]) == 2
