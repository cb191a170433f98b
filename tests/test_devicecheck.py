"""`bench gpu-check` end to end on the CPU (--tiny, no compile): every built-in method runs through
the host's runner, with its syncs per step counted, and the JSON and the table are written."""

import json
import re

import pytest

from bench import cli, devicecheck
from bench.records import SCHEMA_VERSION, check_record

#: Every built-in method: the device check runs each one.
BUILT_IN_METHODS = {
    "small-cnn",
    "mlp",
    "icn",
    "airbench94",
    "mae",
    "ddae",
    "onepfrac",
    "dip",
    "zssr",
    "bicubic",
    "degraded-input",
    "bm3d",
    "fixmatch",
    "fixmatch-supervised",
}


@pytest.mark.slow  # every built-in method end to end: ~120 s of CPU
def test_gpu_check_runs_every_method_and_writes_json_and_table(tmp_path, capsys):
    out = tmp_path / "check"
    code = cli.main(["gpu-check", "--device", "cpu", "--out", str(out), "--tiny", "--quiet"])
    result = json.loads((out / "device-check.json").read_text())
    assert code == 0, [r["error"] for r in result["runs"] if r["status"] != "ok"]
    assert result["environment"]["device"] == "cpu" and result["environment"]["gpu"] is None
    assert result["data"]["check-cifar"].startswith("synthetic")  # no CIFAR subset in the test's data dir
    methods = {r["method"] for r in result["runs"]}
    assert methods == BUILT_IN_METHODS
    for row in result["runs"]:
        # The counts are reported here; that each loop never waits is tests/test_syncs.py's to test.
        assert row["status"] == "ok" and row["peak_memory_mib"] is None and "loop_per_step" in row["syncs"]
    rates = {r["method"]: r["throughput"] for r in result["runs"]}
    assert (
        rates["dip"]["iterations_per_s"]["items_per_s"] > 0 and rates["mae"]["pretrain_images_per_s"]["items_per_s"] > 0
    )
    assert rates["airbench94"]["train_images_per_s"]["items_per_s"] > 0
    assert result["quick"].startswith("skipped: no MNIST")
    table = (out / "device-check.md").read_text()
    assert (
        table.startswith("# Device check: CPU")
        and "| check-images [rgb-64] / zssr / restore / seed 0 | no | ok | 0.0 |" in table
    )
    assert table in capsys.readouterr().out


def test_the_cifar_subset_is_read_in_the_official_layout(tmp_path):
    import pickle

    import numpy as np

    folder = tmp_path / "cifar-10-subset"
    folder.mkdir()
    data = np.arange(2 * 3072, dtype=np.uint8).reshape(2, 3072)
    for name in ("data_batch_1_first4000", "test_batch_first1000"):
        (folder / name).write_bytes(pickle.dumps({b"data": data, b"labels": [3, 7]}, protocol=2))
    check_data = devicecheck.CheckData(tmp_path)
    train = check_data.load_cifar("train", None)
    assert check_data.subset == folder and train.images.shape == (2, 3, 32, 32)
    assert train.labels.tolist() == [3, 7] and train.images[0, 1, 0, 0] == 1024 % 256  # channel-major rows


def test_the_full_check_suite_is_valid_with_the_checks_data(tmp_path):
    from bench import registry
    from bench.suite import load_suite

    reg = registry.load(extra_plugins=[("device-check", devicecheck.CheckData(tmp_path))])
    suite = load_suite(devicecheck.CHECK_SUITES / "device-check.yaml", reg)
    assert {s.method for s in suite.runs} == BUILT_IN_METHODS


def test_a_runs_error_stays_inside_its_table_cell():
    from bench.devicecheck import table

    env = {"gpu": "G", "torch": "t", "cuda": "c", "cudnn": "d", "driver": "v"}
    row = {
        "label": "m/d",
        "compile": False,
        "status": "error",
        "error": "bad | value\nsecond line",
        "syncs": None,
        "peak_memory_mib": None,
        "throughput": {},
    }
    text = table({"environment": env, "data": {"check-cifar": "x"}, "seconds": 1, "runs": [row], "quick": "skipped"})
    line = next(x for x in text.splitlines() if x.startswith("| m/d"))
    assert "error: bad \\| value second line" in line
    assert len(re.findall(r"(?<!\\)\|", line)) == 7  # six cells, no more


# -- writing as it goes (a check stopped halfway keeps what it measured) -----------------------------

