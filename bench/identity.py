"""What code made a run, and whether a record was made by the code installed now.

A run's record carries ``code_identity``: for its method's and its dataset's plugin the plugin
name, distribution, version and a hash of the plugin's own source; for the host its version and a
hash of the host modules that determine numbers (:data:`HOST_SOURCES`). The record's key stays the
hash of the spec, so a finished record made by other code is found in place and recognised as
**stale**: ``bench run`` runs it again (``--keep-stale`` keeps it), tables, reports and
comparisons say so. A record without ``code_identity`` was made before it was recorded: stale.

A plugin's own source is the module its entry point names plus, transitively, every module of
the same top-level package that it imports (read from the files, nothing is imported): a
built-in's helpers count (MAE's ``vit``), another built-in does not, so fixing DIP leaves MAE's
records current. Hashes are computed once per process (the code a process runs is the code it
imported) from module names and file contents, so the same code hashes the same wherever it is
installed.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import types
from functools import cache, lru_cache
from importlib import metadata
from pathlib import Path

#: The parts of a run's code, in the order reasons name them.
PARTS = ("method", "dataset", "host")

#: The host modules (relative to the ``bench`` package) whose code decides a run's numbers: the
#: protocols (training, evaluation, metrics), restoration's degradations, metrics and contexts,
#: the contexts and timing methods run inside, device switches, and data decoding and batching.
#: Not the command line, records, reports, progress or executors (they move numbers, never make
#: them), nor ``specs``/``suite`` (what they decide is the spec, already in the record's key).
HOST_SOURCES = ("protocols", "restoration", "data", "context.py", "timing.py", "accel.py")
#: Inside those: drawing pictures for ``bench figures``, and downloading (files are checksummed
#: and their checksums recorded in the record's ``data_files``).
HOST_EXCLUDED = ("restoration/figures.py", "data/store.py")

#: Why a record without ``code_identity`` is stale.
NOT_RECORDED = "made before code identity was recorded"

_GROUP = "bench"


def of_run(registry, spec) -> dict:
    """The identity of the code that runs ``spec`` in this process (the plugins the registry loaded)."""
    current = {}
    for kind, name in (("method", spec.method), ("dataset", spec.dataset)):
        info = registry.plugin_of(kind, name)
        ep = _entry_points().get(info.name)
        if (
            ep is not None
            and ep.dist is not None
            and (ep.dist.name, ep.dist.version) == (info.distribution, info.version)
        ):
            current[kind] = plugin(info.name)
        else:  # registered in this process: its object's module is its source
            obj = registry.pm.get_plugin(info.name)
            module = obj.__name__ if isinstance(obj, types.ModuleType) else type(obj).__module__
            current[kind] = _plugin(info.name, info.distribution, info.version, module)
    return current | {"host": host()}


def of_record(record: dict) -> dict:
    """The identity the installed code would give ``record``'s run, read without importing any
    plugin; a part is None when its plugin is not installed here (it cannot be compared)."""
    plugins = record.get("plugins") if isinstance(record.get("plugins"), dict) else {}
    current: dict = {"host": host()}
    for kind in ("method", "dataset"):
        entry = plugins.get(kind)
        name = entry.get("plugin") if isinstance(entry, dict) else None
        current[kind] = plugin(name) if isinstance(name, str) else None
    return current


def changed(recorded: dict, current: dict) -> list[str]:
    """The parts whose code differs (a part missing on the ``current`` side is not compared)."""
    return [part for part in PARTS if current.get(part) is not None and recorded.get(part) != current[part]]


def stale_reason(record: dict, current: dict | None = None) -> str | None:
    """Why a record is stale against ``current`` (default: the installed code), or None if it is not."""
    recorded = record.get("code_identity")
    if not isinstance(recorded, dict):
        return NOT_RECORDED
    parts = changed(recorded, current if current is not None else of_record(record))
    return f"{describe(parts)} code changed" if parts else None


def against(registry):
    """``stale(spec, record)`` for a :class:`bench.records.ResultStore`: why a record is stale
    against the code ``registry`` runs, or None."""
    return lambda spec, record: stale_reason(record, of_run(registry, spec))


def describe(parts: list[str]) -> str:
    """``["method", "host"]`` -> ``"method and host"``."""
    return ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else "".join(parts)


def forget() -> None:
    """Drop the cached identities (for tests that install or edit plugins within one process)."""
    host.cache_clear()
    _plugin.cache_clear()
    _entry_points.cache_clear()


# -- plugins ------------------------------------------------------------------------------------


def plugin(name: str) -> dict | None:
    """The identity of the installed plugin ``name`` (an entry point of the ``bench`` group), or None."""
    ep = _entry_points().get(name)
    if ep is None:
        return None
    return _plugin(name, ep.dist.name if ep.dist else "?", ep.dist.version if ep.dist else "?", ep.module)


@cache
def _plugin(name: str, distribution: str, version: str, module: str) -> dict:
    return {
        "plugin": name,
        "distribution": distribution,
        "version": version,
        "source": _digest(_package_sources(module)),
    }


@lru_cache(maxsize=1)
def _entry_points() -> dict[str, metadata.EntryPoint]:
    found: dict[str, metadata.EntryPoint] = {}
    for ep in metadata.entry_points(group=_GROUP):
        found.setdefault(ep.name, ep)  # the first on sys.path is the one Python imports
    return found


def _package_sources(module: str) -> dict[str, bytes]:
    """Module name -> source of ``module`` and the modules of its top-level package it imports."""
    top = module.partition(".")[0]
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return {}
    if spec is None:
        return {}
    if not spec.submodule_search_locations:  # a single-module distribution
        return {top: Path(spec.origin).read_bytes()} if spec.origin and spec.origin.endswith(".py") else {}
    roots = [Path(p) for p in spec.submodule_search_locations]
    sources: dict[str, bytes] = {}
    todo = [module]
    while todo:
        name = todo.pop()
        if name in sources:
            continue
        path = _find(roots, name)
        if path is None:
            continue
        sources[name] = path.read_bytes()
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        parents = [".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)]
        todo += parents + [m for m in _imports(sources[name], package) if m == top or m.startswith(top + ".")]
    return sources


def _find(roots: list[Path], module: str) -> Path | None:
    rel = module.split(".")[1:]
    for root in roots:
        for path in (root.joinpath(*rel, "__init__.py"), root.joinpath(*rel).with_suffix(".py") if rel else None):
            if path is not None and path.is_file():
                return path
    return None


def _imports(source: bytes, package: str) -> list[str]:
    """The modules a source imports: ``import a.b``, ``from a import b`` (a, and a.b in case b is
    a module), relative imports resolved against ``package``."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    out: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = ".".join(p for p in (base, node.module) if p)
            else:
                base = node.module or ""
            out += [base] + [f"{base}.{alias.name}" for alias in node.names]
    return out


