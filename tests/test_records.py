"""The record schema (bench.records): every reader gets checked, filled-in records; a file that is
not a valid record is one warning line naming it and what is wrong, the rest of the command works,
and `bench run` runs the spec again. The typed record (Record): one constructor, one read with its
migration steps; the committed reference records (whatever schema each was written in) and the older
records kept for these tests (tests/records/: schema 1 and 2) are read from copies: each migrates
to the current version with its key, spec, numbers and code identity unchanged (migrated, not
staled), and a record written by today's code reads back equal to what was written."""

import copy
import json
import random
import shutil
from pathlib import Path

import pytest

import toy
from bench import cli, registry
from bench.records import (
    SCHEMA_VERSION,
    InvalidRecord,
    Record,
    ResultStore,
    Unreadable,
    check_key,
    check_record,
    failure_record,
    iter_records,
    key_of,
    make_record,
    read_record,
    write_json_atomic,
)
from bench.suite import RunSpec
from markup import assert_no_markup_from_records
from planted import record, restore_dict
from runs import run_suite


def valid(**changes) -> dict:
    rec = {
        "schema_version": 1,
        "key": "k",
        "status": "ok",
        "metrics": {"test_accuracy": 90.0},
        "spec": {
            "suite": "s",
            "dataset": "toy",
            "method": "cnn",
            "protocol": "classify",
            "seed": 0,
            "params": {},
            "budget": {},
            "protocol_options": {},
        },
    }
    rec.update(changes)
    return rec


def problem(data) -> str:
    with pytest.raises(InvalidRecord) as info:
        check_record(data)
    return str(info.value)


def test_a_bad_record_is_one_line_naming_the_field_and_what_was_expected():
    assert problem(valid(spec={})) == "spec.suite: missing"
    assert (
        problem(valid(spec={**valid()["spec"], "seed": "/../../../../x"}))
        == "spec.seed: expected an integer, got '/../../../../x'"
    )
    assert (
        problem(valid(published=[{"metric": "test_accuracy", "value": "99.5"}]))
        == "published[0].value: expected a finite number, got '99.5'"
    )
    assert (
        problem(valid(metrics={"test_accuracy": "98"})) == "metrics.test_accuracy: expected a finite number, got '98'"
    )
    assert (
        problem(valid(metrics={"test_accuracy": float("nan")}))
        == "metrics.test_accuracy: expected a finite number, got nan"
    )
    assert problem(valid(metrics=None)) == "metrics: expected a JSON object, got None"
    assert problem(valid(metrics={"test_accuracy": 10**400})).startswith(
        "metrics.test_accuracy: expected a finite number"
    )
    assert problem({k: v for k, v in valid().items() if k != "metrics"}) == "metrics: missing (status is ok)"
    assert problem(valid(status="done")) == "status: expected 'ok' or 'failed', got 'done'"
    assert problem(valid(schema_version=99)).startswith("schema_version: expected a version this bench reads")
    assert problem([valid()]).startswith("the record: expected a JSON object, got [{")
    assert problem({"psnr": 30}) == "not a result record (no schema_version)"
    assert problem(valid(timings={"wall_seconds": "12"})) == "timings.wall_seconds: expected a finite number, got '12'"
    long = problem(valid(error={"message": ["x" * 10_000]}))
    assert long.startswith("error.message: expected a string") and len(long) < 120
    assert problem(valid(details={"x": json.loads("[" * 100 + "]" * 100)})) == "nested deeper than 64 levels"


@pytest.mark.parametrize(
    "text, why",
    [
        ("", "empty file"),
        ("[" * 100_000 + "]" * 100_000, "not valid JSON (maximum recursion depth"),
        ('{"schema_version": 1, "x": ' + "9" * 5000 + "}", "not valid JSON (Exceeds the limit"),
        (b"\xff\xfe{}", "cannot be read ('utf-8' codec"),
    ],
)
def test_a_file_that_is_not_json_is_one_line(tmp_path, text, why):
    path = tmp_path / "r.json"
    path.write_bytes(text) if isinstance(text, bytes) else path.write_text(text)
    with pytest.raises(InvalidRecord) as info:
        read_record(path)
    assert str(info.value).startswith(f"{path}: {why}") and len(str(info.value)) < 120 + len(str(path))


