"""The host's shape: no host module imports a plugin, the contract modules are leaves, and the
host's module-level imports form no cycle (function-level imports do not dodge one)."""

import ast
from pathlib import Path

import bench

HOST = Path(bench.__file__).resolve().parent
#: What a plugin registers or is declared with: imports nothing else from the host.
LEAVES = ("bench.specs", "bench.params")


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


def test_the_contract_modules_import_nothing_else_from_the_host():
    modules = host_modules()
    for leaf in LEAVES:
        host = {m for m in imports(modules[leaf], module_level_only=False) if m.split(".")[0] == "bench"}
        assert not host, f"{leaf} imports {host}"


def test_the_host_module_level_import_graph_has_no_cycle():
    modules = host_modules()
    graph = {
        name: {m for m in imports(path, module_level_only=True) if m in modules and m != name}
        for name, path in modules.items()
    }
    done: set[str] = set()

    def visit(node: str, trail: list[str]) -> None:
        if node in trail:
            raise AssertionError("import cycle: " + " -> ".join(trail[trail.index(node) :] + [node]))
        if node in done:
            return
        for nxt in sorted(graph[node]):
            visit(nxt, trail + [node])
        done.add(node)

    for name in sorted(graph):
        visit(name, [])


def test_the_registry_does_not_import_the_executors_package_it_registers_from():
    """The cycle registry -> executors -> registry is cut: ExecutorSpec lives in bench.specs."""
    modules = host_modules()
    assert "bench.executors" not in imports(modules["bench.registry"], module_level_only=True)
    assert {"bench.registry", "bench.runner", "bench.suite"}.isdisjoint(
        imports(modules["bench.specs"], module_level_only=False)
    )
