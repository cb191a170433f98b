"""The plugin manager: loads plugins from the ``bench`` entry-point group (built-ins included) and
from explicit registration, collects their datasets, methods and executors, and answers look-ups
with errors that list what is known. The host's own executors (``bench.executors.builtin``: local,
ray, slurm) are part of the host and always loaded, whatever ``BENCH_PLUGINS`` says.

Environment switches:
- ``BENCH_PLUGINS``: comma-separated entry-point names to load (empty: load none); unset: all.
- ``BENCH_TRACE_HOOKS=1``: print every hook call and its result (debugging plugins).
"""

from __future__ import annotations

import os
import sys
import traceback
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Iterable

import pluggy

from bench import hookspecs
from bench.executors import ExecutorSpec
from bench.specs import DatasetSpec, MethodSpec

GROUP = "bench"
#: The plugin name of the host's own executors (a dotted name no entry point is likely to take).
BUILTIN_EXECUTORS = "bench.executors"


class PluginError(Exception):
    """A look-up or registration problem, phrased for a person."""


@dataclass(frozen=True)
class PluginInfo:
    name: str
    distribution: str
    version: str


@dataclass(frozen=True)
class BrokenPlugin:
    name: str
    distribution: str
    error: str


@dataclass
class Registry:
    datasets: dict[str, DatasetSpec] = field(default_factory=dict)
    methods: dict[str, MethodSpec] = field(default_factory=dict)
    executors: dict[str, ExecutorSpec] = field(default_factory=dict)
    #: entry name -> plugin that registered it, for listings and records.
    owner: dict[tuple[str, str], PluginInfo] = field(default_factory=dict)
    broken: list[BrokenPlugin] = field(default_factory=list)
    pm: pluggy.PluginManager | None = None

    # -- look-ups -----------------------------------------------------------------------------
    def dataset(self, name: str) -> DatasetSpec:
        return self._lookup("dataset", self.datasets, name)

    def method(self, name: str) -> MethodSpec:
        return self._lookup("method", self.methods, name)

    def executor(self, name: str) -> ExecutorSpec:
        return self._lookup("executor", self.executors, name)

    def _lookup(self, kind: str, table: dict, name: str):
        if name in table:
            return table[name]
        known = ", ".join(sorted(table)) or "none"
        hint = self._broken_hint()
        raise PluginError(f"unknown {kind} {name!r}; known {kind}s: {known}{hint}")

    def _broken_hint(self) -> str:
        if not self.broken:
            return ""
        names = ", ".join(b.name for b in self.broken)
        return f" (plugins that failed to load: {names}; see `bench plugins`)"

    def plugin_of(self, kind: str, name: str) -> PluginInfo:
        return self.owner[(kind, name)]

    def call_run_finished(self, record: dict) -> list[str]:
        """Tell every plugin a run finished; return warnings for hooks that raised."""
        warnings = []
        for impl in self.pm.hook.bench_run_finished.get_hookimpls() if self.pm else []:
            try:
                impl.function(record=record)
            except Exception as exc:  # an observer must not fail the run
                warnings.append(f"plugin {impl.plugin_name!r} bench_run_finished raised: {exc!r}")
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

    from bench import __version__
    from bench.executors import builtin

    pm.register(builtin, name=BUILTIN_EXECUTORS)
    infos[BUILTIN_EXECUTORS] = PluginInfo(BUILTIN_EXECUTORS, "bench", __version__)

    for ep in _entry_points():
        dist = ep.dist.name if ep.dist else "?"
        version = ep.dist.version if ep.dist else "?"
        try:
            plugin = ep.load()
            pm.register(plugin, name=ep.name)
        except Exception as exc:
            registry.broken.append(BrokenPlugin(ep.name, dist, _one_line(exc)))
            continue
        infos[ep.name] = PluginInfo(ep.name, dist, version)

    for name, plugin in extra_plugins:
        pm.register(plugin, name=name)
        infos[name] = PluginInfo(name, "(registered in process)", "")

    _collect(registry, "dataset", "bench_register_datasets", registry.datasets, DatasetSpec, infos)
    _collect(registry, "method", "bench_register_methods", registry.methods, MethodSpec, infos)
    _collect(registry, "executor", "bench_register_executors", registry.executors, ExecutorSpec, infos)
    return registry


def _entry_points() -> list[metadata.EntryPoint]:
    eps = metadata.entry_points(group=GROUP)
    wanted = os.environ.get("BENCH_PLUGINS")
    if wanted is not None:
        names = {n.strip() for n in wanted.split(",") if n.strip()}
        eps = [ep for ep in eps if ep.name in names]
    # One entry per name: the same distribution can be visible twice (editable + sys.path).
    unique = {}
    for ep in eps:
        unique.setdefault((ep.name, ep.value), ep)
    return sorted(unique.values(), key=lambda ep: ep.name)


def _collect(registry: Registry, kind: str, hook: str, table: dict, spec_type: type, infos: dict) -> None:
    """Call one registration hook plugin by plugin, so each entry is attributed to its plugin
    and a plugin that raises is reported without losing the others' entries."""
    for impl in getattr(registry.pm.hook, hook).get_hookimpls():
        info = infos.get(impl.plugin_name, PluginInfo(impl.plugin_name, "?", "?"))
        added: list[Any] = []
        try:
            impl.function(register=added.append)
            for spec in added:
                if not isinstance(spec, spec_type):
                    raise PluginError(f"registered {type(spec).__name__}, expected {spec_type.__name__}")
        except Exception as exc:
            registry.broken.append(BrokenPlugin(info.name, info.distribution, _one_line(exc)))
            continue
        for spec in added:
            if spec.name in table:
                first = registry.owner[(kind, spec.name)]
                raise PluginError(
                    f"{kind} {spec.name!r} is registered twice: by plugin {first.name!r} "
                    f"({first.distribution}) and by plugin {info.name!r} ({info.distribution}); "
                    f"uninstall one, or restrict loading with BENCH_PLUGINS"
                )
            table[spec.name] = spec
            registry.owner[(kind, spec.name)] = info


def _one_line(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"