def test_a_valid_record_is_filled_in_and_keeps_unknown_keys():
    rec = check_record(valid(code_identity={"method": "abc"}, status="failed"))
    assert rec.code_identity == {"method": "abc"}  # another part of bench's field, kept as it is
    assert rec.published is None and rec.artifacts == [] and rec.throughput == {}
    assert rec.environment["device"]["name"] == "?" and rec.error.message == "" and rec.precision is None
    assert rec.details["features"]["chosen"] is None
    assert check_record(valid(plugin_note={"a": 1})).extra == {"plugin_note": {"a": 1}}  # unknown: kept
    huge = check_record(valid(metrics={"test_accuracy": 2**70})).metrics["test_accuracy"]
    assert type(huge) is float and huge == 2.0**70  # numbers reach statistics and scipy as floats


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
    # Nor while its run is going (the run's lock beside the folder, the record not yet written).
    running = root / "seed0-0123456789abcdef"
    (running / "images").mkdir(parents=True)
    (running / "images" / "captions.json").write_text("{}")
    running.with_suffix(".lock").touch()
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


def test_a_stray_lock_beside_a_folder_of_records_hides_none_of_them(tmp_path):
    record(tmp_path / "more", "cnn", 0, 90.0)
    (tmp_path / "more.lock").touch()  # not a run's lock: the folder is not named as a run
    assert len(list(iter_records(tmp_path))) == 1


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
    assert any(
        f"{root / 'published.json'}: published[0].value: expected a finite number, got '99'" in l
        for l in err.splitlines()
    )

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
    broken = store.read(b).to_dict() | {"metrics": {"test_accuracy": "NaN"}}
    write_json_atomic(store.path_for(b), broken)
    assert store.read(a) is None and store.read(b) is None and not store.is_done(a) and not store.is_done(b)
    assert store.is_done(c)
    _, store, again = run_suite(tmp_path, reg, text)
    assert sorted(again.ran) == sorted([a.label, b.label]) and again.skipped == [c.label]
    assert store.is_done(a) and store.is_done(b)


def test_the_real_records_of_a_run_are_in_the_schema(tmp_path):
    reg = registry.load(extra_plugins=[("toy", toy)])
    suite, store, _ = run_suite(
        tmp_path,
        reg,
        "seeds: [0]\nruns: [{datasets: toy, methods: [toy-linear, toy-crash], "
        "protocol: classify, budget: {epochs: 1}}]\n",
    )
    unreadable: list[Unreadable] = []
    assert len(list(iter_records(store.root, unreadable))) == 2 and unreadable == []
    assert ResultStore(store.root).read(suite.runs[1]).status == "failed"


# -- fuzzing -------------------------------------------------------------------------------------------

FUZZ_VALUES = [
    "",
    "x",
    "../../../x",
    "$\\x{",
    '"><b>',
    -1,
    0,
    1e308,
    -1e308,
    2**70,
    True,
    None,
    [],
    {},
    [1, "a"],
    {"a": 1},
    {"epoch": "x", "iteration": [1]},
    1.5,
    "NaN",
]
FUZZ_KEYS = ["task", "images", "sigma", "drop_ratio", "mask", "weights", "chosen", "curves", "per_image", "extra"]


def classify_record(seed: int) -> dict:
    spec = {
        "suite": "s",
        "dataset": "toy",
        "method": "cnn",
        "protocol": "classify",
        "protocol_options": {"holdout": 0.1},
        "params": {"lr": 0.1},
        "budget": {"epochs": 3},
        "budget_scale": 1.0,
        "seed": seed,
        "device": "auto",
    }
    return {
        "schema_version": 1,
        "key": key_of(spec),
        "spec": spec,
        "status": "ok",
        "ended_at": "2026-01-01T00:00:00",
        "metrics": {"test_accuracy": 90.0 + seed, "val_accuracy": 89.0},
        "metric_info": {
            "test_accuracy": {"higher_is_better": True, "kind": "quality", "unit": "%", "convention": "top-1"}
        },
        "throughput": {
            "train_images_per_s": {
                "items_per_s": 100.0,
                "samples_items_per_s": [99.0, 101.0],
                "samples_s": [0.1, 0.2],
                "items_per_repeat": 10,
                "repeats": 2,
            }
        },
        "timings": {"wall_seconds": 1.0, "train_seconds": 0.5},
        "published": [{"metric": "test_accuracy", "value": 95.0, "dataset": "toy", "source": "p", "note": "n"}],
        "environment": {"device": {"name": "cpu", "type": "cpu"}},
        "details": {"curves": [{"epoch": 1, "loss": 0.5}], "features": {"chosen": {"block": 1}}},
        "artifacts": [{"path": "images/k/a.png", "kind": "k", "caption": "c"}],
        "data_files": {"f": {"sha256": "ab"}},
    }


