"""Suite files (YAML) -> validated, plain-data run specs.

A suite says which datasets x methods x protocol x seeds to run, with budgets::

    name: quick
    description: The README's main job.
    seeds: [0, 1, 2]
    budget_scale: 1.0            # the smoke switch: scales every budget (also --budget-scale)
    runs:
      - datasets: [mnist]
        methods: [small-cnn, {name: mlp, params: {hidden: 256}}]
        protocol: {name: classify, holdout: 0.1}
        budget: {epochs: 3}      # overrides the methods' full budgets

Everything is checked before anything runs; every problem is reported at once, each with the
file, the key and what was expected.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from bench.protocols import PROTOCOLS, check_feature_sweep
from bench.registry import PluginError, Registry
from bench.specs import Budget

SUITE_KEYS = {
    "name": "a suite name (text)",
    "description": "text",
    "seeds": "a list of integers, or an integer n meaning 0..n-1",
    "budget_scale": "a positive number multiplying every budget (smoke runs: 0.1)",
    "device": "auto, cpu, cuda, cuda:N or mps",
    "precision": "auto (bf16 on CUDA, fp32 elsewhere), fp32 or bf16",
    "channels_last": "auto (on CUDA), true or false: channels-last activations for models methods hand to ctx.prepare",
    "compile": "true or false: torch.compile the models methods hand to ctx.prepare (default false)",
    "executor": "an executor name (local, ray, slurm) or {name, <options>}; --executor wins",
    "runs": "a list of run groups",
}
GROUP_KEYS = {
    "datasets": "a dataset name or a list of them",
    "methods": "a method name, {name, params, budget}, or a list of them",
    "protocol": "a protocol name or {name, <options>}",
    "budget": "a mapping of budget names to positive numbers",
    "seeds": "a list of integers, or an integer n meaning 0..n-1",
    "precision": "as the suite's precision, for this group only",
    "channels_last": "as the suite's channels_last, for this group only",
}
METHOD_KEYS = {
    "name": "a method name", "params": "a mapping of hyper-parameters", "budget": "a mapping",
    "grid": "a mapping of hyper-parameters to lists of values: one run per combination",
}


PRECISIONS = ("auto", "fp32", "bf16")
CHANNELS_LAST = ("auto", True, False)


class SuiteError(Exception):
    """All problems found in a suite file, one per line."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class RunSpec:
    """One run: plain, JSON-serialisable data, so any executor can ship it elsewhere."""

    suite: str
    dataset: str
    method: str
    protocol: str
    protocol_options: dict
    params: dict
    budget: dict
    budget_scale: float
    seed: int
    device: str = "auto"
    precision: str = "auto"
    channels_last: str | bool = "auto"
    compile: bool = False  # how to run, not what is computed: outside the key, like device

    def identity(self) -> dict:
        """What determines the result; its hash names the record (never the order in the suite)."""
        return {
            "suite": self.suite, "dataset": self.dataset, "method": self.method,
            "protocol": self.protocol, "protocol_options": self.protocol_options,
            "params": self.params, "budget": self.budget, "seed": self.seed,
        }

    @property
    def key(self) -> str:
        text = json.dumps(self.identity(), sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def label(self) -> str:
        return f"{self.dataset} / {self.method} / {self.protocol} / seed {self.seed}"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "RunSpec":
        return cls(**data)


@dataclass
class Suite:
    name: str
    description: str
    path: Path
    runs: list[RunSpec] = field(default_factory=list)
    #: The suite's executor choice, ``{"name": ..., "options": {...}}``, or None (the default).
    executor: dict | None = None


def load_suite(
    path: str | Path,
    registry: Registry,
    *,
    budget_scale: float | None = None,
    seeds: list[int] | None = None,
    device: str | None = None,
    compile_models: bool | None = None,
) -> Suite:
    """Read and validate a suite file; command-line overrides win over the file's values."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise SuiteError([f"{path}: no such suite file"]) from None
    except yaml.YAMLError as exc:
        raise SuiteError([f"{path}: not valid YAML: {exc}"]) from None
    v = _Validator(path)
    if not isinstance(data, dict):
        raise SuiteError([f"{path}: expected a mapping with keys {', '.join(SUITE_KEYS)}, got {_kind(data)}"])
    v.unknown_keys(data, SUITE_KEYS, "")
    name = v.typed(data, "name", str, "", default=path.stem)
    description = v.typed(data, "description", str, "", default="")
    suite_seeds = v.seeds(data.get("seeds", [0]), "seeds")
    scale = v.positive(data.get("budget_scale", 1.0), "budget_scale")
    suite_device = v.typed(data, "device", str, "", default="auto")
    precision = v.choice(data.get("precision", "auto"), PRECISIONS, "precision")
    channels_last = v.choice(data.get("channels_last", "auto"), CHANNELS_LAST, "channels_last")
    compile_models = v.typed(data, "compile", bool, "", default=False) if compile_models is None else compile_models
    executor = v.executor(data["executor"], registry) if "executor" in data else None
    if budget_scale is not None:
        scale = budget_scale
    if device is not None:
        suite_device = device

    groups = data.get("runs")
    if not isinstance(groups, list) or not groups:
        v.problem("runs", f"expected {SUITE_KEYS['runs']}, got {_kind(groups)}")
        groups = []
    specs: list[RunSpec] = []
    for i, group in enumerate(groups):
        where = f"runs[{i}]"
        if not isinstance(group, dict):
            v.problem(where, f"expected a mapping with keys {', '.join(GROUP_KEYS)}, got {_kind(group)}")
            continue
        v.unknown_keys(group, GROUP_KEYS, where)
        for key in ("datasets", "methods", "protocol"):
            if key not in group:
                v.problem(f"{where}.{key}", f"missing; expected {GROUP_KEYS[key]}")
        group_seeds = v.seeds(group["seeds"], f"{where}.seeds") if "seeds" in group else suite_seeds
        if seeds is not None:
            group_seeds = seeds
        datasets = v.names(group.get("datasets", []), f"{where}.datasets")
        protocol, options = v.protocol(group.get("protocol"), f"{where}.protocol")
        group_budget = v.mapping(group.get("budget", {}), f"{where}.budget")
        # How to run (not what is computed) may differ per group, e.g. bf16 for one slow method.
        group_precision = v.choice(group.get("precision", precision), PRECISIONS, f"{where}.precision")
        group_layout = v.choice(group.get("channels_last", channels_last), CHANNELS_LAST, f"{where}.channels_last")
        for j, entry in enumerate(_as_list(group.get("methods", []))):
            mwhere = f"{where}.methods[{j}]"
            method = v.method_entry(entry, mwhere, registry)
            if method is None:
                continue
            spec, grid, budget = method
            full = v.budget(spec, {**group_budget, **budget}, mwhere)
            if options.get("feature_sweep"):
                v.feature_sweep(spec, options, f"{where}.protocol.feature_sweep")
            for params in grid:
                for d, dataset_name in enumerate(datasets):
                    dataset = v.dataset(dataset_name, registry, f"{where}.datasets[{d}]")
                    if dataset is None or protocol is None:
                        continue
                    if not v.compatible(protocol, spec, dataset, where, options):
                        continue
                    for seed in group_seeds:
                        specs.append(RunSpec(
                            suite=name, dataset=dataset.name, method=spec.name,
                            protocol=protocol.name, protocol_options=options,
                            params=params, budget=dict(Budget(full).scaled(scale)),
                            budget_scale=scale, seed=seed, device=suite_device, precision=group_precision,
                            channels_last=group_layout, compile=compile_models,
                        ))
    if v.problems:
        raise SuiteError(v.problems)
    unique = {spec.key: spec for spec in specs}  # the same run listed twice runs once
    return Suite(name=name, description=description, path=path, runs=list(unique.values()), executor=executor)


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _kind(value: Any) -> str:
    return "nothing" if value is None else f"{type(value).__name__} {value!r}"


def check_value(default: Any, value: Any) -> bool:
    """Whether ``value`` has the type of ``default`` (ints are accepted for floats)."""
    if default is None:
        return True
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(default, (list, tuple)):
        return isinstance(value, (list, tuple))
    return isinstance(value, type(default))


class _Validator:
    def __init__(self, path: Path):
        self.path = path
        self.problems: list[str] = []

    def problem(self, key: str, text: str) -> None:
        self.problems.append(f"{self.path}: {key or '(top level)'}: {text}")

    def unknown_keys(self, data: dict, known: Mapping[str, str], where: str) -> None:
        for key in data:
            if key not in known:
                self.problem(_join(where, key), f"unknown key; expected one of: {', '.join(known)}")

    def typed(self, data: dict, key: str, kind: type, where: str, default: Any) -> Any:
        value = data.get(key, default)
        if not isinstance(value, kind):
            self.problem(_join(where, key), f"expected {SUITE_KEYS.get(key, kind.__name__)}, got {_kind(value)}")
            return default
        return value

    def positive(self, value: Any, key: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            self.problem(key, f"expected a positive number, got {_kind(value)}")
            return 1.0
        return float(value)

    def choice(self, value: Any, choices: tuple, key: str) -> Any:
        if not any(type(value) is type(c) and value == c for c in choices):  # True is not 1 here
            names = (str(c).lower() if isinstance(c, bool) else str(c) for c in choices)
            self.problem(key, f"expected one of {', '.join(names)}, got {_kind(value)}")
            return choices[0]
        return value

    def seeds(self, value: Any, key: str) -> list[int]:
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return list(range(value))
        if (isinstance(value, list) and value
                and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in value)):
            return list(dict.fromkeys(value))
        self.problem(key, f"expected {SUITE_KEYS['seeds']} (non-negative), got {_kind(value)}")
        return []

    def names(self, value: Any, key: str) -> list[str]:
        items = _as_list(value)
        if not items or not all(isinstance(x, str) for x in items):
            self.problem(key, f"expected a name or a non-empty list of names, got {_kind(value)}")
            return []
        return items

    def mapping(self, value: Any, key: str) -> dict:
        if not isinstance(value, dict):
            self.problem(key, f"expected a mapping, got {_kind(value)}")
            return {}
        return value

    def protocol(self, value: Any, key: str):
        if isinstance(value, str):
            value = {"name": value}
        if not isinstance(value, dict) or not isinstance(value.get("name"), str):
            if value is not None:
                self.problem(key, f"expected {GROUP_KEYS['protocol']}, got {_kind(value)}")
            return None, {}
        name = value["name"]
        if name not in PROTOCOLS:
            self.problem(_join(key, "name"), f"unknown protocol {name!r}; known protocols: {', '.join(sorted(PROTOCOLS))}")
            return None, {}
        protocol = PROTOCOLS[name]
        options = dict(protocol.options)
        for opt, val in value.items():
            if opt == "name":
                continue
            if opt not in protocol.options:
                known = ", ".join(protocol.options) or "none"
                self.problem(_join(key, opt), f"unknown option of protocol {name!r}; expected one of: {known}")
            elif not check_value(protocol.options[opt], val):
                self.problem(_join(key, opt), f"expected {type(protocol.options[opt]).__name__} like {protocol.options[opt]!r}, got {_kind(val)}")
            else:
                options[opt] = val
        return protocol, options

    def method_entry(self, entry: Any, where: str, registry: Registry):
        if isinstance(entry, str):
            entry = {"name": entry}
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            self.problem(where, f"expected a method name or {{name, params, budget}}, got {_kind(entry)}")
            return None
        self.unknown_keys(entry, METHOD_KEYS, where)
        try:
            spec = registry.method(entry["name"])
        except PluginError as exc:
            self.problem(_join(where, "name"), str(exc))
            return None
        params = dict(spec.params)
        for key, value in self.mapping(entry.get("params", {}), _join(where, "params")).items():
            if key not in spec.params:
                known = ", ".join(spec.params) or "none"
                self.problem(_join(where, f"params.{key}"), f"unknown parameter of method {spec.name!r}; expected one of: {known}")
            elif not check_value(spec.params[key], value):
                self.problem(_join(where, f"params.{key}"), f"expected {type(spec.params[key]).__name__} like {spec.params[key]!r}, got {_kind(value)}")
            else:
                params[key] = value
        budget = self.mapping(entry.get("budget", {}), _join(where, "budget"))
        grid = [params]
        for key, values in self.mapping(entry.get("grid", {}), _join(where, "grid")).items():
            if key not in spec.params:
                known = ", ".join(spec.params) or "none"
                self.problem(_join(where, f"grid.{key}"), f"unknown parameter of method {spec.name!r}; expected one of: {known}")
            elif not isinstance(values, list) or not values or not all(check_value(spec.params[key], x) for x in values):
                self.problem(_join(where, f"grid.{key}"), f"expected a non-empty list of {type(spec.params[key]).__name__} values like {spec.params[key]!r}, got {_kind(values)}")
            else:
                grid = [{**g, key: x} for g in grid for x in values]
        return spec, grid, budget

    def budget(self, spec, overrides: dict, where: str) -> dict:
        full = dict(spec.budget)
        for key, value in overrides.items():
            if key not in spec.budget:
                known = ", ".join(spec.budget) or "none"
                self.problem(_join(where, f"budget.{key}"), f"method {spec.name!r} has no budget {key!r}; expected one of: {known}")
            elif isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                self.problem(_join(where, f"budget.{key}"), f"expected a positive number, got {_kind(value)}")
            else:
                full[key] = value
        return full

    def executor(self, value: Any, registry: Registry) -> dict | None:
        from bench.executors import check_options

        if isinstance(value, str):
            value = {"name": value}
        if not isinstance(value, dict) or not isinstance(value.get("name"), str):
            self.problem("executor", f"expected {SUITE_KEYS['executor']}, got {_kind(value)}")
            return None
        options = {k: v for k, v in value.items() if k != "name"}
        try:
            spec = registry.executor(value["name"])
        except PluginError as exc:
            self.problem("executor.name", str(exc))
            return None
        for problem in check_options(spec, options):
            self.problem("executor", problem)
        return {"name": spec.name, "options": options}

    def feature_sweep(self, method, options: dict, key: str) -> None:
        for problem in check_feature_sweep(options["feature_sweep"], method, options["holdout"]):
            self.problem(key, problem)
        for name, values in options["feature_sweep"].items():
            if name in method.params and isinstance(values, list):
                default = method.params[name]
                wrong = [x for x in values if not check_value(default, x)]
                if wrong:
                    self.problem(_join(key, name), f"expected {type(default).__name__} values like {default!r}, got {wrong!r}")

    def dataset(self, name: str, registry: Registry, where: str):
        try:
            return registry.dataset(name)
        except PluginError as exc:
            self.problem(where, str(exc))
            return None

    def compatible(self, protocol, method, dataset, where: str, options: dict | None = None) -> bool:
        problems = []
        task = (options or {}).get("task")
        if method.kind == "restorer" and task is not None and task not in method.restorations:
            problems.append(f"method {method.name!r} restores {', '.join(method.restorations) or 'nothing'}, "
                            f"not {task!r} (protocol option task)")
        if method.kind not in protocol.method_kinds:
            problems.append(f"method {method.name!r} is a {method.kind}, but protocol {protocol.name!r} evaluates {', '.join(protocol.method_kinds)} methods")
        if dataset.task not in protocol.dataset_tasks:
            problems.append(f"dataset {dataset.name!r} is a {dataset.task} set, but protocol {protocol.name!r} needs {', '.join(protocol.dataset_tasks)} data")
        if dataset.task not in method.tasks:
            problems.append(f"method {method.name!r} supports {', '.join(method.tasks)}, not {dataset.task} (dataset {dataset.name!r})")
        if problems:
            self.problem(where, "impossible combination: " + "; ".join(problems))
        return not problems


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key
