"""The typed record (bench.records.Record): one constructor, one read with its migration steps.

The committed reference records (whatever schema each was written in) and the older records kept
for these tests (tests/records/: schema 1 and 2) are read from copies: each migrates to the current version with its key, spec, numbers and code identity
unchanged (migrated, not staled), and a record written by today's code reads back equal to what
was written."""

import json
import shutil
from pathlib import Path

import pytest

from bench.records import (
    SCHEMA_VERSION,
    InvalidRecord,
    Record,
    ResultStore,
    Unreadable,
    check_key,
    failure_record,
    iter_records,
    make_record,
    read_record,
)
from bench.suite import RunSpec

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