def mutant(rng) -> dict:
    """A good record with one value replaced (or a key added or removed) anywhere in it."""
    record = rng.choice([classify_record, restore_dict])(0)

    def places(node, path=()):
        if path:
            yield path
        children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, child in children:
            yield from places(child, path + (key,))

    path = rng.choice(list(places(record)))
    parent = record
    for key in path[:-1]:
        parent = parent[key]
    value = copy.deepcopy(rng.choice(FUZZ_VALUES))
    roll = rng.random()
    if roll < 0.2 and isinstance(parent, dict):
        parent[rng.choice(FUZZ_KEYS)] = value
    elif roll < 0.3 and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return record


@pytest.mark.slow  # 30 mutants through table, compare and report: ~7-11 s of CPU
def test_fuzzed_records_never_crash_table_compare_or_report(tmp_path, capsys):
    """30 single-value mutations (fixed seed) of two good records, each beside good records: every
    mutant is read or refused with one warning line; table, compare and report never raise."""
    rng = random.Random(16)
    base = tmp_path / "base"
    for seed in range(2):
        write_json_atomic(base / f"c{seed}.json", classify_record(seed))
        write_json_atomic(base / f"r{seed}.json", restore_dict(seed))
    refused = 0
    for i in range(30):
        folder = tmp_path / f"m{i}"
        shutil.copytree(base, folder)
        record = mutant(rng)
        (folder / "mutant.json").write_text(json.dumps(record))
        try:
            check_record(record)
        except InvalidRecord:
            refused += 1
            assert cli.main(["table", str(folder)]) == 0
            warnings = [l for l in capsys.readouterr().err.splitlines() if "mutant.json" in l]
            assert len(warnings) == 1 and len(warnings[0]) < 300, warnings
            continue
        assert cli.main(["table", str(folder)]) == 0
        assert cli.main(["compare", str(base), str(folder)]) in (0, 1)
        assert cli.main(["report", str(folder), "-o", str(tmp_path / "site")]) == 0
        assert_no_markup_from_records((tmp_path / "site" / "index.html").read_text())
        capsys.readouterr()
    assert 5 < refused < 25, refused  # both paths are exercised


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning")  # numpy's, on the way to matplotlib's error
def test_a_plot_matplotlib_cannot_draw_is_left_out_with_a_note(tmp_path):
    """A valid record whose PSNR is -1e308: the seed-spread axis overflows inside matplotlib."""
    for seed in range(2):
        write_json_atomic(tmp_path / "results" / f"r{seed}.json", restore_dict(seed))
    extreme = restore_dict(0)
    extreme["metrics"]["psnr"] = -1e308
    write_json_atomic(tmp_path / "results" / "r0.json", extreme)
    assert cli.main(["report", str(tmp_path / "results"), "-o", str(tmp_path / "site")]) == 0
    html = (tmp_path / "site" / "index.html").read_text()
    assert "seed spread plot not drawn (cannot convert float infinity to integer)" in html


@pytest.mark.parametrize(
    "options, setting",
    [
        ({"task": 1e308}, "restore · 1e+308"),
        ({"task": "denoise", "sigma": "x"}, "denoise sigma x"),
        ({"task": "inpaint", "drop_ratio": [1]}, "inpaint drop [1]"),
        ({"task": "sr", "scale": 2, "images": 5}, "sr x2, images 5"),
    ],
)
def test_protocol_options_of_any_json_type_are_shown_as_the_setting(tmp_path, capsys, options, setting):
    rec = restore_dict(0)
    rec["spec"]["protocol_options"] = options
    rec["key"] = key_of(rec["spec"])
    write_json_atomic(tmp_path / "r.json", rec)
    assert cli.main(["table", str(tmp_path)]) == 0
    assert setting in capsys.readouterr().out


# -- the typed record: one constructor, one read with its migration steps ----------------------------


REFERENCE = Path(__file__).resolve().parent.parent / "results" / "reference"
#: Records of the older schemas (schema 1: a Fashion-MNIST reference record; schema 2: the quick
#: reference before schema 3): the reference folder is re-made with the code, so the versions a
#: reader must migrate are kept here.
OLDER = sorted((Path(__file__).resolve().parent / "records").glob("*.json"))


