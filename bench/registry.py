"""The plugin manager: loads plugins from the ``bench`` entry-point group (built-ins included) and
from explicit registration, collects their datasets, methods and executors, and answers look-ups
with errors that list what is known. The host's own executors (``bench.executors.builtin``: local,
ray, slurm) come through the same entry-point group (so the registry imports no executor, and no
executor's import of the runner leads back here) and are always loaded, whatever ``BENCH_PLUGINS``
says.

Environment switches:
- ``BENCH_PLUGINS``: comma-separated entry-point names to load (empty: load none); unset: all.
  A name with a leading ``-`` excludes that plugin (``BENCH_PLUGINS=-dup``: all but ``dup``).
- ``BENCH_TRACE_HOOKS=1``: print every hook call and its result (debugging plugins).
"""

from __future__ import annotations

import os
import re
import sys
import traceback
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pluggy

from bench import hookspecs
from bench.errors import PluginError
from bench.params import declared
from bench.specs import CONTRACTS, DatasetSpec, ExecutorSpec, Method, MethodSpec

GROUP = "bench"
#: The host's own distribution: its built-in plugins keep their names against third parties.
HOST_DISTRIBUTION = "bench"
#: The plugin name of the host's own executors (a dotted name no entry point is likely to take).
BUILTIN_EXECUTORS = "bench.executors"


@dataclass(frozen=True)
class PluginInfo:
    name: str
    distribution: str
    version: str


@dataclass(frozen=True)
class BrokenPlugin:
    """A plugin that failed to load (``loaded`` False), or that loaded but had entries refused
    (``loaded`` True: a name another plugin registers too)."""

    name: str
    distribution: str
    error: str
    loaded: bool = False

    @property
    def what(self) -> str:
        """The problem as listings say it."""
        return self.error if self.loaded else f"failed to load: {self.error}"


@dataclass
class Registry:
    datasets: dict[str, DatasetSpec] = field(default_factory=dict)
    methods: dict[str, Method] = field(default_factory=dict)
    executors: dict[str, ExecutorSpec] = field(default_factory=dict)
    #: entry name -> plugin that registered it, for listings and records.
    owner: dict[tuple[str, str], PluginInfo] = field(default_factory=dict)
    broken: list[BrokenPlugin] = field(default_factory=list)
    #: (kind, name) registered by more than one plugin -> what to do; the name is usable by none.
    clashes: dict[tuple[str, str], str] = field(default_factory=dict)
    #: plugin name -> the deprecation warnings its registration gave (old-style specs), so
    #: commands show a plugin's own (``bench check NAME``, the plugins a suite uses).
    deprecations: dict[str, list[str]] = field(default_factory=dict)
    pm: pluggy.PluginManager | None = None

    # -- look-ups -----------------------------------------------------------------------------
    def dataset(self, name: str) -> DatasetSpec:
        return self._lookup("dataset", self.datasets, name)

    def method(self, name: str) -> Method:
        return self._lookup("method", self.methods, name)

    def executor(self, name: str) -> ExecutorSpec:
        return self._lookup("executor", self.executors, name)

    def _lookup(self, kind: str, table: dict, name: str):
        if name in table:
            return table[name]
        if (kind, name) in self.clashes:
            raise PluginError(self.clashes[(kind, name)])
        known = ", ".join(sorted(table)) or "none"
        shown = repr(name) if len(repr(name)) <= 120 else repr(name[:100]) + "..."  # the suite's text, bounded
        raise PluginError(f"unknown {kind} {shown}{self._broken_hint()}; known {kind}s: {known}")

    def _broken_hint(self) -> str:
        names = ", ".join(dict.fromkeys(b.name for b in self.broken if not b.loaded))
        return f" (plugins that failed to load: {names}; see `bench plugins`)" if names else ""

    def plugin_of(self, kind: str, name: str) -> PluginInfo:
        return self.owner[(kind, name)]

    def plugins_named(self, name: str) -> set[str]:
        """The plugins ``name`` designates: a plugin's entry-point name, or a distribution's name
        (``bench-logreg``, spelt with '-', '_' or '.') for every plugin it installs."""
        known = {*self.owner.values(), *(PluginInfo(b.name, b.distribution, "") for b in self.broken)}
        return {i.name for i in known if i.name == name or _normal(i.distribution) == _normal(name)}

    def call_run_finished(self, record: dict) -> list[str]:
        """Tell every plugin a run finished; return warnings for hooks that raised."""
        warnings: list[str] = []
        pm = self.pm
        if pm is None:
            return warnings
        for name in _implementers(pm, "bench_run_finished"):
            try:
                _call_one(pm, "bench_run_finished", name, record=record)
            except Exception as exc:  # an observer must not fail the run
                warnings.append(f"plugin {name!r} bench_run_finished raised: {exc!r}")
        return warnings


