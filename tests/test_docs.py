"""The README and docs/ are tested like code: every command they show runs here (on the committed
reference records, on toy data, or as a dry run) or is listed below as not runnable with why;
every code example is installed as a plugin and run; every method-notes citation resolves."""

from __future__ import annotations

import ast
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bench import cli, registry
from bench.suite import load_suite
from fakedist import install_distribution

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

#: Commands the pages show that this test cannot run, and why.
NOT_RUNNABLE = {
    "pip install 'bench[ray]'": "installs packages (the test extras already hold ray)",
    "pip install 'bench[slurm]'": "installs packages (the test extras already hold submitit)",
    "pip install -e .": "installs a package",
    "pip install -e '.[test]'": "installs this package (every make target does it first)",
    "ray start --head": "starts a Ray cluster; tests/executors/test_executors.py runs a local one",
    "ray start --address=HEAD:6379": "joins a Ray cluster at a placeholder address",
    "python tests/browser.py report/ shot.png": "needs Chromium; tests/html/test_assets.py runs the same check",
    'python -m pytest -o addopts="" tests/benchmarks/test_fractal.py --benchmark-only': "a timed benchmark "
    "(minutes); `make benchmark` runs it",
    'python -m pytest -o addopts="" tests/benchmarks/test_harness.py --benchmark-only': "a timed benchmark "
    "(minutes); `make benchmark` runs it",
    "pip install --no-deps airbench==0.1.8": "installs a package (tests/plugins/test_airbench.py skips without it)",
    "BENCH_DATA_DIR=/data python tools/airbench_side_by_side.py --runs 5 --out side_by_side.json": "needs a GPU, "
    "the PyPI airbench and CIFAR-10; tests/plugins/test_airbench.py checks one step against the package on the CPU",
    "bench gpu-check --device cpu --out device-check --tiny": "every built-in method, a minute or "
    "more; tests/test_devicecheck.py runs the same command end to end",
}

#: Suites whose records the pages' tables read but which take minutes to hours (or a GPU): stand-ins
#: with the same names, made from the pages' own plugin examples on toy data.
STAND_INS = {
    "restoration-quick": "restore",
    "restoration-cpu": "restore",
    "dip-sr-set5": "restore",
    "set12-ranks-cpu": "restore",
    "representation-mnist-cpu": "represent",
    "onepfrac-mnist-cpu": "represent",
    "icn-mnist-cpu": "classify",
}
STAND_IN_RUNS = {
    "restore": """
  - {datasets: tiny-restore, methods: [bicubic, tv], protocol: {name: restore, task: sr, scale: 2}}
  - {datasets: tiny-restore, methods: [degraded-input, tv], protocol: {name: restore, task: denoise, sigma: 25.0}}""",
    "represent": """
  - {datasets: toy, methods: tinyae, protocol: {name: linear-probe, holdout: 0.1}}
  - {datasets: toy, methods: tinyae, protocol: {name: linear-probe, holdout: 0.1, weights: random}}
  - {datasets: toy, methods: tinyae, protocol: knn}""",
    "classify": """
  - {datasets: toy, methods: [logreg, painter], protocol: classify}""",
}