ONE_ROW_SUITES = {
    "device-check-tiny.yaml": "name: device-check-tiny\nseeds: [0]\nruns:\n"
    "  - {datasets: [check-images], methods: [degraded-input], protocol: {name: restore, task: denoise, "
    "sigma: 25.0, images: [rgb-64]}}\n"
    "  - {datasets: [check-images], methods: [bicubic], protocol: {name: restore, task: sr, scale: 2, images: [rgb-64]}}\n"
}


@pytest.fixture
def small_check(tmp_path, monkeypatch):
    """The check with its suites replaced by two runs that take no training (the floor, bicubic)."""
    folder = tmp_path / "suites"
    folder.mkdir()
    for name, text in ONE_ROW_SUITES.items():
        (folder / name).write_text(text)
    monkeypatch.setattr(devicecheck, "CHECK_SUITES", folder)
    return tmp_path / "check"


def fake_execute(outcomes):
    """bench.runner.execute replaced: each call takes the next outcome (a record, an exception to
    raise, or None for a lock held elsewhere)."""
    calls = iter(outcomes)

    def execute(spec, registry, store, cache, progress, label, note=""):
        outcome = next(calls)
        if isinstance(outcome, BaseException):
            raise outcome
        if outcome is None:
            return "busy", None
        sections = {"timings": {"wall_seconds": 0.5}, "metrics": {"psnr": 30.0}, **outcome}
        return "ran", check_record(
            {"schema_version": SCHEMA_VERSION, "key": spec.key, "spec": spec.to_dict(), **sections}
        )

    return execute


def test_a_check_stopped_halfway_leaves_a_valid_json_of_the_rows_it_finished(small_check, monkeypatch):
    import signal

    from bench import runner

    monkeypatch.setattr(runner, "execute", fake_execute([{"status": "ok"}, runner.Interrupted(signal.SIGTERM)]))
    with pytest.raises(runner.Interrupted):
        devicecheck.check("cpu", small_check, tiny=True, quiet=True)
    result = json.loads((small_check / "device-check.json").read_text())
    assert result["complete"] is False and [r["status"] for r in result["runs"]] == ["ok"]
    assert result["runs"][0]["metrics"] == {"psnr": 30.0}
    assert "stopped early" in (small_check / "device-check.md").read_text()


def test_a_rows_error_is_its_status_and_the_check_goes_on(small_check, monkeypatch, tmp_path):
    from bench import runner

    (small_check.parent / "suites" / "device-check-tiny.yaml").write_text(
        ONE_ROW_SUITES["device-check-tiny.yaml"].replace("[degraded-input]", "[degraded-input, bm3d, dip]")
    )
    missing = {"status": "failed", "error": {"type": "ModuleNotFoundError", "message": "No module named 'bm3d'"}}
    outcomes = [
        RuntimeError("CUDA error: an illegal memory access was encountered\nmore"),
        None,
        missing,
        {"status": "ok"},
    ]
    monkeypatch.setattr(runner, "execute", fake_execute(outcomes))
    result = devicecheck.check("cpu", small_check, tiny=True, quiet=True)
    rows = json.loads((small_check / "device-check.json").read_text())["runs"]
    assert rows == result["runs"] and result["complete"] is True
    assert [(r["method"], r["status"]) for r in rows] == [
        ("degraded-input", "error"),
        ("bm3d", "busy"),
        ("dip", "skipped"),
        ("bicubic", "ok"),
    ]
    assert rows[0]["error"] == "RuntimeError: CUDA error: an illegal memory access was encountered"
    assert rows[2]["error"] == "optional library missing: No module named 'bm3d'"


def test_a_check_into_a_folder_that_holds_one_measures_afresh_and_stays_shallow(small_check, monkeypatch):
    from bench import runner

    ran = []
    run_one = runner.run_one
    monkeypatch.setattr(runner, "run_one", lambda spec, *a: ran.append(spec.method) or run_one(spec, *a))
    devicecheck.check("cpu", small_check, tiny=True, quiet=True)
    devicecheck.check("cpu", small_check, tiny=True, quiet=True)
    assert ran == ["degraded-input", "bicubic"] * 2  # the second check ran both again
    depth = max(len(p.relative_to(small_check).parts) for p in small_check.rglob("*") if p.is_file())
    assert depth <= 7, sorted(small_check.rglob("*"))  # <pass>/<suite>/<dataset>/<method>/<run>/<picture>