def load(extra_plugins: Iterable[tuple[str, Any]] = ()) -> Registry:
    """Build a registry from the entry points (filtered by ``BENCH_PLUGINS``) plus
    ``extra_plugins`` given as (name, module-or-object) pairs."""
    pm = pluggy.PluginManager(GROUP)
    pm.add_hookspecs(hookspecs)
    if os.environ.get("BENCH_TRACE_HOOKS"):
        pm.trace.root.setwriter(lambda text: sys.stderr.write(text))
        pm.enable_tracing()
    registry = Registry(pm=pm)
    infos: dict[str, PluginInfo] = {}

    for ep in _entry_points():
        dist = ep.dist.name if ep.dist else "?"
        version = ep.dist.version if ep.dist else "?"
        try:
            plugin = ep.load()
            pm.register(plugin, name=ep.name)
        except Exception as exc:
            registry.broken.append(BrokenPlugin(ep.name, dist, one_line(exc)))
            continue
        infos[ep.name] = PluginInfo(ep.name, dist, version)

    for name, plugin in extra_plugins:
        pm.register(plugin, name=name)
        infos[name] = PluginInfo(name, "(registered in process)", "")

    _collect(registry, "dataset", "bench_register_datasets", registry.datasets, DatasetSpec, infos)
    _collect(registry, "method", "bench_register_methods", registry.methods, Method, infos, _method_contract)
    _collect(registry, "executor", "bench_register_executors", registry.executors, ExecutorSpec, infos)
    return registry


def _entry_points() -> list[metadata.EntryPoint]:
    eps = list(metadata.entry_points(group=GROUP))
    wanted = os.environ.get("BENCH_PLUGINS")
    if wanted is not None:
        names = [n.strip() for n in wanted.split(",") if n.strip()]
        excluded = {n[1:].strip() for n in names if n.startswith("-")}
        kept = {n for n in names if not n.startswith("-")}
        # Names keep only those; exclusions alone keep all others; an empty value keeps none.
        eps = [
            ep
            for ep in eps
            if _is_host_executors(ep) or ((ep.name in kept or (excluded and not kept)) and ep.name not in excluded)
        ]
    # One entry per name: the same distribution can be visible twice (editable + sys.path).
    unique: dict[tuple[str, str], metadata.EntryPoint] = {}
    for ep in eps:
        unique.setdefault((ep.name, ep.value), ep)
    return sorted(unique.values(), key=lambda ep: ep.name)


def _is_host_executors(ep: metadata.EntryPoint) -> bool:
    """The host's own executors: part of the host, loaded whatever ``BENCH_PLUGINS`` says."""
    return ep.name == BUILTIN_EXECUTORS and ep.dist is not None and ep.dist.name == "bench"


def _implementers(pm: pluggy.PluginManager, hook: str) -> list[str]:
    """The plugins with a plain (non-wrapper) implementation of ``hook``, in pluggy's call order."""
    impls = getattr(pm.hook, hook).get_hookimpls()
    return list(dict.fromkeys(i.plugin_name for i in reversed(impls) if not (i.wrapper or i.hookwrapper)))


def _call_one(pm: pluggy.PluginManager, hook: str, plugin_name: str, **kwargs: Any) -> Any:
    """Call one plugin's implementation of ``hook`` through pluggy, so tracing
    (``BENCH_TRACE_HOOKS``) and every plugin's hook wrappers apply, as in a plain hook call;
    calling plugins one by one is what lets the host attribute entries and isolate failures."""
    wrapped = {i.plugin_name for i in getattr(pm.hook, hook).get_hookimpls() if i.wrapper or i.hookwrapper}
    others = [plugin for name, plugin in pm.list_name_plugin() if name != plugin_name and name not in wrapped]
    return pm.subset_hook_caller(hook, remove_plugins=others)(**kwargs)


def _method_contract(spec: Any) -> Any:
    """A method as its kind's contract: a deprecated ``MethodSpec`` is converted (with its
    DeprecationWarning); anything else is returned as registered, to be type-checked."""
    return spec.contract() if isinstance(spec, MethodSpec) else spec


