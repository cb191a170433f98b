"""The host's shape: no host module imports a plugin, the contract modules are leaves, and the
host's imports form no cycle, counting imports inside functions (deferring an import does not
dodge a cycle, it hides one)."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import bench

HOST = Path(bench.__file__).resolve().parent
#: What a plugin registers, is declared with or raises, and the executor contract: each imports
#: nothing from the host but other leaves.
LEAVES = ("bench.specs", "bench.params", "bench.metric_table", "bench.errors", "bench.interrupt", "bench.executors")


def module_name(path: Path) -> str:
    rel = path.relative_to(HOST.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def _is_module(name: str) -> bool:
    path = HOST.parent / name.replace(".", "/")
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _statements(nodes, module_level_only: bool):
    """Import statements, not descending into ``if TYPE_CHECKING:`` (annotations, not imports) and,
    when ``module_level_only``, not into functions or classes."""
    for node in nodes:
        if isinstance(node, ast.If) and getattr(node.test, "id", getattr(node.test, "attr", "")) == "TYPE_CHECKING":
            yield from _statements(node.orelse, module_level_only)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif not module_level_only or isinstance(node, (ast.If, ast.Try, ast.With)):
            yield from _statements(ast.iter_child_nodes(node), module_level_only)


def imports(path: Path, module_level_only: bool) -> set[str]:
    """The modules ``path`` imports: ``from bench.html import page`` names ``bench.html.page``
    only (importing a submodule needs no more of its package than Python provides)."""
    found = set()
    for node in _statements(ast.parse(path.read_text()).body, module_level_only):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif node.module and not node.level:
            submodules = {f"{node.module}.{a.name}" for a in node.names if _is_module(f"{node.module}.{a.name}")}
            found |= submodules
            if len(submodules) < len(node.names):
                found.add(node.module)
    return found


def host_modules() -> dict[str, Path]:
    return {module_name(p): p for p in HOST.rglob("*.py") if "__pycache__" not in p.parts}


def test_no_host_module_imports_a_plugin():
    for name, path in host_modules().items():
        plugins = {m for m in imports(path, module_level_only=False) if m.split(".")[0] == "bench_plugins"}
        assert not plugins, f"{name} imports {plugins}: the host knows no plugin"


def test_the_contract_modules_import_nothing_from_the_host_but_other_leaves():
    modules = host_modules()
    for leaf in LEAVES:
        host = {m for m in imports(modules[leaf], module_level_only=False) if m.split(".")[0] == "bench"}
        assert host <= set(LEAVES), f"{leaf} imports {host - set(LEAVES)}"


def test_the_executor_contract_loads_no_registry_runner_or_suite():
    """What the AST says, at run time: importing the contract (as an executor module and
    ``bench.Executor`` do) runs no host module but the leaves."""
    code = (
        "import sys, bench.executors, bench; bench.Executor; "
        "print(sorted(m for m in sys.modules if m.startswith('bench.')))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert set(eval(loaded)) <= set(LEAVES), loaded


def _packages(name: str) -> set[str]:
    parts = name.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts))}


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Each host module -> the host modules it imports anywhere in its body, and the packages
    around them (importing ``bench.executors.local`` runs ``bench/executors/__init__.py`` first),
    but not its own packages (Python has started those before the module runs)."""
    graph = {}
    for name, path in modules.items():
        named = imports(path, module_level_only=False)
        around = {p for m in named for p in _packages(m)} - _packages(name)
        graph[name] = {m for m in named | around if m in modules and m != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    done: set[str] = set()

    def visit(node: str, trail: list[str]) -> list[str] | None:
        if node in trail:
            return trail[trail.index(node) :] + [node]
        if node in done:
            return None
        for nxt in sorted(graph[node]):
            if cycle := visit(nxt, trail + [node]):
                return cycle
        done.add(node)
        return None

    for name in sorted(graph):
        if cycle := visit(name, []):
            return cycle
    return None


def test_the_host_import_graph_has_no_cycle_counting_imports_inside_functions():
    cycle = find_cycle(import_graph(host_modules()))
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_cycle_check_sees_an_import_inside_a_function(tmp_path):
    (tmp_path / "a.py").write_text("import b\n")
    (tmp_path / "b.py").write_text("def later():\n    import a\n")
    modules = {"a": tmp_path / "a.py", "b": tmp_path / "b.py"}
    assert find_cycle(import_graph(modules)) == ["a", "b", "a"]


def test_the_cycle_check_sees_the_package_around_an_imported_module(tmp_path):
    (tmp_path / "a.py").write_text("import p.b\n")
    (tmp_path / "p.py").write_text("def later():\n    import a\n")
    (tmp_path / "b.py").write_text("")
    modules = {"a": tmp_path / "a.py", "p": tmp_path / "p.py", "p.b": tmp_path / "b.py"}
    assert find_cycle(import_graph(modules)) == ["a", "p", "a"]


def test_the_registry_imports_no_executor():
    """The host's executors come through the entry-point group: the registry imports none of them
    (they import the runner, which imports the registry), and ExecutorSpec lives in bench.specs."""
    modules = host_modules()
    assert not {
        m for m in imports(modules["bench.registry"], module_level_only=False) if m.startswith("bench.executors")
    }
    assert {"bench.registry", "bench.runner", "bench.suite"}.isdisjoint(
        imports(modules["bench.specs"], module_level_only=False)
    )


def test_make_lint_type_checks_the_host_package():
    """The TYPE_CHECKING imports and annotations are verified: `make lint` (run by CI) runs mypy
    on bench/, and the test extra that `make install` installs provides it."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    root = HOST.parent
    makefile = (root / "Makefile").read_text()
    recipe = makefile.split("\nlint:", 1)[1].split("\n\n", 1)[0]
    assert "-m mypy bench" in recipe, recipe
    project = tomllib.loads((root / "pyproject.toml").read_text())
    assert any(r.startswith("mypy") for r in project["project"]["optional-dependencies"]["test"])


# -- the test tree mirrors the package (docs/architecture.md, Tests) ------------------------------

TESTS = Path(__file__).resolve().parent
PLUGINS = HOST.parent / "plugins"
SUBPACKAGES = ("data", "executors", "protocols", "restoration", "html")
#: Modules without a test module of their own, each with why.
NO_MIRROR = {
    "bench/__init__.py": "the public API re-exported: used by every test, checked by test_plugin_author and test_docs",
    "bench/__main__.py": "`python -m bench` calls cli.main: test_cli and test_offline_setup run it",
    "bench/hookspecs.py": "the plugin contract, declarations only: test_registry calls every hook",
    "bench/errors.py": "one exception class (PluginError): raised and checked in test_registry",
    "bench/interrupt.py": "one exception class (Interrupted): a stopped suite is test_runner's",
    "bench/specs.py": "what plugins register: checked through test_registry, test_plugin_author and test_check",
    "bench/data/__init__.py": "an empty package",
    "bench/restoration/__init__.py": "re-exports only",
    "bench/executors/board.py": "tests in tests/executors/test_executors.py (one toy site and Ray cluster for all)",
    "bench/executors/builtin.py": "tests in tests/executors/test_executors.py (one toy site and Ray cluster for all)",
    "bench/executors/local.py": "tests in tests/executors/test_executors.py (one toy site and Ray cluster for all)",
    "bench/executors/ray.py": "tests in tests/executors/test_executors.py (one toy site and Ray cluster for all)",
    "bench/executors/remote.py": "tests in tests/executors/test_executors.py (one toy site and Ray cluster for all)",
    "bench/executors/slurm.py": "tests in tests/executors/test_executors.py (one toy site and Ray cluster for all)",
    "bench/executors/worker.py": "tests in tests/executors/test_executors.py (one toy site and Ray cluster for all)",
    "bench/html/__init__.py": "re-exports only (site.build, Site, SiteError, MARKER): tested in tests/html/test_site.py",
    "plugins/__init__.py": "an empty package",
    "plugins/datasets/__init__.py": "an empty package",
    "plugins/methods/__init__.py": "an empty package",
    "plugins/datasets/_restoration_manifest.py": "the restoration sets' checksums, read by tests/plugins/test_restoration.py",
}
#: Test modules of the whole path, or of several modules at once, rather than of one module.
NOT_A_MIRROR = {
    "test_architecture.py": "the host's shape and this layout",
    "test_docs.py": "the README's and docs/' commands and examples, run",
    "test_readme.py": "the README's claims against the reference records",
    "test_e2e.py": "a researcher's whole path: suite, run, table, compare",
    "test_faults.py": "faults and hostile input across commands",
    "test_plugin_author.py": "what a plugin author meets, as an installed distribution",
    "test_offline_setup.py": "`make gpu-check` without network (Makefile, tools/)",
    "test_gpu_first_run.py": "tools/gpu_first_run.py",
    "test_suite_fuzz.py": "bench.suite's fuzzer over the shipped suites (slow: kept apart from test_suite)",
    "test_cuda_mocked.py": "the CUDA branches of several modules, on the CPU",
}


def mirror(path: Path) -> Path:
    """The test module that ``path`` (a module of bench/ or plugins/) is tested in."""
    if path.is_relative_to(PLUGINS):
        return TESTS / "plugins" / f"test_{path.stem}.py"
    parts = path.relative_to(HOST).parts
    if len(parts) == 1:
        return TESTS / f"test_{path.stem}.py"
    assert parts[0] in SUBPACKAGES and len(parts) == 2, f"{path}: a subpackage the layout does not name"
    stem = parts[0] if path.stem == "__init__" else path.stem
    return TESTS / parts[0] / f"test_{stem}.py"


def code_modules() -> dict[str, Path]:
    paths = [*HOST.rglob("*.py"), *PLUGINS.rglob("*.py")]
    return {p.relative_to(HOST.parent).as_posix(): p for p in paths if "__pycache__" not in p.parts}


def test_every_module_has_its_test_module_or_a_reason():
    modules = code_modules()
    missing = [f"{n} -> {mirror(p).relative_to(TESTS.parent)}" for n, p in modules.items() if not mirror(p).exists()]
    unexplained = [m for m in missing if m.split(" ")[0] not in NO_MIRROR]
    assert not unexplained, f"modules without their test module (write it, or list it in NO_MIRROR): {unexplained}"
    # An exception that no longer applies is dropped: the module is gone or now has its file.
    stale = [n for n in NO_MIRROR if n not in modules or mirror(modules[n]).exists()]
    assert not stale, f"NO_MIRROR lists modules that have their test module (or are gone): {stale}"


def test_every_test_module_mirrors_a_module_or_is_a_whole_path_test():
    mirrors = {mirror(p) for p in code_modules().values()}
    tests = [p for p in TESTS.rglob("test_*.py") if "benchmarks" not in p.relative_to(TESTS).parts]
    strays = [p.relative_to(TESTS).as_posix() for p in tests if p not in mirrors]
    assert not set(strays) - set(NOT_A_MIRROR), f"test modules that mirror no module: {set(strays) - set(NOT_A_MIRROR)}"
    assert not set(NOT_A_MIRROR) - set(strays), (
        f"NOT_A_MIRROR lists gone or mirroring files: {set(NOT_A_MIRROR) - set(strays)}"
    )


def test_each_test_folder_is_a_package_so_two_folders_may_hold_one_file_name():
    for folder in {*SUBPACKAGES, "plugins"}:
        if (TESTS / folder).is_dir():
            assert (TESTS / folder / "__init__.py").exists(), folder


def test_the_mirror_maps_modules_as_the_docs_say():
    assert mirror(HOST / "suite.py") == TESTS / "test_suite.py"
    assert mirror(HOST / "data" / "loader.py") == TESTS / "data" / "test_loader.py"
    assert mirror(HOST / "protocols" / "__init__.py") == TESTS / "protocols" / "test_protocols.py"
    assert mirror(PLUGINS / "methods" / "dip.py") == TESTS / "plugins" / "test_dip.py"
    assert mirror(PLUGINS / "datasets" / "cifar.py") == TESTS / "plugins" / "test_cifar.py"
