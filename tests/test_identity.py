"""A run's record names the code that made it; a record made by other code is stale and re-run."""

import json
import shutil
import sys
from pathlib import Path

import pytest

import bench
from bench import cli, identity
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
    listing = dry_run(lin_suite, results, capsys)
    assert len(listing) == 2 and all("[stale: method code changed]" in line for line in listing)
    kept = dry_run(lin_suite, results, capsys, "--keep-stale")
    assert all("[done, kept though stale: method code changed]" in line for line in kept)
    assert run(lin_suite, results, "--keep-stale") == 0 and ran(tmp_path) == 2

    capsys.readouterr()
    assert cli.main(["run", str(lin_suite), "--results-dir", str(results)]) == 0 and ran(tmp_path) == 4
    assert "2 finished runs are stale (method code changed): running them again" in capsys.readouterr().err
    assert [r["code_identity"]["method"]["version"] for r in records(results)] == ["0.2.0", "0.2.0"]
    assert len(list(results.rglob("*.json"))) == 2  # replaced in place: the key is still the spec's
    assert run(lin_suite, results) == 0 and ran(tmp_path) == 4


def test_a_changed_source_at_the_same_version_makes_records_stale(monkeypatch, tmp_path, lin_suite, capsys):
    results = tmp_path / "results"
    site = install_lin(monkeypatch, tmp_path, "0.1.0")
    assert run(lin_suite, results) == 0
    (site / "bench_lin.py").write_text(LIN_SOURCE.replace("lr=0.5", "lr=0.4"))  # a fix, no version bump
    identity.forget()  # a new process would hash the new file
    assert all("[stale: method code changed]" in line for line in dry_run(lin_suite, results, capsys))
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


def test_which_part_changed_is_named(tmp_path):
    current = {"method": {"source": "a"}, "dataset": {"source": "b"}, "host": {"source": "c"}}
    record = {"code_identity": {**current, "dataset": {"source": "x"}, "host": {"source": "y"}}}
    assert identity.stale_reason(record, current) == "dataset and host code changed"
    assert identity.stale_reason({"code_identity": current}, current) is None
    assert identity.stale_reason({}, current) == identity.NOT_RECORDED
    # A plugin that is not installed here cannot be compared: that part is not called changed.
    assert identity.stale_reason(record, {**current, "dataset": None}) == "host code changed"


def test_a_builtin_hashes_its_own_modules_and_the_helpers_it_imports_not_other_builtins():
    mae = identity._package_sources("bench_plugins.methods.mae")
    assert {"bench_plugins.methods.mae", "bench_plugins.methods.vit"} <= set(mae)
    assert "bench_plugins.methods.dip" not in mae and not any(m.startswith("bench.") for m in mae)
    onepfrac = identity._package_sources(
        "bench_plugins.methods.onepfrac"
    )  # `from bench_plugins.methods import fractal`
    assert "bench_plugins.methods.fractal" in onepfrac
    assert identity.plugin("mae")["distribution"] == "bench" and identity.plugin("mae") != identity.plugin("dip")


def test_a_builtin_whose_source_changed_is_stale(monkeypatch, tmp_path):
    """Edit a copy of the built-in plugins: DIP's hash moves, MAE's does not."""
    import bench_plugins

    copy = tmp_path / "site" / "bench_plugins"
    shutil.copytree(Path(bench_plugins.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    for name in [m for m in sys.modules if m == "bench_plugins" or m.startswith("bench_plugins.")]:
        monkeypatch.delitem(sys.modules, name)
    before = {
        name: identity._digest(identity._package_sources(f"bench_plugins.methods.{name}")) for name in ("dip", "mae")
    }
    dip = copy / "methods" / "dip.py"
    dip.write_text(dip.read_text() + "\n# a fix\n")
    after = {
        name: identity._digest(identity._package_sources(f"bench_plugins.methods.{name}")) for name in ("dip", "mae")
    }
    assert after["dip"] != before["dip"] and after["mae"] == before["mae"]


def test_the_host_hash_follows_the_modules_that_make_numbers_only(tmp_path):
    root = tmp_path / "bench"
    shutil.copytree(Path(bench.__file__).parent, root, ignore=shutil.ignore_patterns("__pycache__"))
    base = identity._digest(identity.host_sources(root))
    (root / "cli.py").write_text("# the command line does not make numbers\n")
    (root / "html" / "page.py").write_text("# nor does the report\n")
    assert identity._digest(identity.host_sources(root)) == base
    for changed in ("protocols/classify.py", "restoration/metrics.py", "data/loader.py", "context.py"):
        copy = tmp_path / changed.replace("/", "_")
        shutil.copytree(root, copy)
        (copy / changed).write_text((copy / changed).read_text() + "\n# changed\n")
        assert identity._digest(identity.host_sources(copy)) != base, changed


def test_host_code_changed_is_named_in_the_dry_run(monkeypatch, tmp_path, lin_suite, capsys):
    results = tmp_path / "results"
    install_lin(monkeypatch, tmp_path, "0.1.0")
    assert run(lin_suite, results) == 0
    monkeypatch.setattr(identity, "host_sources", lambda root: {"protocols/classify.py": b"# changed"})
    identity.forget()
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
    assert "[stale] made by other code than is installed now (method code changed)" in out
    assert cli.main(["table", str(base), "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines()[1].endswith(",method code changed")
    assert cli.main(["table", str(new)]) == 0
    assert "[stale]" not in capsys.readouterr().out

    assert cli.main(["report", str(base), "-o", str(tmp_path / "site")]) == 0
    page = (tmp_path / "site" / "index.html").read_text()
    assert 'class="badge stale" title="method code changed"' in page
    assert "made by other code than is installed now (method code changed)" in page

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
