"""A run's record names the code that made it; a record made by other code is stale and re-run."""

import html
import json
import shutil
import sys
from pathlib import Path

import pytest

import bench
from bench import cli, identity
from bench.records import Record
from fakedist import install_distribution

TOY_SOURCE = (Path(__file__).parent / "toy.py").read_text()

#: A method-only plugin (the dataset comes from the toy plugin), so its upgrades change the method alone.
LIN_SOURCE = """
import torch

from bench import Classifier, hookimpl


def fit(data, ctx):
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, data.num_classes)).to(ctx.device)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    for _ in ctx.epochs(ctx.budget.epochs):
        for x, y in ctx.batches(data.train, 50):
            ctx.optimize(torch.nn.functional.cross_entropy(model(x), y), opt, n=len(x))
    return model


@hookimpl
def bench_register_methods(register):
    register(Classifier(name="lin", train=fit, budget={"epochs": 1}))
"""

SUITE = "seeds: [0, 1]\nruns: [{datasets: toy, methods: lin, protocol: classify}]\n"


@pytest.fixture(autouse=True)
def _fresh_identities():
    identity.forget()
    yield
    identity.forget()


def install_lin(monkeypatch, root: Path, version: str, source: str = LIN_SOURCE) -> Path:
    """bench-lin VERSION on sys.path (first), as pip would leave it after an upgrade."""
    site = install_distribution(
        monkeypatch, root / version, "bench-lin", version, {"bench_lin": source}, {"lin": "bench_lin"}
    )
    monkeypatch.delitem(sys.modules, "bench_lin", raising=False)
    identity.forget()
    return site


@pytest.fixture
def lin_suite(monkeypatch, tmp_path):
    install_distribution(monkeypatch, tmp_path, "bench-toy", "1.0", {"bench_toy": TOY_SOURCE}, {"toy": "bench_toy"})
    monkeypatch.setenv("BENCH_PLUGINS", "toy,lin")
    monkeypatch.setenv("TOY_RUN_LOG", str(tmp_path / "runs.log"))
    suite = tmp_path / "lin.yaml"
    suite.write_text(SUITE)
    return suite


def run(suite, results, *extra):
    return cli.main(["run", str(suite), "--results-dir", str(results), "--quiet", *extra])


def dry_run(suite, results, capsys, *extra) -> list[str]:
    capsys.readouterr()
    assert cli.main(["run", str(suite), "--results-dir", str(results), "--dry-run", *extra]) == 0
    return [line for line in capsys.readouterr().out.splitlines() if line.startswith("toy / ")]


def ran(tmp_path) -> int:
    log = tmp_path / "runs.log"
    return len(log.read_text().splitlines()) if log.exists() else 0


def made_by(code_identity: dict | None) -> Record:
    """A record whose code identity is ``code_identity`` (None: one made before it was recorded)."""
    return Record(key="k", spec={}, status="ok", code_identity=code_identity)


def records(results: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(results.rglob("*.json"))]


def test_a_record_carries_the_identity_of_the_code_that_made_it(monkeypatch, tmp_path, lin_suite):
    install_lin(monkeypatch, tmp_path, "0.1.0")
    assert run(lin_suite, tmp_path / "results") == 0
    code = records(tmp_path / "results")[0]["code_identity"]
    assert {k: code["method"][k] for k in ("plugin", "distribution", "version")} == {
        "plugin": "lin",
        "distribution": "bench-lin",
        "version": "0.1.0",
    }
    assert code["dataset"]["distribution"] == "bench-toy" and code["host"]["version"] == bench.__version__
    assert all(len(code[part]["source"]) == 16 for part in identity.PARTS)


