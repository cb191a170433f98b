"""What code made a run, and whether a record was made by the code installed now.

A run's record carries ``code_identity``, one entry per part (:data:`PARTS`): for its method's and
its dataset's plugin the plugin name, distribution, version and the hashes of the plugin's own
modules; for the host its version, the run's protocol and the hashes of the host modules that
protocol's code runs (:func:`host`). Each part also has ``source``, one hash over its modules. The
record's key stays the hash of the spec, so a finished record made by other code is found in place
and recognised as **stale**: ``bench run`` runs it again (``--keep-stale`` keeps it), tables,
reports and comparisons say so and name the part and the modules that changed. A record without
``code_identity`` was made before it was recorded: stale.

**Which modules.** A part's modules are followed through their imports (read from the files,
nothing is imported), within one top-level package: a plugin's entry-point module and every module
of its package it imports (a built-in's helpers count, MAE's ``vit``; another built-in does not, so
fixing DIP leaves MAE's records current); the host's are the run's protocol module and the modules
the runner calls around it (:data:`RUN_MODULES`), and what they import of ``bench``, less
:data:`HOST_EXCLUDED`. So a change in ``protocols/finetune.py`` makes fine-tune and linear-probe
records stale (the probe imports it) and leaves classification and restoration records current.

**What of a module.** Its syntax tree, without docstrings (:func:`normalized`): comments,
docstrings and formatting never make a record stale; a changed string or number in code does.
Hashes are computed once per process (the code a process runs is the code it imported) from module
names and trees, so the same code hashes the same wherever it is installed.

**Older records.** Records of schema 1 carry one hash per part over the raw bytes of its files
(:func:`bench.records.upgrade` keeps it as ``source_v1``): such a part is current while the
installed files hash the same way to the same value (:func:`legacy_source`), stale otherwise.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import types
from functools import cache, lru_cache
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench.records import Record

#: The parts of a run's code, in the order reasons name them.
PARTS = ("method", "dataset", "host")

#: What the runner runs around any protocol: device choice and seeding (``context``) and the
#: device switches (``accel``). The protocol's own module is the other root of the host's modules.
RUN_MODULES = ("bench.accel", "bench.context")
#: Host modules a protocol imports that never decide a number: the public facade (``bench``), the
#: protocols' declarations (``bench.protocols``: a run's options are in its spec, hence its key),
#: progress lines, drawing, downloading (files are checksummed and their checksums recorded in the
#: record's ``data_files``), saving pictures, and this module.
HOST_EXCLUDED = frozenset(
    {
        "bench",
        "bench.protocols",
        "bench.progress",
        "bench.restoration.figures",
        "bench.data.store",
        "bench.artifacts",
        "bench.identity",
    }
)

#: Why a record without ``code_identity`` is stale.
NOT_RECORDED = "made before code identity was recorded"

_GROUP = "bench"


def of_run(registry, spec) -> dict:
    """The identity of the code that runs ``spec`` in this process (the plugins the registry loaded)."""
    current = {}
    for part, name in (("method", spec.method), ("dataset", spec.dataset)):
        info = registry.plugin_of(part, name)
        ep = _entry_points().get(info.name)
        if (
            ep is not None
            and ep.dist is not None
            and (ep.dist.name, ep.dist.version) == (info.distribution, info.version)
        ):
            current[part] = plugin(info.name)
        else:  # registered in this process: its object's module is its source
            obj = registry.pm.get_plugin(info.name)
            module = obj.__name__ if isinstance(obj, types.ModuleType) else type(obj).__module__
            current[part] = _plugin(info.name, info.distribution, info.version, module)
    return current | {"host": host(spec.protocol)}


def of_record(record: Record) -> dict:
    """The identity the installed code would give ``record``'s run, read without importing any
    plugin; a part is None when its plugin (or its protocol) is not installed here."""
    protocol = record.spec["protocol"]
    current: dict = {"host": host(protocol) if _protocol_module(protocol) else None}
    for part in ("method", "dataset"):
        entry = record.plugins.get(part)  # free-form in the schema: read defensively
        name = entry.get("plugin") if isinstance(entry, dict) else None
        current[part] = plugin(name) if isinstance(name, str) else None
    return current


def changes(recorded: dict, current: dict) -> dict[str, list[str]]:
    """Part -> what differs in it (modules changed, added or removed, a version; [] when not
    known, e.g. a schema-1 part), for the parts whose code differs. A part missing on the
    ``current`` side is not compared."""
    out = {}
    for part in PARTS:
        now, then = current.get(part), recorded.get(part)
        if now is None:
            continue
        what = _part_changes(then if isinstance(then, dict) else {}, now)
        if what is not None:
            out[part] = what
    return out


def changed(recorded: dict, current: dict) -> list[str]:
    """The parts whose code differs (a part missing on the ``current`` side is not compared)."""
    return list(changes(recorded, current))


def stale_reason(record: Record, current: dict | None = None) -> str | None:
    """Why a record is stale against ``current`` (default: the installed code), or None if it is
    not: ``host code changed (bench.protocols.finetune)``."""
    recorded = record.code_identity
    if recorded is None:
        return NOT_RECORDED
    found = changes(recorded, current if current is not None else of_record(record))
    if not found:
        return None
    named = sorted({item for items in found.values() for item in items})
    return f"{describe(list(found))} code changed" + (f" ({', '.join(named)})" if named else "")


def against(registry):
    """``stale(spec, record)`` for a :class:`bench.records.ResultStore`: why a record is stale
    against the code ``registry`` runs, or None."""
    return lambda spec, record: stale_reason(record, of_run(registry, spec))


def describe(parts: list[str]) -> str:
    """``["method", "host"]`` -> ``"method and host"``."""
    return ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else "".join(parts)


def forget() -> None:
    """Drop the cached identities (for tests that install or edit plugins within one process)."""
    _host.cache_clear()
    _plugin.cache_clear()
    _entry_points.cache_clear()
    _legacy_host.cache_clear()


def _part_changes(then: dict, now: dict) -> list[str] | None:
    """What differs between a part as recorded and as installed, or None when nothing does."""
    if "modules" not in then:  # a schema-1 part, upgraded or as written: no modules to name
        legacy = then.get("source_v1", then.get("source"))
        same = legacy is not None and legacy == legacy_source(now) and then.get("version") == now.get("version")
        return None if same else []
    what = module_changes(then.get("modules") or {}, now.get("modules") or {})
    if then.get("version") != now.get("version"):
        what.append(f"version {then.get('version')} -> {now.get('version')}")
    return what or None


def module_changes(then: dict[str, str], now: dict[str, str]) -> list[str]:
    """The modules whose hash differs, each named once: ``m`` (changed), ``+m`` (new), ``-m`` (gone)."""
    out = [m for m in sorted(set(then) & set(now)) if then[m] != now[m]]
    return out + [f"+{m}" for m in sorted(set(now) - set(then))] + [f"-{m}" for m in sorted(set(then) - set(now))]


# -- hashing ------------------------------------------------------------------------------------


def normalized(source: bytes) -> bytes:
    """What of a module's source decides what it does: its syntax tree without docstrings, written
    out field by field (absent and empty fields left out, so Python versions that add an empty
    field to a node write the same text). Source that does not parse is taken as it is."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return source
    return _dump(_without_docstrings(tree)).encode()