@pytest.fixture
def reference(tmp_path) -> list[Path]:
    """Copies of the committed reference records and of the schema-2 record (never the committed
    files themselves)."""
    shutil.copytree(REFERENCE, tmp_path / "reference")
    for path in OLDER:
        shutil.copy(path, tmp_path / "reference" / path.name)
    paths = [p for p in sorted((tmp_path / "reference").rglob("*.json")) if "schema_version" in p.read_text()]
    assert paths, "no committed reference records found"
    return paths


def test_the_reference_records_migrate_to_the_current_schema_and_stay_current(reference):
    versions = set()
    for path in reference:
        raw = json.loads(path.read_text())
        versions.add(raw["schema_version"])
        record = read_record(path)
        check_key(record)  # the key is still its spec's hash: the same run, not a new one
        assert record.schema_version == SCHEMA_VERSION
        assert record.key == raw["key"] and record.spec == raw["spec"] and record.status == raw["status"]
        assert record.metrics == raw["metrics"] and record.throughput == raw["throughput"]
        assert record.precision == raw["accel"]["precision"] == raw.get("precision", record.precision)  # once now
        assert "precision" not in record.to_dict()  # top-level precision is folded into accel
        if raw["schema_version"] == 2:  # a v2 code identity is carried over as it is
            assert record.code_identity == raw["code_identity"]
        assert json.loads(path.read_text()) == raw  # reading never rewrites the file
    assert {1, 2} <= versions  # both older versions are exercised (tests/records/ keeps one of each)


def test_a_migrated_record_reads_back_equal_after_it_is_written(reference, tmp_path):
    for path in reference:
        record = read_record(path)
        again = tmp_path / "again.json"
        again.write_text(json.dumps(record.to_dict()))
        assert read_record(again) == record


def test_a_record_made_by_the_constructor_round_trips_through_the_store(reference, tmp_path):
    old = read_record(next(p for p in reference if json.loads(p.read_text())["schema_version"] == 2))
    spec = RunSpec.from_dict(old.spec)
    sections = {k: v for k, v in old.to_dict().items() if k not in ("schema_version", "key", "spec", "status")}
    made = make_record(spec, "ok", sections | {"diverged": "loss is nan at epoch 3", "a_plugin_note": [1, 2]})
    assert isinstance(made, Record) and made.key == spec.key == old.key and made.extra == {"a_plugin_note": [1, 2]}
    store = ResultStore(tmp_path / "results")
    store.write(spec, made)
    assert store.read(spec) == made
    failed = failure_record(spec, "ProcessDied", "killed", "trace", {"exit_code": -9})
    assert failed.error.type == "ProcessDied" and failed.extra == {"exit_code": -9}
    store.write(spec, failed)  # the ok record before it is kept as history (superseded)
    assert store.read(spec) == failed and not store.is_done(spec)


def test_precision_is_read_from_either_place_an_older_record_wrote_it(reference, tmp_path):
    raw = json.loads(reference[0].read_text())
    raw["schema_version"] = 2
    raw["accel"].pop("precision")
    raw["precision"] = "bf16"
    path = tmp_path / "r.json"
    path.write_text(json.dumps(raw))
    assert read_record(path).precision == "bf16" and read_record(path).accel["precision"] == "bf16"


def test_a_missing_required_field_is_one_line_naming_the_file_and_the_field(reference, tmp_path):
    raw = json.loads(reference[0].read_text())
    del raw["spec"]["seed"]
    path = tmp_path / "results" / "s" / "r.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(raw))
    with pytest.raises(InvalidRecord) as info:
        read_record(path)
    assert str(info.value) == f"{path}: spec.seed: missing"
    unreadable: list[Unreadable] = []
    assert list(iter_records(tmp_path / "results", unreadable)) == []
    assert [str(u) for u in unreadable] == [f"{path}: spec.seed: missing"]


def test_a_record_of_a_newer_schema_is_refused(reference, tmp_path):
    raw = json.loads(reference[0].read_text()) | {"schema_version": SCHEMA_VERSION + 1}
    path = tmp_path / "r.json"
    path.write_text(json.dumps(raw))
    with pytest.raises(
        InvalidRecord, match=f"schema_version: expected a version this bench reads .*{SCHEMA_VERSION + 1}"
    ):
        read_record(path)