def test_upgrading_a_plugin_makes_its_records_stale_and_bench_run_redoes_them(monkeypatch, tmp_path, lin_suite, capsys):
    results = tmp_path / "results"
    install_lin(monkeypatch, tmp_path, "0.1.0")
    assert run(lin_suite, results) == 0 and ran(tmp_path) == 2
    assert run(lin_suite, results) == 0 and ran(tmp_path) == 2  # unchanged code: resumed, nothing redone
    assert all("[done]" in line for line in dry_run(lin_suite, results, capsys))

    install_lin(monkeypatch, tmp_path, "0.2.0")  # same source, new version
    why = "method code changed (version 0.1.0 -> 0.2.0)"
    listing = dry_run(lin_suite, results, capsys)
    assert len(listing) == 2 and all(f"[stale: {why}]" in line for line in listing)
    kept = dry_run(lin_suite, results, capsys, "--keep-stale")
    assert all(f"[done, kept though stale: {why}]" in line for line in kept)
    assert run(lin_suite, results, "--keep-stale") == 0 and ran(tmp_path) == 2

    capsys.readouterr()
    assert cli.main(["run", str(lin_suite), "--results-dir", str(results)]) == 0 and ran(tmp_path) == 4
    assert f"2 finished runs are stale ({why}): running them again" in capsys.readouterr().err
    current = sorted(p for p in results.rglob("*.json") if p.parent.name != "superseded")
    assert [json.loads(p.read_text())["code_identity"]["method"]["version"] for p in current] == ["0.2.0"] * 2
    # The key is still the spec's: replaced in place, each replaced record kept beside it.
    superseded = sorted(results.rglob("superseded/*.json"))
    assert [p.name.partition("@")[0] for p in superseded] == [p.stem for p in current]
    assert [json.loads(p.read_text())["code_identity"]["method"]["version"] for p in superseded] == ["0.1.0"] * 2
    assert run(lin_suite, results) == 0 and ran(tmp_path) == 4


def test_a_changed_source_at_the_same_version_makes_records_stale(monkeypatch, tmp_path, lin_suite, capsys):
    results = tmp_path / "results"
    site = install_lin(monkeypatch, tmp_path, "0.1.0")
    assert run(lin_suite, results) == 0
    (site / "bench_lin.py").write_text(LIN_SOURCE.replace("lr=0.5", "lr=0.4"))  # a fix, no version bump
    identity.forget()  # a new process would hash the new file
    assert all("[stale: method code changed (bench_lin)]" in line for line in dry_run(lin_suite, results, capsys))
    assert run(lin_suite, results) == 0 and ran(tmp_path) == 4


def test_records_made_before_code_identity_was_recorded_are_stale(monkeypatch, tmp_path, lin_suite, capsys):
    results = tmp_path / "results"
    install_lin(monkeypatch, tmp_path, "0.1.0")
    assert run(lin_suite, results) == 0
    for path in results.rglob("*.json"):
        old = json.loads(path.read_text())
        del old["code_identity"]
        path.write_text(json.dumps(old))
    listing = dry_run(lin_suite, results, capsys)
    assert all("[stale: made before code identity was recorded]" in line for line in listing)


def test_which_part_and_module_changed_is_named():
    current = {
        "method": {"source": "a", "modules": {"m": "1"}},
        "dataset": {"source": "b", "modules": {"d": "1"}},
        "host": {"source": "c", "modules": {"bench.context": "1", "bench.timing": "1"}},
    }
    record = made_by(
        {
            **current,
            "dataset": {"source": "x", "modules": {"d": "2"}},
            "host": {"source": "y", "modules": {"bench.context": "2", "bench.accel": "1"}},
        }
    )
    assert identity.stale_reason(record, current) == (
        "dataset and host code changed (+bench.timing, -bench.accel, bench.context, d)"
    )
    assert identity.stale_reason(made_by(current), current) is None
    assert identity.stale_reason(made_by(None), current) == identity.NOT_RECORDED
    # A plugin that is not installed here cannot be compared: that part is not called changed.
    assert identity.stale_reason(record, {**current, "dataset": None}).startswith("host code changed")


def test_a_builtin_hashes_its_own_modules_and_the_helpers_it_imports_not_other_builtins():
    mae = identity._package_sources("bench_plugins.methods.mae")
    assert {"bench_plugins.methods.mae", "bench_plugins.methods.vit"} <= set(mae)
    assert "bench_plugins.methods.dip" not in mae and not any(m.startswith("bench.") for m in mae)
    onepfrac = identity._package_sources(
        "bench_plugins.methods.onepfrac"
    )  # `from bench_plugins.methods import fractal`
    assert "bench_plugins.methods.fractal" in onepfrac
    assert identity.plugin("mae")["distribution"] == "bench" and identity.plugin("mae") != identity.plugin("dip")