def _without_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
    return tree


def _dump(node) -> str:
    if isinstance(node, ast.AST):
        fields = [
            f"{name}={_dump(value)}"
            for name, value in ast.iter_fields(node)
            if value is not None and value != [] and not (name == "kind" and isinstance(node, ast.Constant))
        ]
        return f"{type(node).__name__}({','.join(fields)})"
    if isinstance(node, list):
        return "[" + ",".join(_dump(item) for item in node) + "]"
    return repr(node)


def module_hash(source: bytes) -> str:
    return hashlib.sha256(normalized(source)).hexdigest()[:12]


def _digest(hashes: dict[str, str]) -> str:
    """One hash over module name -> module hash."""
    h = hashlib.sha256()
    for name in sorted(hashes):
        h.update(name.encode() + b"\0" + hashes[name].encode() + b"\0")
    return h.hexdigest()[:16]


def _identity(sources: dict[str, bytes]) -> dict:
    modules = {name: module_hash(text) for name, text in sources.items()}
    return {"source": _digest(modules), "modules": dict(sorted(modules.items()))}


# -- plugins ------------------------------------------------------------------------------------


def plugin(name: str) -> dict | None:
    """The identity of the installed plugin ``name`` (an entry point of the ``bench`` group), or None."""
    ep = _entry_points().get(name)
    if ep is None:
        return None
    return _plugin(name, ep.dist.name if ep.dist else "?", ep.dist.version if ep.dist else "?", ep.module)


@cache
def _plugin(name: str, distribution: str, version: str, module: str) -> dict:
    return {"plugin": name, "distribution": distribution, "version": version, **_identity(_package_sources(module))}


@lru_cache(maxsize=1)
def _entry_points() -> dict[str, metadata.EntryPoint]:
    found: dict[str, metadata.EntryPoint] = {}
    for ep in metadata.entry_points(group=_GROUP):
        found.setdefault(ep.name, ep)  # the first on sys.path is the one Python imports
    return found


def _package_roots(top: str) -> list[Path] | None:
    """The folders of the top-level package ``top``; [] for a single module; None when absent."""
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    return [Path(p) for p in spec.submodule_search_locations or ()]


def _package_sources(module: str) -> dict[str, bytes]:
    """Module name -> source of ``module`` and the modules of its top-level package it imports."""
    top = module.partition(".")[0]
    roots = _package_roots(top)
    if roots is None:
        return {}
    if not roots:  # a single-module distribution
        spec = importlib.util.find_spec(top)
        return {top: Path(spec.origin).read_bytes()} if spec and spec.origin and spec.origin.endswith(".py") else {}
    return follow(roots, [module], excluded=frozenset())