def blocks(path: Path, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", path.read_text(), flags=re.S)


def shown_commands() -> list[str]:
    """Every command line of every ```sh block, without its trailing comment, and every inline
    `make ...`, `pip ...` or `bench ...` that is a whole command (not a bare `bench table`, not a
    synopsis with placeholders such as `bench compare BASE NEW`)."""
    commands = []
    for page in PAGES:
        text = page.read_text()
        lines = [re.sub(r"\s+#.*$", "", line).strip() for block in blocks(page, "sh") for line in block.splitlines()]
        prose = re.sub(r"```.*?```", "", text, flags=re.S)
        for span in re.findall(r"`((?:bench|make|pip) [^`]+)`", prose):
            words = span.split()
            if (words[0] != "bench" or len(words) > 2) and not any(re.fullmatch(r"[A-Z]+", w) for w in words):
                lines.append(span)
        for line in lines:
            if line and not line.startswith("#") and line not in commands:
                commands.append(line)
    return commands


def examples() -> dict[str, str]:
    """The pages' plugin examples: module name (from the block's first line, `# bench_x.py`) -> source."""
    found = {}
    for page in PAGES:
        for block in blocks(page, "python"):
            first = re.match(r"# (bench_\w+)\.py", block)
            assert first, f"{page.name}: a python block must start with '# bench_<name>.py', got {block[:40]!r}"
            found[first.group(1)] = block
    return found


def split_env(command: str) -> tuple[dict[str, str], list[str]]:
    words = shlex.split(command)
    env = {}
    while words and re.match(r"^[A-Z_]+=", words[0]):
        key, value = words.pop(0).split("=", 1)
        env[key] = value
    return env, words


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """The pages' plugins installed, and a results folder: the committed reference records, a copy
    of them as the fresh run a gate compares, and the stand-in suites."""
    root = tmp_path_factory.mktemp("docs")
    sources = examples()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BENCH_OFFLINE", "1")
        mp.setenv("BENCH_DATA_DIR", str(root / "data"))
        mp.delenv("BENCH_PLUGINS", raising=False)
        install_distribution(
            mp, root, "bench-docs-examples", "0.1.0", sources, {m[len("bench_") :]: m for m in sources}
        )
        install_distribution(
            mp,
            root,
            "bench-toy",
            "1.0",
            {
                "bench_toy": (HERE / "toy.py").read_text(),
                "bench_restoration_toy": (HERE / "restoration_toy.py").read_text(),
            },
            {"toy": "bench_toy", "restoration-toy": "bench_restoration_toy"},
        )
        results = root / "results"
        shutil.copytree(ROOT / "results" / "reference", results / "reference")
        for suite in (results / "reference").iterdir():
            if suite.is_dir():
                shutil.copytree(suite, results / suite.name)
        for name, kind in STAND_INS.items():
            path = root / f"{name}.yaml"
            path.write_text(f"name: {name}\nseeds: [0]\nruns:{STAND_IN_RUNS[kind]}\n")
            assert cli.main(["run", str(path), "--results-dir", str(results), "--quiet"]) == 0
        yield root


def records(results: Path, suite: str) -> list[dict]:
    return [json.loads(p.read_text()) for p in (results / suite).rglob("seed*.json")]


def test_every_shown_command_is_tested_or_excused():
    unknown = [c for c in shown_commands() if split_env(c)[1][0] not in ("bench", "make") and c not in NOT_RUNNABLE]
    assert not unknown, f"commands in the docs that no test runs; run them or add them to NOT_RUNNABLE: {unknown}"
    stale = [c for c in NOT_RUNNABLE if c not in shown_commands()]
    assert not stale, f"NOT_RUNNABLE lists commands no page shows: {stale}"


@pytest.mark.parametrize("command", [c for c in shown_commands() if split_env(c)[1][0] == "make"])
def test_make_commands_name_real_targets(command):
    env, words = split_env(command)
    done = subprocess.run(
        ["make", "-n", *words[1:]], cwd=ROOT, capture_output=True, text=True, env={**os.environ, **env}
    )
    assert done.returncode == 0, f"{command}: {done.stderr}"


@pytest.mark.parametrize("command", [c for c in shown_commands() if split_env(c)[1][:2] == ["bench", "run"]])
def test_run_commands_validate(command, tmp_path, monkeypatch, capsys):
    """A suite run takes minutes to hours (or a GPU, or a cluster): its dry run validates the suite,
    the options and the executor, and lists the runs."""
    env, words = split_env(command)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    # A folder of its own holding the repository's suites: the default results folder (and a
    # relative --results-dir) must not be the working tree's, which `make quick` fills.
    (tmp_path / "suites").symlink_to(ROOT / "suites")
    monkeypatch.chdir(tmp_path)
    assert cli.main([*words[1:], "--dry-run"]) == 0, capsys.readouterr().err
    assert "[to run]" in capsys.readouterr().out


@pytest.mark.parametrize(
    "command",
    [
        c
        for c in shown_commands()
        if split_env(c)[1][0] == "bench" and split_env(c)[1][1] != "run" and c not in NOT_RUNNABLE
    ],
)
def test_other_bench_commands_run(command, workspace, tmp_path, monkeypatch, capsys):
    """Each in a fresh folder holding `results` (the workspace's), so outputs such as report/ start empty."""
    (tmp_path / "results").symlink_to(workspace / "results")
    monkeypatch.chdir(tmp_path)
    env, words = split_env(command)
    assert cli.main(words[1:]) == 0, capsys.readouterr().err
    written = [p.name for p in tmp_path.iterdir() if p.name != "results"]
    assert capsys.readouterr().out.strip() or written, f"{command}: printed nothing and wrote nothing"


def test_suite_example_validates(tmp_path):
    (example,) = [b for b in blocks(ROOT / "docs" / "suites.md", "yaml") if "runs:" in b]
    path = tmp_path / "quick.yaml"
    path.write_text(example)
    suite = load_suite(path, registry.load())
    assert {r.method for r in suite.runs} == {"small-cnn", "mlp"} and len(suite.runs) == 6


def test_ci_workflow_example_runs_the_gate():
    (workflow,) = [b for b in blocks(ROOT / "docs" / "ci.md", "yaml") if "jobs:" in b]
    steps = yaml.safe_load(workflow)["jobs"]["quick-suite-gate"]["steps"]
    gate = [s["run"] for s in steps if "run" in s]
    assert gate == ["make quick", ".venv/bin/bench compare results/reference/quick results"]


def test_the_ci_gate_passes_on_a_fresh_quick_run(tmp_path, monkeypatch):
    """After `make quick` the results folder holds the quick suite only: the documented gate must not
    call the other reference suites `missing`."""
    (workflow,) = [b for b in blocks(ROOT / "docs" / "ci.md", "yaml") if "jobs:" in b]
    gate = yaml.safe_load(workflow)["jobs"]["quick-suite-gate"]["steps"][-1]["run"].split()
    shutil.copytree(ROOT / "results" / "reference", tmp_path / "results" / "reference")
    shutil.copytree(ROOT / "results" / "reference" / "quick", tmp_path / "results" / "quick")
    monkeypatch.chdir(tmp_path)
    assert gate[0].endswith("bench") and cli.main(gate[1:]) == 0


def test_bench_help_shows_the_documented_gate():
    """`bench --help`'s compare example is the gate docs/ci.md documents (the quick suite's folder)."""
    (workflow,) = [b for b in blocks(ROOT / "docs" / "ci.md", "yaml") if "jobs:" in b]
    gate = yaml.safe_load(workflow)["jobs"]["quick-suite-gate"]["steps"][-1]["run"].split()
    shown = [line.split() for line in cli.EPILOG.splitlines() if line.split()[1:2] == ["compare"]]
    assert shown and all(words[:4] == ["bench", *gate[1:]] for words in shown), shown


def test_plugin_examples_run_and_measure(workspace):
    results = workspace / "results"
    classify = {r["spec"]["method"]: r for r in records(results, "icn-mnist-cpu")}
    assert classify["logreg"]["metrics"]["test_accuracy"] > 80
    painter = classify["painter"]
    assert painter["status"] == "ok" and painter["published"][0]["value"] == 99.0
    assert any("mean" in json.dumps(a) for a in painter["artifacts"])
    assert painter["throughput"]["mean_images_per_s"]["label"] == "mean img/s"  # declared with bench.rate

    probes = [r for r in records(results, "representation-mnist-cpu") if r["spec"]["method"] == "tinyae"]
    assert len(probes) == 3 and all(r["metrics"]["test_accuracy"] > 50 for r in probes)

    restored = {}
    for r in records(results, "restoration-quick"):
        restored[r["spec"]["method"], r["spec"]["protocol_options"]["task"]] = r["metrics"]["psnr"]
    assert restored["tv", "denoise"] > restored["degraded-input", "denoise"] + 3
    assert ("tv", "sr") in restored and ("bicubic", "sr") in restored


@pytest.mark.real_data
def test_dataset_example_reads_mnist(shared_data, monkeypatch):
    monkeypatch.setenv("BENCH_DATA_DIR", str(shared_data))
    source = examples()["bench_parity"]
    namespace: dict = {}
    exec(compile(source, "bench_parity.py", "exec"), namespace)
    from bench import DataStore

    test = namespace["load"]("test", DataStore(shared_data, offline=True))
    assert tuple(test.images.shape) == (10000, 1, 28, 28) and set(test.labels.tolist()) == {0, 1}
    assert test.classes == ("even", "odd")


def anchors(path: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    out = set()
    for heading in re.findall(r"^#+ (.+)$", path.read_text(), flags=re.M):
        out.add(re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-"))
    return out


def test_method_notes_citations_resolve():
    methods = ROOT / "docs" / "METHODS.md"
    cited = []
    for folder in ("bench", "plugins", "suites", "tests"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in (".py", ".yaml") and path != Path(__file__):
                for match in re.finditer(r"METHODS\.md(#[\w-]+|, section ([\w -]+))?", path.read_text()):
                    cited.append((path.relative_to(ROOT), match.group(1), match.group(0)))
    assert cited, "no code cites docs/METHODS.md"
    unnamed = [f"{p}: {text}" for p, section, text in cited if not section]
    assert not unnamed, f"cite a section (docs/METHODS.md#section): {unnamed}"
    known = anchors(methods)
    wrong = [
        f"{p}: {text}"
        for p, section, text in cited
        if (section[1:] if section.startswith("#") else section.split(", section ")[-1].lower().replace(" ", "-"))
        not in known
    ]
    assert not wrong, f"citations of sections that docs/METHODS.md does not have: {wrong}; it has {sorted(known)}"


def test_links_between_pages_resolve():
    broken = []
    for page in PAGES:
        for target in re.findall(r"\]\(([^)#\s]*\.md)?(#[\w-]+)?\)", page.read_text()):
            file, anchor = target
            if not file and not anchor:
                continue
            linked = (page.parent / file) if file else page
            if not linked.exists() or (anchor and anchor[1:] not in anchors(linked)):
                broken.append(f"{page.name}: {file}{anchor}")
    assert not broken, f"links to pages or sections that do not exist: {broken}"


@pytest.mark.parametrize("module", sorted(examples()))
def test_examples_are_short_and_lint_clean(module, tmp_path):
    """What a reader copies must pass `make lint` as the project's code does (pyproject's ruff config)."""
    source = examples()[module]
    assert len(source.splitlines()) < 60, f"{module}: an example of a plugin fits on one screen"
    path = tmp_path / f"{module}.py"
    path.write_text(source)
    for check in (["check"], ["format", "--check"]):
        done = subprocess.run(
            [sys.executable, "-m", "ruff", *check, "--config", str(ROOT / "pyproject.toml"), str(path)],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, f"{module}: ruff {' '.join(check)}:\n{done.stdout}{done.stderr}"


def test_make_test_fast_skips_the_browser_and_ray_tests():
    """`make test-fast` deselects the `slow` marker; every test that needs a Ray cluster or Chromium has it."""
    assert '-m "not slow"' in (ROOT / "Makefile").read_text()
    assert "slow:" in (ROOT / "pyproject.toml").read_text()
    unmarked = []
    for path in HERE.rglob("test_*.py"):  # tests/restoration/ too
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                needs = {a.arg for a in node.args.args} & {"ray_cluster", "chromium"}
                marked = any(ast.unparse(d) == "pytest.mark.slow" for d in node.decorator_list)
                if needs and not marked:
                    unmarked.append(f"{path.name}::{node.name}")
    assert not unmarked, f"tests that need a Ray cluster or Chromium but are not marked slow: {unmarked}"


def test_a_third_party_package_written_from_the_docs_installs_lists_checks_runs_and_reports(
    workspace, tmp_path, capsys
):
    """The docs' examples are what an outsider writes from docs/plugins.md alone: one package per
    kind (installed by the workspace as the distribution bench-docs-examples) must be listed,
    have a page, pass `bench check`, run in a suite and land in the table and the report."""
    kinds = {"logreg": "classifier", "tinyae": "representation", "tv": "restorer"}
    assert cli.main(["plugins", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)["plugins"]}
    for name, kind in kinds.items():
        assert (rows[name]["type"], rows[name]["distribution"]) == (kind, "bench-docs-examples")
    assert rows["tv"]["tasks"] == "restoration" and rows["tv"]["restorations"] == ["denoise", "sr", "inpaint"]
    assert rows["mnist-parity"]["kind"] == "dataset" and rows["mnist-parity"]["num_classes"] == 2
    for name in (*kinds, "mnist-parity"):
        assert cli.main(["plugins", name]) == 0
        assert f" {name}  (plugin " in capsys.readouterr().out
    assert cli.main(["check", "logreg", "tinyae", "tvrestore"]) == 0
    assert "3 methods checked, 0 rules broken" in capsys.readouterr().out

    suite = tmp_path / "outsider.yaml"
    suite.write_text(
        "name: outsider\nseeds: [0]\nruns:\n"
        "  - {datasets: toy, methods: logreg, protocol: classify}\n"
        "  - {datasets: toy, methods: {name: tinyae, budget: {epochs: 2}}, protocol: knn}\n"
        "  - {datasets: toy, methods: {name: tinyae, budget: {epochs: 2}},"
        " protocol: {name: finetune, recipe: short, overrides: {epochs: 1}}}\n"
        "  - {datasets: tiny-restore, methods: {name: tv, budget: {iterations: 20}},"
        " protocol: {name: restore, task: denoise, sigma: 25.0}}\n"
    )
    results = tmp_path / "results"
    assert cli.main(["run", str(suite), "--results-dir", str(results), "--quiet"]) == 0
    capsys.readouterr()
    assert cli.main(["table", str(results)]) == 0
    table = capsys.readouterr().out
    assert all(name in table for name in kinds), table
    (tuned,) = [r for r in records(results, "outsider") if r["spec"]["protocol"] == "finetune"]
    assert tuned["status"] == "ok" and tuned["details"]["finetune"]["recipe"] == "short"  # the plugin's recipe
    assert tuned["details"]["finetune"]["lr"] == 3e-3 and tuned["details"]["finetune"]["epochs"] == 1
    assert cli.main(["report", str(results), "-o", str(tmp_path / "report")]) == 0
    site = "".join(p.read_text() for p in (tmp_path / "report").rglob("*.html"))
    assert all(name in site for name in kinds)