def copy_of_builtin_plugins(monkeypatch, tmp_path) -> Path:
    """A copy of bench_plugins first on sys.path, to edit."""
    import bench_plugins

    copy = tmp_path / "site" / "bench_plugins"
    shutil.copytree(Path(bench_plugins.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    for name in [m for m in sys.modules if m == "bench_plugins" or m.startswith("bench_plugins.")]:
        monkeypatch.delitem(sys.modules, name)
    return copy


def plugin_hashes(*names) -> dict:
    return {name: identity._identity(identity._package_sources(f"bench_plugins.methods.{name}")) for name in names}


def test_a_builtin_whose_source_changed_is_stale(monkeypatch, tmp_path):
    """Edit a copy of the built-in plugins: DIP's hash moves, MAE's does not."""
    copy = copy_of_builtin_plugins(monkeypatch, tmp_path)
    before = plugin_hashes("dip", "mae")
    dip = copy / "methods" / "dip.py"
    dip.write_text(dip.read_text() + "\nFIX = 1\n")
    after = plugin_hashes("dip", "mae")
    assert after["mae"] == before["mae"] and after["dip"]["source"] != before["dip"]["source"]
    assert identity.module_changes(before["dip"]["modules"], after["dip"]["modules"]) == ["bench_plugins.methods.dip"]


def test_comments_docstrings_and_formatting_never_change_a_hash(monkeypatch, tmp_path):
    copy = copy_of_builtin_plugins(monkeypatch, tmp_path)
    before = plugin_hashes("dip")
    dip = copy / "methods" / "dip.py"
    text = dip.read_text()
    assert text.startswith('"""')
    dip.write_text('"""Reworded docstring.\n\n' + text[3:].replace("\ndef ", "\n# a comment\n\n\ndef ", 1))
    assert plugin_hashes("dip") == before
    same = (b"def f(x):\n    'Doc.'\n    return (x +\n 1)  # one\n", b"def f(x):\n    return x + 1\n")
    assert identity.normalized(same[0]) == identity.normalized(same[1])
    assert identity.normalized(b"x = 'a'\n") != identity.normalized(b"x = 'b'\n")  # a string in code counts
    assert identity.normalized(b"def f():\n    'Only a docstring.'\n") == identity.normalized(b"def f():\n    pass\n")


def bench_copy(tmp_path) -> Path:
    root = tmp_path / "bench"
    shutil.copytree(Path(bench.__file__).parent, root, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def host_of(root: Path, protocol: str) -> dict:
    from bench.protocols import PROTOCOLS

    module = PROTOCOLS[protocol].implementation.partition(":")[0]
    return identity._identity(identity.host_sources(root, module))


PROTOCOL_NAMES = ("classify", "restore", "finetune", "linear-probe", "knn")


def test_the_host_hash_follows_the_modules_a_protocol_runs(tmp_path):
    root = bench_copy(tmp_path)
    base = {p: host_of(root, p) for p in PROTOCOL_NAMES}
    assert "bench.protocols.finetune" in base["linear-probe"]["modules"]  # the probe imports it
    assert "bench.protocols.finetune" not in base["classify"]["modules"]
    assert {"bench.context", "bench.accel", "bench.timing"} <= set(base["restore"]["modules"])
    for untouched in ("cli.py", "html/page.py", "report.py", "records.py", "protocols/__init__.py"):
        (root / untouched).write_text((root / untouched).read_text() + "\nx = 1\n")
    assert {p: host_of(root, p) for p in PROTOCOL_NAMES} == base

    finetune = root / "protocols" / "finetune.py"
    finetune.write_text(finetune.read_text() + "\nx = 1\n")
    after = {p: host_of(root, p) for p in PROTOCOL_NAMES}
    assert [p for p in PROTOCOL_NAMES if after[p] != base[p]] == ["finetune", "linear-probe"]
    record = made_by({"host": base["finetune"]})
    assert identity.stale_reason(record, {"host": after["finetune"]}) == "host code changed (bench.protocols.finetune)"


def test_host_code_changed_is_named_in_the_dry_run(monkeypatch, tmp_path, lin_suite, capsys):
    results = tmp_path / "results"
    install_lin(monkeypatch, tmp_path, "0.1.0")
    assert run(lin_suite, results) == 0
    monkeypatch.setattr(identity, "host_sources", lambda root, module: {"bench.protocols.classify": b"x = 2"})
    identity.forget()
    assert all("[stale: host code changed (" in line for line in dry_run(lin_suite, results, capsys))


def test_a_schema_1_record_is_current_while_its_files_hash_the_same(monkeypatch, tmp_path, lin_suite, capsys):
    from bench.records import SCHEMA_VERSION, check_record

    results = tmp_path / "results"
    install_lin(monkeypatch, tmp_path, "0.1.0")
    assert run(lin_suite, results) == 0
    now = records(results)[0]["code_identity"]
    legacy = {part: {k: v for k, v in now[part].items() if k not in ("modules", "protocol")} for part in now}
    for part in legacy:
        legacy[part]["source"] = identity.legacy_source(now[part])
    for path in results.rglob("*.json"):  # as bench wrote them before schema 2
        path.write_text(json.dumps({**json.loads(path.read_text()), "schema_version": 1, "code_identity": legacy}))
    listing = dry_run(lin_suite, results, capsys)
    assert all("[done]" in line for line in listing), listing
    upgraded = check_record(records(results)[0])
    assert (
        upgraded.schema_version == SCHEMA_VERSION
        and upgraded.code_identity["host"]["source_v1"] == legacy["host"]["source"]
    )

    legacy["host"]["source"] = "0" * 16  # other bytes made them
    for path in results.rglob("*.json"):
        path.write_text(json.dumps({**json.loads(path.read_text()), "code_identity": legacy}))
    assert all("[stale: host code changed]" in line for line in dry_run(lin_suite, results, capsys))


def test_table_report_and_compare_say_when_records_were_made_by_other_code(monkeypatch, tmp_path, lin_suite, capsys):
    base, new = tmp_path / "base", tmp_path / "new"
    install_lin(monkeypatch, tmp_path, "0.1.0")
    assert run(lin_suite, base) == 0
    capsys.readouterr()
    assert cli.main(["table", str(base)]) == 0
    assert "[stale]" not in capsys.readouterr().out  # made by the code installed now
    assert cli.main(["compare", str(base), str(base)]) == 0
    assert "different code" not in capsys.readouterr().out

    install_lin(monkeypatch, tmp_path, "0.2.0")
    assert run(lin_suite, new) == 0
    capsys.readouterr()
    assert cli.main(["table", str(base)]) == 0
    out = capsys.readouterr().out
    assert "lin [stale]" in out
    why = "method code changed (version 0.1.0 -> 0.2.0)"
    assert f"[stale] made by other code than is installed now ({why})" in out
    assert cli.main(["table", str(base), "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines()[1].endswith(f",{why}")
    assert cli.main(["table", str(new)]) == 0
    assert "[stale]" not in capsys.readouterr().out

    assert cli.main(["report", str(base), "-o", str(tmp_path / "site")]) == 0
    page = (tmp_path / "site" / "index.html").read_text()
    assert f'class="badge stale" title="{html.escape(why)}"' in page
    assert f"made by other code than is installed now ({html.escape(why)})" in page

    capsys.readouterr()
    cli.main(["compare", str(base), str(new)])
    out = capsys.readouterr().out
    assert "BASE and NEW records were made by different code in 1 row(s): method code differs" in out
    assert "code differs: method" in out  # and in the row's notes

    for path in base.rglob("*.json"):  # as records made before code identity was recorded
        old = json.loads(path.read_text())
        del old["code_identity"]
        path.write_text(json.dumps(old))
    cli.main(["compare", str(base), str(new)])
    assert "1 row(s) have records made before code identity was recorded" in capsys.readouterr().out


# -- what a run's key hashes --------------------------------------------------------------------


def suite_keys(text: str, tmp_path, reg=None) -> dict[str, str]:
    from bench import registry
    from bench.suite import load_suite

    path = tmp_path / "suite.yaml"
    path.write_text(text)
    return {spec.label: spec.key for spec in load_suite(path, reg or registry.load()).runs}


QUICK = (
    "name: quick\nseeds: [0]\nruns: [{datasets: [mnist], methods: [mlp], protocol: {name: classify, holdout: 0.1}}]\n"
)


def test_a_new_protocol_option_at_its_default_keeps_every_key(monkeypatch, tmp_path):
    from dataclasses import replace

    from bench import Param
    from bench.protocols import PROTOCOLS

    before = suite_keys(QUICK, tmp_path)
    classify = PROTOCOLS["classify"]
    label_budget = replace(classify, options={**classify.options, "labels_per_class": Param(0, ge=0)})
    monkeypatch.setitem(PROTOCOLS, "classify", label_budget)
    assert suite_keys(QUICK, tmp_path) == before
    written = QUICK.replace("holdout: 0.1}", "holdout: 0.1, labels_per_class: 0}")
    assert suite_keys(written, tmp_path) == before  # the default written out is the same run
    other = suite_keys(QUICK.replace("holdout: 0.1}", "holdout: 0.1, labels_per_class: 4}"), tmp_path)
    assert other.keys() == before.keys() and set(other.values()).isdisjoint(before.values())
    # Options of the keys' snapshot keep their defaults in the key (the keys records already have).
    assert suite_keys(QUICK.replace(", holdout: 0.1", ""), tmp_path) == before


def test_a_new_method_param_declared_with_since_keeps_every_key_at_its_default(monkeypatch, tmp_path):
    from bench import Param, registry

    reg = registry.load()
    before = suite_keys(QUICK, tmp_path, reg)
    params = reg.method("mlp").params
    monkeypatch.setitem(params, "width", Param(1.0, gt=0, since="0.2"))
    assert suite_keys(QUICK, tmp_path, reg) == before
    wider = QUICK.replace("methods: [mlp]", "methods: [{name: mlp, params: {width: 2.0}}]")
    assert set(suite_keys(wider, tmp_path, reg).values()).isdisjoint(before.values())
    monkeypatch.setitem(params, "width", Param(1.0, gt=0))  # without since: every run of mlp is a new run
    assert set(suite_keys(QUICK, tmp_path, reg).values()).isdisjoint(before.values())


# -- the committed reference records ------------------------------------------------------------

REFERENCE = Path(__file__).resolve().parents[1] / "results" / "reference"
#: In REFERENCE.md, under a folder's heading (``## quick``), this says why its stale records are kept.
KEPT = "Stale on purpose:"


def reference_sections() -> dict[str, str]:
    """Folder name -> its section of results/reference/REFERENCE.md."""
    text = (REFERENCE / "REFERENCE.md").read_text()
    return {part.partition("\n")[0].strip(): part for part in text.split("\n## ")[1:]}


@pytest.mark.skipif(not REFERENCE.is_dir(), reason="no reference records in this tree")
def test_reference_records_are_current_unless_their_reference_md_says_why_not():
    from bench.records import iter_records
    from bench.suite import RunSpec

    sections = reference_sections()
    folders = sorted(p for p in REFERENCE.iterdir() if p.is_dir())
    assert folders and {f.name for f in folders} <= set(sections), "each reference folder has a ## section"
    for folder in folders:
        kept = KEPT in sections[folder.name]
        for path, record in iter_records(folder):
            assert path.stem.endswith(RunSpec.from_dict(record.spec).key), f"{path}: its key moved"
            reason = identity.stale_reason(record)
            assert reason is None or kept, (
                f"{path} is stale ({reason}): re-make {folder.name} (results/reference/REFERENCE.md says how), "
                f"or say under ## {folder.name} why it is kept ('{KEPT} ...')"
            )
