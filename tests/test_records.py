"""The record schema (bench.records): every reader gets checked, filled-in records; a file that is
not a valid record is one warning line naming it and what is wrong, the rest of the command works,
and `bench run` runs the spec again."""

import json

import pytest

import toy
from bench import cli, registry
from bench.records import InvalidRecord, ResultStore, Unreadable, check_record, iter_records, write_json_atomic
from test_report import record
from test_runner import run_suite


def valid(**changes) -> dict:
    rec = {"schema_version": 1, "key": "k", "status": "ok", "metrics": {"test_accuracy": 90.0},
           "spec": {"suite": "s", "dataset": "toy", "method": "cnn", "protocol": "classify", "seed": 0,
                    "params": {}, "budget": {}, "protocol_options": {}}}
    rec.update(changes)
    return rec


def problem(data) -> str:
    with pytest.raises(InvalidRecord) as info:
        check_record(data)
    return str(info.value)


def test_a_bad_record_is_one_line_naming_the_field_and_what_was_expected():
    assert problem(valid(spec={})) == "spec.suite: missing"
    assert problem(valid(spec={**valid()["spec"], "seed": "/../../../../x"})) == \
        "spec.seed: expected an integer, got '/../../../../x'"
    assert problem(valid(published=[{"metric": "test_accuracy", "value": "99.5"}])) == \
        "published[0].value: expected a finite number, got '99.5'"
    assert problem(valid(metrics={"test_accuracy": "98"})) == "metrics.test_accuracy: expected a finite number, got '98'"
    assert problem(valid(metrics={"test_accuracy": float("nan")})) == "metrics.test_accuracy: expected a finite number, got nan"
    assert problem(valid(metrics=None)) == "metrics: expected a JSON object, got None"
    assert problem({k: v for k, v in valid().items() if k != "metrics"}) == "metrics: missing (status is ok)"
    assert problem(valid(status="done")) == "status: expected 'ok' or 'failed', got 'done'"
    assert problem(valid(schema_version=99)).startswith("schema_version: expected a version this bench reads")
    assert problem([valid()]).startswith("the record: expected a JSON object, got [{'schema_version': 1")
    assert problem({"psnr": 30}) == "not a result record (no schema_version)"
    assert problem(valid(timings={"wall_seconds": "12"})) == "timings.wall_seconds: expected a finite number, got '12'"
    long = problem(valid(error={"message": ["x" * 10_000]}))
    assert long.startswith("error.message: expected a string") and len(long) < 120


def test_a_valid_record_is_filled_in_and_keeps_unknown_keys():
    rec = check_record(valid(code_identity={"method": "abc"}, status="failed"))
    assert rec["code_identity"] == {"method": "abc"}  # another part of bench's field, kept as it is
    assert rec["published"] is None and rec["artifacts"] == [] and rec["throughput"] == {}
    assert rec["environment"]["device"]["name"] == "?" and rec["error"]["message"] == ""
    assert rec["details"]["features"]["chosen"] is None


def hostile_set(root):
    """Five good records of five seeds and one bad file of every kind."""
    for seed in range(5):
        record(root, "cnn", seed, 90.0 + seed)
    good = json.loads((root / "cnn-0-3.json").read_text())
    bad = {
        "truncated.json": json.dumps(good)[:200],
        "empty.json": "",
        "list.json": json.dumps([good]),
        "nospec.json": json.dumps({**good, "key": "x1", "spec": {}}),
        "published.json": json.dumps({**good, "key": "x2", "published": [{"metric": "test_accuracy", "value": "99"}]}),
        "metric.json": json.dumps({**good, "key": "x3", "metrics": {"test_accuracy": "high"}}),
        "nometric.json": json.dumps({k: v for k, v in {**good, "key": "x4"}.items() if k != "metrics"}),
    }
    for name, text in bad.items():
        (root / name).write_text(text)
    # A method's own JSON inside a record's artifact folder is not a record.
    (root / "cnn-0-3" / "images").mkdir(parents=True)
    (root / "cnn-0-3" / "images" / "captions.json").write_text("{}")
    return sorted(bad)


