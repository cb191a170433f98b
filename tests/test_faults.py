"""Faults and hostile input: symbolic links planted in a results folder or the download cache,
full and read-only disks, interrupted and concurrent reports, huge or tampered records, and
methods that try to take the suite down with them."""

import json
import os
import sys
from pathlib import Path

import pytest

from bench import cli, registry
from bench.records import ResultStore, key_of, write_json_atomic
from bench.suite import load_suite
from installed import SUITE, run, suite_file


def spec_of(folder: Path, text: str = SUITE):
    return load_suite(suite_file(folder, text), registry.load()).runs[0]


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


# -- 5. symbolic links planted in a results folder or the cache --------------------------------------


@pytest.mark.parametrize("planted", ["method folder", "lock", "artifact folder"])
def test_run_refuses_a_planted_link_and_writes_nothing_through_it(plugins, capsys, planted):
    spec = spec_of(plugins)
    path = ResultStore(plugins / "results").path_for(spec)
    outside = plugins / "outside"
    outside.mkdir()
    path.parent.mkdir(parents=True)
    link = {"method folder": path.parent, "lock": path.with_suffix(".lock"), "artifact folder": path.with_suffix("")}
    if planted == "method folder":
        path.parent.rmdir()
    os.symlink(outside if planted != "lock" else outside / "x.lock", link[planted])
    assert run(plugins) == 2
    err = capsys.readouterr().err
    assert f"error: {link[planted]} is a symbolic link" in err and "Traceback" not in err
    assert files_under(outside) == [] and not path.exists()


def test_a_record_file_or_artifact_folder_linked_outside_is_not_read_by_report(plugins, capsys, tmp_path):
    from planted import record

    results, outside = tmp_path / "results", tmp_path / "outside"
    record(results, "cnn", 0, 90.0)
    (outside / "images" / "fractal").mkdir(parents=True)
    (outside / "images" / "fractal" / "secret.png").write_bytes(b"secret")
    rec = json.loads((results / "cnn-0-3.json").read_text())
    rec["artifacts"] = [{"path": "images/fractal/secret.png", "kind": "fractal"}]
    write_json_atomic(results / "cnn-0-3.json", rec)
    os.symlink(outside, results / "cnn-0-3")  # the record's artifact folder
    record(outside, "mlp", 0, 80.0)
    os.symlink(outside / "mlp-0-3.json", results / "mlp-0-3.json")  # a record that lives elsewhere
    assert cli.main(["report", str(results), "-o", str(tmp_path / "site")]) == 0
    err = capsys.readouterr().err
    assert "mlp-0-3.json: reached through the symbolic link" in err
    assert "artifact listed in a record but missing: cnn seed 0: images/fractal/secret.png" in err
    assert not [p for p in (tmp_path / "site").rglob("*") if p.is_file() and p.read_bytes() == b"secret"]
    assert not list((tmp_path / "site" / "records").glob("*mlp*"))  # no row for the linked record


# -- 3. faults of the disk: one line with the path and what to do -------------------------------------


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_a_full_disk_while_writing_a_record_is_one_line_and_a_rerun_resumes(plugins, capsys, monkeypatch):
    import errno

    real_fsync = os.fsync

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # as write() fails: no file named

    monkeypatch.setattr(os, "fsync", full)
    assert run(plugins) == 2
    line = one_error_line(capsys.readouterr().err)
    path = ResultStore(plugins / "results").path_for(spec_of(plugins))
    assert line.startswith(f"error: cannot write {path}: the disk is full: free space there"), line
    assert not list((plugins / "results").rglob("*.json")) and not list((plugins / "results").rglob("*.tmp"))
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert run(plugins) == 0 and path.is_file()