def _collect(
    registry: Registry, kind: str, hook: str, table: dict, spec_type: type, infos: dict, convert=lambda spec: spec
) -> None:
    """Call one registration hook plugin by plugin, so each entry is attributed to its plugin
    and a plugin that raises is reported without losing the others' entries. A name that two
    plugins register is withdrawn from both (neither is silently preferred) and both are reported
    as conflicting, unless one is a built-in: it keeps the name, the others' entries are refused
    and reported; every other entry stays usable."""
    claims: dict[str, list[tuple[PluginInfo, Any]]] = {}
    pm = registry.pm
    assert pm is not None, "load() gives the registry its plugin manager first"
    for plugin_name in _implementers(pm, hook):
        info = infos.get(plugin_name, PluginInfo(plugin_name, "?", "?"))
        added: list[Any] = []
        try:
            _call_one(pm, hook, plugin_name, register=added.append)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                added = [convert(spec) for spec in added]
            _keep_warnings(registry, info, caught)
            for spec in added:
                if not isinstance(spec, spec_type):
                    expected = (
                        " or ".join(f"bench.{c.__name__}" for c in CONTRACTS.values())
                        if spec_type is Method
                        else spec_type.__name__
                    )
                    raise PluginError(f"registered {type(spec).__name__}, expected {expected}")
                _check_declarations(kind, spec)
        except Exception as exc:
            registry.broken.append(BrokenPlugin(info.name, info.distribution, one_line(exc)))
            continue
        for spec in added:
            claims.setdefault(spec.name, []).append((info, spec))
            table.setdefault(spec.name, spec)
            registry.owner.setdefault((kind, spec.name), info)
    for name, entries in claims.items():
        owners = list(dict.fromkeys(info for info, _ in entries))
        if len({o.name for o in owners}) < 2:
            continue
        builtins = [(info, spec) for info, spec in entries if info.distribution == HOST_DISTRIBUTION]
        if len({info.name for info, _ in builtins}) == 1:
            _keep_builtin(registry, kind, table, name, builtins[0], owners)
            continue
        del table[name]
        del registry.owner[(kind, name)]
        who = " and ".join(f"plugin {o.name!r} ({o.distribution} {o.version})".rstrip() for o in owners)
        message = (
            f"{kind} {name!r} is registered by {who}: uninstall one of "
            f"{', '.join(sorted({o.distribution for o in owners}))}, or exclude one with BENCH_PLUGINS=-NAME"
        )
        registry.clashes[(kind, name)] = message
        for owner in owners:
            registry.broken.append(BrokenPlugin(owner.name, owner.distribution, f"conflict: {message}", loaded=True))


def _keep_warnings(registry: Registry, info: PluginInfo, caught: list) -> None:
    """Remember a plugin's deprecation warnings by plugin, and emit every warning as before."""
    for w in caught:
        if issubclass(w.category, DeprecationWarning):
            registry.deprecations.setdefault(info.name, []).append(str(w.message))
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, module="bench.registry")


def _keep_builtin(registry: Registry, kind: str, table: dict, name: str, builtin: tuple, owners: list) -> None:
    """A third-party entry named as a built-in one: the built-in keeps the name (suites naming it
    mean bench's), and the third party's entry is refused, with what its author can do."""
    info, spec = builtin
    table[name] = spec
    registry.owner[(kind, name)] = info
    for other in owners:
        if other.distribution == HOST_DISTRIBUTION:
            continue
        message = (
            f"conflict: {kind} {name!r} of plugin {other.name!r} ({other.distribution} {other.version}) is not "
            f"used: bench has a built-in {kind} {name!r} (plugin {info.name!r}); rename it in {other.distribution}"
        )
        registry.broken.append(BrokenPlugin(other.name, other.distribution, message, loaded=True))


def _check_declarations(kind: str, spec: Any) -> None:
    """Every param or option read as a :class:`bench.Param` now: a plain default its own type
    refuses (NaN, 2**70) is this plugin's error, not a crash of each suite that names it."""
    for field_name in ("params", "options"):
        try:
            declared(getattr(spec, field_name, {}))
        except ValueError as exc:
            raise PluginError(f"{kind} {spec.name!r}: field {field_name!r}: {exc}") from None


def _normal(name: str) -> str:
    """A distribution name as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def one_line(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"