def follow(
    roots: list[Path], start: list[str], excluded: frozenset[str], typing_imports: bool = False
) -> dict[str, bytes]:
    """Module name -> source of the modules ``start`` names and, transitively, those of the same
    top-level package (found under ``roots``) they import, their parent packages included (importing
    ``a.b.c`` runs ``a/__init__`` and ``a/b/__init__``); ``excluded`` modules are neither read nor
    followed. Imports under ``if TYPE_CHECKING:`` are not followed (they never run), unless
    ``typing_imports`` (how schema-1 identities were computed)."""
    top = start[0].partition(".")[0]
    sources: dict[str, bytes] = {}
    todo = list(start)
    while todo:
        name = todo.pop()
        if name in sources or name in excluded:
            continue
        path = _find(roots, name)
        if path is None:
            continue
        sources[name] = path.read_bytes()
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        parents = [".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)]
        found = _imports(sources[name], package, typing_imports)
        todo += parents + [m for m in found if m == top or m.startswith(top + ".")]
    return sources


def _find(roots: list[Path], module: str) -> Path | None:
    rel = module.split(".")[1:]
    for root in roots:
        for path in (root.joinpath(*rel, "__init__.py"), root.joinpath(*rel).with_suffix(".py") if rel else None):
            if path is not None and path.is_file():
                return path
    return None


def _imports(source: bytes, package: str, typing_imports: bool = False) -> list[str]:
    """The modules a source imports: ``import a.b``, ``from a import b`` (a, and a.b in case b is
    a module), relative imports resolved against ``package``."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    if not typing_imports:
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and _is_type_checking(node.test):
                node.body = []
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


def _is_type_checking(test: ast.AST) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


# -- host ---------------------------------------------------------------------------------------


def host(protocol: str) -> dict:
    """The host's identity for a run of ``protocol``: bench's version and the hashes of the host
    modules such a run executes (see the module's docstring)."""
    return _host(protocol, _protocol_module(protocol) or "")


@cache
def _host(label: str, module: str) -> dict:
    import bench

    sources = host_sources(Path(bench.__file__).resolve().parent, module)
    return {"version": bench.__version__, "protocol": label, **_identity(sources)}


def host_sources(root: Path, module: str) -> dict[str, bytes]:
    """Module name -> source of each host module a run of the protocol module ``module`` (e.g.
    ``bench.protocols.classify``) executes, read from the ``bench`` package folder ``root``."""
    return follow([root], [module, *RUN_MODULES], excluded=HOST_EXCLUDED)


def _protocol_module(protocol: str) -> str | None:
    from bench.protocols import PROTOCOLS

    found = PROTOCOLS.get(protocol)
    return found.implementation.partition(":")[0] if found else None


def pretraining(code: dict) -> dict:
    """``code`` (a run's identity) with the host part of pre-training (``bench.protocols.representation``)
    in place of the protocol's: the key of a cached encoder, shared by the protocols that probe or
    fine-tune the same pre-trained encoder."""
    return {**code, "host": _host("pretraining", "bench.protocols.representation")} if "host" in code else code


# -- schema 1 -----------------------------------------------------------------------------------

#: Schema 1 hashed these host files (relative to the ``bench`` folder), whatever the protocol.
_V1_HOST = ("protocols", "restoration", "data", "context.py", "timing.py", "accel.py")
_V1_EXCLUDED = ("restoration/figures.py", "data/store.py")


def legacy_source(part: dict) -> str | None:
    """The schema-1 hash (raw bytes of the files) of the installed code of a part as
    :func:`plugin`, :func:`_plugin` or :func:`host` give it, or None when it cannot be found."""
    if "protocol" in part:
        return _legacy_host()
    name = part.get("plugin")
    ep = _entry_points().get(name) if isinstance(name, str) else None
    if ep is None:
        return None
    top = ep.module.partition(".")[0]
    roots = _package_roots(top)
    if not roots:  # absent, or a single module: schema 1 hashed it as it does today
        return _raw_digest(_package_sources(ep.module)) if roots == [] else None
    return _raw_digest(follow(roots, [ep.module], frozenset(), typing_imports=True))


@lru_cache(maxsize=1)
def _legacy_host() -> str:
    import bench

    root = Path(bench.__file__).resolve().parent
    sources = {}
    for entry in _V1_HOST:
        paths = sorted((root / entry).rglob("*.py")) if (root / entry).is_dir() else [root / entry]
        for path in paths:
            rel = path.relative_to(root).as_posix()
            if rel not in _V1_EXCLUDED and "__pycache__" not in rel:
                sources[rel] = path.read_bytes()
    return _raw_digest(sources)


def _raw_digest(sources: dict[str, bytes]) -> str:
    h = hashlib.sha256()
    for name in sorted(sources):
        h.update(name.encode() + b"\0" + hashlib.sha256(sources[name]).digest())
    return h.hexdigest()[:16]


__all__ = [
    "HOST_EXCLUDED",
    "NOT_RECORDED",
    "PARTS",
    "RUN_MODULES",
    "against",
    "changed",
    "changes",
    "describe",
    "follow",
    "forget",
    "host",
    "host_sources",
    "legacy_source",
    "module_changes",
    "normalized",
    "of_record",
    "of_run",
    "plugin",
    "pretraining",
    "stale_reason",
]