# -- host ---------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def host() -> dict:
    """The host's identity: its version and a hash of :data:`HOST_SOURCES`."""
    import bench

    return {"version": bench.__version__, "source": _digest(host_sources(Path(bench.__file__).resolve().parent))}


def host_sources(root: Path) -> dict[str, bytes]:
    """Path (relative to the ``bench`` package folder ``root``) -> source of each host module
    that determines numbers."""
    sources: dict[str, bytes] = {}
    for entry in HOST_SOURCES:
        paths = sorted((root / entry).rglob("*.py")) if (root / entry).is_dir() else [root / entry]
        for path in paths:
            rel = path.relative_to(root).as_posix()
            if rel not in HOST_EXCLUDED and "__pycache__" not in rel:
                sources[rel] = path.read_bytes()
    return sources


def _digest(sources: dict[str, bytes]) -> str:
    h = hashlib.sha256()
    for name in sorted(sources):
        h.update(name.encode() + b"\0" + hashlib.sha256(sources[name]).digest())
    return h.hexdigest()[:16]


__all__ = [
    "HOST_SOURCES",
    "NOT_RECORDED",
    "PARTS",
    "against",
    "changed",
    "describe",
    "forget",
    "host",
    "host_sources",
    "of_record",
    "of_run",
    "plugin",
    "stale_reason",
]