def test_a_read_only_results_folder_is_one_line_naming_it(plugins, capsys, monkeypatch):
    import errno
    import tempfile

    results = plugins / "results"
    results.mkdir()
    results.chmod(0o555)
    if os.access(results, os.W_OK):  # root writes anyway: the OS's refusal, injected as it would come
        real = tempfile.mkstemp

        def refuse(*args, dir=None, **kwargs):
            if Path(dir).is_relative_to(results):
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(dir))
            return real(*args, dir=dir, **kwargs)

        monkeypatch.setattr(tempfile, "mkstemp", refuse)
    try:
        assert run(plugins) == 2
    finally:
        results.chmod(0o755)
    line = one_error_line(capsys.readouterr().err)
    assert (
        line.startswith(f"error: cannot write {results}/") and "permission denied: give a folder you may write" in line
    )


@pytest.mark.slow  # real processes: a few seconds each
def test_a_report_past_the_file_size_limit_is_one_line_and_the_earlier_report_stays(tmp_path):
    import resource
    import subprocess

    from planted import record

    results, site = tmp_path / "results", tmp_path / "site"
    for seed in range(3):
        record(results, "cnn", seed, 90.0 + seed)
    assert cli.main(["report", str(results), "-o", str(site)]) == 0
    before = {p: p.read_bytes() for p in site.rglob("*") if p.is_file()}
    record(results, "mlp", 0, 80.0)

    def small_files():  # a disk that takes no file over 2 KB: Python ignores SIGXFSZ, so writes fail EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (2048, 2048))

    proc = subprocess.run(
        [sys.executable, "-m", "bench", "report", str(results), "-o", str(site)],
        capture_output=True,
        text=True,
        preexec_fn=small_files,
    )
    assert proc.returncode == 2, proc.stderr
    line = one_error_line(proc.stderr)
    assert line.startswith(f"error: cannot write {site}: a file grew past the size limit"), line
    assert {p: p.read_bytes() for p in site.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results", "site"]  # no half-built folder left


# -- 4. the report is built beside its target and swapped in --------------------------------------------


@pytest.fixture
def reported(tmp_path):
    """A results folder and an earlier report of it in ``site``."""
    from planted import record

    results = tmp_path / "results"
    for seed in range(2):
        record(results, "cnn", seed, 90.0 + seed)
    assert cli.main(["report", str(results), "-o", str(tmp_path / "site")]) == 0
    record(results, "mlp", 0, 80.0)
    return results, tmp_path / "site"


def snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT"])
def test_a_signal_mid_build_leaves_the_earlier_report_whole(reported, monkeypatch, capsys, sig):
    import signal

    from bench.html import page

    results, site = reported
    (site / "notes.txt").write_text("mine")
    before = snapshot(site)
    real_index = page.index

    def interrupted(*args, **kwargs):  # the pages are written, the index not yet
        os.kill(os.getpid(), getattr(signal, sig))
        return real_index(*args, **kwargs)

    monkeypatch.setattr(page, "index", interrupted)
    code = cli.main(["report", str(results), "-o", str(site)])
    err = capsys.readouterr().err
    assert code == 128 + getattr(signal, sig)
    assert f"interrupted by {sig}: no new report was swapped in" in err and "finished runs" not in err
    assert snapshot(site) == before and sorted(p.name for p in site.parent.iterdir()) == ["results", "site"]
    monkeypatch.setattr(page, "index", real_index)
    capsys.readouterr()
    assert cli.main(["report", str(results), "-o", str(site)]) == 0  # the same command, not refused
    assert "mlp" in (site / "index.html").read_text() and (site / "notes.txt").read_text() == "mine"


@pytest.mark.slow  # real processes: a few seconds each
def test_two_reports_into_one_folder_at_once_both_succeed_and_leave_one_whole_site(reported):
    import subprocess

    results, site = reported
    command = [sys.executable, "-m", "bench", "report", str(results), "-o", str(site)]
    procs = [subprocess.Popen(command, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    assert "mlp" in (site / "index.html").read_text() and (site / ".bench-report").is_file()
    assert sorted(p.name for p in site.parent.iterdir()) == ["results", "site"]


# -- 1. bounds on what a record may hold; file names from bounded parts; thinned curves ---------------


def record_file(root: Path, key: str, **changes) -> Path:
    """A valid record (``test_report.record``) under ``root`` with ``changes`` applied to it
    (``spec__params={...}`` sets ``spec.params``)."""
    from planted import record

    record(root, "cnn", 0, 90.0, key=key)
    path = root / f"{key}.json"
    data = json.loads(path.read_text())
    for name, value in changes.items():
        *parents, last = name.split("__")
        target = data
        for parent in parents:
            target = target.setdefault(parent, {})
        target[last] = value
    data["key"] = key_of(data["spec"])
    path.write_text(json.dumps(data))
    return path


@pytest.mark.slow  # real processes: a few seconds each
def test_a_50_mb_record_is_refused_unread_and_table_report_compare_stay_small(tmp_path):
    import resource
    import subprocess

    from planted import record

    results = tmp_path / "results"
    for seed in range(3):
        record(results, "cnn", seed, 90.0 + seed)
    record_file(results, "huge", spec__params={"x": "A" * 50_000_000})

    def one_gib():  # 21.6 GB before the bounds; the interpreter, torch's and matplotlib's code fit
        resource.setrlimit(resource.RLIMIT_AS, (2**30, 2**30))

    commands = [["table", str(results)], ["report", str(results), "-o", str(tmp_path / "site")]]
    commands.append(["compare", str(results), str(results)])
    code = f"from bench import cli\nprint('CODES', [cli.main(c) for c in {commands!r}])"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, preexec_fn=one_gib, timeout=300)
    assert "CODES [0, 0, 0]" in proc.stdout, proc.stderr[-2000:]
    warning = f"unreadable record {results / 'huge.json'}: 48 MiB, more than a record may hold"
    assert proc.stderr.count(warning) >= 3 and len(proc.stdout) < 10_000


@pytest.mark.parametrize(
    "changes, why",
    [
        ({"spec__params": {"x": "A" * 20_000}}, "spec.params.x: 20000 characters, more than 10000"),
        ({"spec__method": "m" * 300}, "spec.method: 300 characters, more than a name may have (100)"),
        ({"spec__seed": 10**300}, "spec.seed: beyond a 64-bit integer"),
        ({"details__curves": [{"epoch": i, "loss": 1.0} for i in range(100_001)]}, "details.curves: 100001 entries"),
    ],
)
def test_a_record_past_a_bound_is_unreadable_naming_the_field(tmp_path, changes, why):
    from bench.records import InvalidRecord, read_record

    path = record_file(tmp_path, "r", **changes)
    with pytest.raises(InvalidRecord, match=why.replace("(", r"\(").replace(")", r"\)")):
        read_record(path)


def test_long_values_a_suite_accepts_give_file_names_the_os_takes_and_thinned_curves(tmp_path, capsys):

    results = tmp_path / "results"
    curve = [{"epoch": i, "loss": 1.0 / (1 + i)} for i in range(5_000)]
    for seed, value in enumerate(["a" * 5000, "b" * 5000]):  # a long DDAE grid: two rows, one name each
        record_file(results, f"k{seed}", spec__params={"blocks": value}, details__curves=curve)
    name = "n" * 100  # the longest name a suite takes, in every part a file name is made of
    record_file(results, "long", spec__suite=name, spec__method=name, spec__dataset=name, spec__protocol=name)
    assert cli.main(["report", str(results), "-o", str(tmp_path / "site")]) == 0, capsys.readouterr().err
    files = [p for p in (tmp_path / "site").rglob("*")]
    assert max(len(p.name) for p in files) <= 100 and len(list((tmp_path / "site" / "records").glob("*.html"))) == 3
    svg = next((tmp_path / "site" / "plots").glob("*training.svg"))
    assert svg.stat().st_size < 500_000  # 1.5 MB with every one of the 2 x 5000 points drawn


# -- 6. a record's key is the hash of its spec --------------------------------------------------------


def test_a_spec_edited_under_its_key_is_run_again_with_a_warning_naming_the_file(plugins, capsys):
    assert run(plugins) == 0
    (path,) = (plugins / "results").rglob("*.json")
    data = json.loads(path.read_text())
    data["spec"]["budget"]["epochs"] = 50  # "it ran 50 epochs", under the key of the 1-epoch run
    write_json_atomic(path, data)
    capsys.readouterr()
    assert run(plugins, SUITE, "--dry-run") == 0
    out, err = capsys.readouterr()
    assert "[to run]" in out and f"warning: {path}: its key" in err and "not trusted: it runs again" in err
    assert run(plugins) == 0
    assert json.loads(path.read_text())["spec"]["budget"]["epochs"] == 1  # the run itself, again


def test_compare_trusts_no_edited_spec_and_counts_a_spec_once(tmp_path, capsys):
    from planted import record

    base, new = tmp_path / "base", tmp_path / "new"
    for seed in range(3):
        record(base, "cnn", seed, 90.0)
        record(new, "cnn", seed, 90.0)
    copy = json.loads((new / "cnn-0-3.json").read_text())
    write_json_atomic(new / "copy-of-seed0.json", copy)  # the same run twice: one sample
    edited = {**copy, "spec": {**copy["spec"], "seed": 7}}  # a fourth seed, made up under seed 0's key
    write_json_atomic(new / "made-up.json", {**edited, "metrics": {"test_accuracy": 99.0}})
    assert cli.main(["compare", str(base), str(new)]) == 0
    out, err = capsys.readouterr()
    assert f"unreadable record {new / 'made-up.json'}: its key" in err and "not trusted" in err
    accuracy = next(line for line in out.splitlines() if "test_accuracy" in line)
    assert accuracy.count("90.00 ± 0.00 (n=3)") == 2, out  # neither the copy nor the made-up seed counts


# -- 2. a method cannot break the suite it runs in ------------------------------------------------------


def records_by_method(results: Path) -> dict:
    return {r["spec"]["method"]: r for r in (json.loads(p.read_text()) for p in results.rglob("*.json"))}


def test_a_method_that_changes_the_working_directory_moves_no_record(plugins, monkeypatch):
    elsewhere = plugins / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.setenv("TOY_CHDIR", str(elsewhere))
    monkeypatch.chdir(plugins)
    text = "seeds: [0, 1]\nruns: [{datasets: toy, methods: [toy-chdir, toy-linear], protocol: classify, budget: {epochs: 1}}]\n"
    suite = suite_file(plugins, text)
    for isolate in ("false", "true"):  # in this process, the relative folder was made absolute at start
        os.chdir(plugins)
        assert (
            cli.main(["run", suite.name, "--results-dir", f"results-{isolate}", "--quiet", "-X", f"isolate={isolate}"])
            == 0
        )
        assert len(list((plugins / f"results-{isolate}").rglob("*.json"))) == 4
    assert files_under(elsewhere) == []


# -- 8. file modes; runs left to a process that was killed ---------------------------------------------


def test_records_and_the_report_honour_the_umask(tmp_path):
    from planted import record

    previous = os.umask(0o022)
    try:
        record(tmp_path / "results", "cnn", 0, 90.0)
        assert cli.main(["report", str(tmp_path / "results"), "-o", str(tmp_path / "site")]) == 0
    finally:
        os.umask(previous)
    assert (tmp_path / "results" / "cnn-0-3.json").stat().st_mode & 0o777 == 0o644  # was 0600: the group could not read
    assert (tmp_path / "site").stat().st_mode & 0o777 == 0o755  # was 0700 (a temporary folder's)
    assert (tmp_path / "site" / "index.html").stat().st_mode & 0o777 == 0o644


def test_runs_a_killed_process_left_are_run_by_the_survivor(plugins):
    from bench.data.store import DataStore
    from bench.progress import Progress
    from bench.runner import run_specs

    reg = registry.load()
    text = "seeds: [0, 1]\nruns: [{datasets: toy, methods: toy-linear, protocol: classify, budget: {epochs: 1}}]\n"
    suite = load_suite(suite_file(plugins, text), reg)
    store = ResultStore(plugins / "results")
    held = store.claim(suite.runs[0])  # another process runs seed 0 ...

    class Dies(Progress):
        def run_finished(self, label, text):  # ... and is killed while this one runs seed 1
            held.release()
            super().run_finished(label, text)

    outcome = run_specs(suite.runs, reg, store, DataStore(plugins / "data"), Dies(quiet=True))
    assert sorted(outcome.ran) == sorted(s.label for s in suite.runs) and not outcome.busy
    assert all(store.is_done(s) for s in suite.runs)


# -- 7. refused when the suite loads, not when the run starts -------------------------------------------


def test_ddae_blocks_and_timesteps_its_unet_lacks_are_refused_at_load_in_params_grids_and_sweeps(tmp_path):
    from bench.suite import SuiteError

    text = """
runs:
  - datasets: cifar10
    methods:
      - {name: ddae, params: {block: out_99}}
      - {name: ddae, grid: {block: [out_2, out_98]}}
      - {name: ddae, params: {timestep: 5000}}
    protocol: linear-probe
  - datasets: cifar10
    methods: ddae
    protocol: {name: linear-probe, holdout: 0.1, feature_sweep: {block: [out_6, out_97]}}
"""
    with pytest.raises(SuiteError) as refused:
        load_suite(suite_file(tmp_path, text), registry.load())
    problems = "\n".join(refused.value.problems)
    for where, what in (
        ("runs[0].methods[0]", "block 'out_99' is not a block of this UNet; expected out_1 .. out_12"),
        ("runs[0].methods[1]", "block 'out_98'"),
        ("runs[0].methods[2]", "timestep 5000 is past the diffusion's T = 1000"),
        ("runs[1].methods[0]", "block 'out_97'"),
    ):
        assert any(where in line and what in line and "suite.yaml" in line for line in refused.value.problems), problems


def test_an_empty_list_of_probe_learning_rates_is_refused_at_load(tmp_path):
    from bench.suite import SuiteError

    text = "runs: [{datasets: cifar10, methods: ddae, protocol: {name: linear-probe, lrs: []}}]\n"
    with pytest.raises(SuiteError, match=r"protocol.lrs: expected a list of at least 1 numbers > 0, got list \[\]"):
        load_suite(suite_file(tmp_path, text), registry.load())


def test_a_number_in_exponent_form_is_a_number(plugins):
    text = "runs: [{datasets: toy, methods: {name: toy-linear, params: {lr: 1e-3}}, protocol: classify}]\n"
    assert spec_of(plugins, text).params["lr"] == 0.001  # YAML 1.1 alone reads the text '1e-3'


@pytest.mark.parametrize("given", ["suite", "command line"])
def test_a_cuda_device_this_machine_lacks_names_where_it_was_asked_for(plugins, capsys, monkeypatch, given):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # a machine with one GPU (mocked)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    text = ("device: cuda:99\n" if given == "suite" else "") + SUITE
    extra = ["--device", "cuda:99"] if given == "command line" else []
    assert run(plugins, text, *extra) == 2
    where = f"{plugins / 'suite.yaml'}: device" if given == "suite" else "--device"
    err = one_error_line(capsys.readouterr().err)
    assert err.startswith(
        f"error: {where}: device 'cuda:99' was asked for but this machine shows 1 CUDA device (cuda:0)"
    ), err


def test_a_loss_that_became_nan_is_recorded_and_shown_as_diverged(plugins, capsys):
    text = "runs: [{datasets: toy, methods: [toy-nan, toy-linear], protocol: classify, budget: {epochs: 1}}]\n"
    assert run(plugins, text) == 0
    records = records_by_method(plugins / "results")
    assert records["toy-nan"]["diverged"] == "loss is nan at epoch 1" and records["toy-nan"]["status"] == "ok"
    assert "diverged" not in records["toy-linear"]
    capsys.readouterr()
    assert cli.main(["table", str(plugins / "results")]) == 0
    table = capsys.readouterr().out
    assert "toy-nan [diverged]" in table and "toy-linear [diverged]" not in table