def test_iter_records_says_which_files_are_unreadable_and_why(tmp_path):
    names = hostile_set(tmp_path)
    unreadable: list[Unreadable] = []
    found = list(iter_records(tmp_path, unreadable))
    assert len(found) == 5
    assert sorted(u.path.name for u in unreadable) == names
    why = {u.path.name: u.why for u in unreadable}
    assert why["empty.json"] == "empty file" and why["truncated.json"].startswith("not valid JSON, truncated?")
    assert why["list.json"].startswith("the record: expected a JSON object, got [")
    assert why["nospec.json"] == "spec.suite: missing"


def test_table_compare_and_report_warn_once_per_bad_file_and_still_work(tmp_path, capsys):
    root = tmp_path / "results"
    names = hostile_set(root)

    def warned(err):
        lines = [l for l in err.splitlines() if l.startswith("warning: unreadable record")]
        assert sorted(l.split(": ", 1)[1].split(":")[0].rsplit("/", 1)[-1] for l in lines) == names, err
        return lines

    assert cli.main(["table", str(root)]) == 0
    out, err = capsys.readouterr()
    assert "92.00 ± 1.58" in out and len(warned(err)) == len(names)
    assert any(f"{root / 'published.json'}: published[0].value: expected a finite number, got '99'" in l
               for l in err.splitlines())

    clean = tmp_path / "clean"
    for seed in range(5):
        record(clean, "cnn", seed, 90.0 + seed)
    assert cli.main(["compare", str(clean), str(root)]) == 0
    out, err = capsys.readouterr()
    assert "no regressions" in out and len(warned(err)) == len(names)

    site = tmp_path / "site"
    assert cli.main(["report", str(root), "-o", str(site)]) == 0
    out, err = capsys.readouterr()
    assert "from 5 records, 7 unreadable" in out and len(warned(err)) == len(names)
    html = (site / "index.html").read_text()
    assert "7 files unreadable" in html and "empty.json: empty file" in html

    capsys.readouterr()
    assert cli.main(["report", str(root), "-o", str(site), "--baseline", str(root)]) == 0
    assert len(warned(capsys.readouterr().err)) == len(names)  # the results read twice, said once


def test_bench_run_runs_a_spec_again_whose_record_is_unreadable_or_invalid(tmp_path):
    reg = registry.load(extra_plugins=[("toy", toy)])
    text = "seeds: [0, 1, 2]\nruns: [{datasets: toy, methods: toy-linear, protocol: classify, budget: {epochs: 1}}]\n"
    suite, store, outcome = run_suite(tmp_path, reg, text)
    assert len(outcome.ran) == 3
    a, b, c = suite.runs
    store.path_for(a).write_text(store.path_for(a).read_text()[:100])  # truncated by a crash of the disk
    broken = store.read(b) | {"metrics": {"test_accuracy": "NaN"}}
    write_json_atomic(store.path_for(b), broken)
    assert store.read(a) is None and store.read(b) is None and not store.is_done(a) and not store.is_done(b)
    assert store.is_done(c)
    _, store, again = run_suite(tmp_path, reg, text)
    assert sorted(again.ran) == sorted([a.label, b.label]) and again.skipped == [c.label]
    assert store.is_done(a) and store.is_done(b)


def test_the_real_records_of_a_run_are_in_the_schema(tmp_path):
    reg = registry.load(extra_plugins=[("toy", toy)])
    suite, store, _ = run_suite(tmp_path, reg, "seeds: [0]\nruns: [{datasets: toy, methods: [toy-linear, toy-crash], "
                                               "protocol: classify, budget: {epochs: 1}}]\n")
    unreadable: list[Unreadable] = []
    assert len(list(iter_records(store.root, unreadable))) == 2 and unreadable == []
    assert ResultStore(store.root).read(suite.runs[1])["status"] == "failed"
