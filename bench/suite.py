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

import difflib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from bench.accel import CHANNELS_LAST, PRECISIONS, Switches
from bench.executors import check_options
from bench.params import NAME_TEXT, Param, declared, defaults, is_name, late_defaults, show
from bench.protocols import PROTOCOLS, check_feature_sweep, check_setting, keyed_options
from bench.records import identity_of, run_key
from bench.registry import PluginError, Registry
from bench.specs import MAX_BUDGET, Budget

# Bounds on what a suite may ask for: a suite is a short hand-written file, and a value past these
# is a typo or an attack (a YAML alias bomb, a 3-million-run grid), never a plan.
MAX_FILE_BYTES = 1_000_000
MAX_DEPTH = 50  # nesting of lists and mappings
MAX_VALUES = 10_000  # values in the document with every YAML alias expanded
MAX_SEEDS = 1000  # seeds of a suite or a group
SEED_LIMIT = 2**32  # seeds fit every RNG (random, numpy's legacy seeding, torch)
MAX_RUNS = 10_000  # runs one suite expands to
MAX_LINE = 300  # an error line's text (values in it are cut at 200 characters)
MAX_PROBLEMS = 100  # problems listed at once

BUDGET_SCALE = Param(1.0, gt=0, le=100, help="multiplies every budget (smoke runs: 0.1)")
SEEDS_TEXT = (
    f"a list of integers from 0 to {SEED_LIMIT - 1} (at most {MAX_SEEDS}), "
    f"or a count n from 1 to {MAX_SEEDS} meaning 0..n-1"
)
_DEVICE = re.compile(r"auto|cpu|mps|cuda(:[0-9]{1,3})?")

SUITE_KEYS = {
    "name": f"the suite's name, {NAME_TEXT} (default: the file name)",
    "description": "text",
    "seeds": SEEDS_TEXT,
    "budget_scale": f"{BUDGET_SCALE.describe()} multiplying every budget (smoke runs: 0.1; also --budget-scale)",
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
    "budget_scale": "as the suite's budget_scale, for this group only (--budget-scale wins)",
    "seeds": "as the suite's seeds, for this group only",
    "precision": "as the suite's precision, for this group only",
    "channels_last": "as the suite's channels_last, for this group only",
}
METHOD_KEYS = {
    "name": "a method name",
    "params": "a mapping of hyper-parameters",
    "budget": "a mapping",
    "grid": "a mapping of hyper-parameters to lists of values: one run per combination",
}


#: The spec fields the switches are written as (see :meth:`RunSpec.to_dict`).
SWITCH_FIELDS = tuple(f.name for f in fields(Switches))


class SuiteError(Exception):
    """All problems found in a suite file, one per line."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


#: Each protocol's options when run keys stopped hashing defaults (record schema 2). A key hashes
#: these as the spec holds them, defaults included (the keys existing records have), and an option
#: declared later only when its value differs from its default: adding an option whose default
#: reproduces the old behaviour leaves every existing key as it was. Never add to these sets (that
#: moves the keys of every run that leaves the option at its default). Method params are hashed as
#: the suite writes them (defaults are not filled in), so a new param never moves a key.
KEYED_OPTIONS: dict[str, frozenset[str]] = {
    "classify": frozenset({"eval_batch_size", "holdout", "split_seed"}),
    "restore": frozenset(
        {"drop_ratio", "images", "mask", "max_images", "monitor_every", "noise_clip", "noise_seed", "scale"}
        | {"sigma", "task", "warmup"}
    ),
    "linear-probe": frozenset(
        {"batch_size", "crop_padding", "crop_pct", "epochs", "eval_batch_size", "feature_sweep", "flip"}
        | {"head_init_std", "head_norm", "holdout", "input_size", "labelled_images", "lr_schedule", "lrs"}
        | {"optimizer", "overrides", "probe", "resized_crop", "split_seed", "test_images", "warmup_epochs"}
        | {"weight_decays", "weights"}
    ),
    "knn": frozenset(
        {"crop_pct", "eval_batch_size", "feature_sweep", "holdout", "input_size", "k", "labelled_images"}
        | {"split_seed", "temperature", "test_images", "weights"}
    ),
    "finetune": frozenset(
        {"batch_size", "crop_padding", "crop_pct", "cutmix", "decay_all", "drop_path", "epochs"}
        | {"eval_batch_size", "flip", "head", "head_init_std", "holdout", "input_size", "label_smoothing"}
        | {"labelled_images", "layer_decay", "lr", "lr_schedule", "min_lr", "mixup", "optimizer", "overrides"}
        | {"rand_augment", "random_erasing", "recipe", "resized_crop", "split_seed", "test_images"}
        | {"warmup_epochs", "warmup_lr", "weight_decay", "weights"}
    ),
}


def late_options(protocol: str) -> dict:
    """The options of ``protocol`` declared after :data:`KEYED_OPTIONS`, with their defaults."""
    declared_options = PROTOCOLS[protocol].options if protocol in PROTOCOLS else {}
    keyed = KEYED_OPTIONS.get(protocol, frozenset())
    return {k: v for k, v in defaults(declared_options).items() if k not in keyed}


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
    #: How to run, not what is computed: outside the key, like device. The spec's dict (a record's
    #: ``spec``) holds its three values as top-level fields (precision, channels_last, compile).
    switches: Switches = Switches()
    #: Params declared with ``since`` and their defaults: at its default such a param is left out of the key.
    late_params: dict = field(default_factory=dict)
    #: The protocol's options declared after keys stopped hashing defaults, with their defaults
    #: (see :data:`KEYED_OPTIONS`): at its default such an option is left out of the key. Filled in
    #: from the protocol's declaration, and kept in the record's spec so that a reader can check a
    #: record's key from its spec alone (:func:`bench.records.identity_of`).
    late_options: dict = field(default_factory=dict)
    #: What tells this run apart from the suite's others of the same method, dataset and protocol
    #: (``monitor_every=10``, a grid's ``lr=0.1``): shown in the label, outside the key.
    variant: str = ""

    def __post_init__(self) -> None:
        if not self.late_options:
            object.__setattr__(self, "late_options", late_options(self.protocol))

    def identity(self) -> dict:
        """What determines the result; its hash names the record (never the order in the suite)."""
        return identity_of(self.to_dict())

    @property
    def key(self) -> str:
        return run_key(self.identity())

    @property
    def label(self) -> str:
        """How progress lines, ``--dry-run`` and ``--only`` name the run; a representation
        protocol's random-weight control says so (same method, nothing pre-trained), and a run of
        some of a set's images names them (``--only butterfly``)."""
        control = " (random weights)" if self.protocol_options.get("weights") == "random" else ""
        images = self.protocol_options.get("images")
        dataset = f"{self.dataset} [{', '.join(images)}]" if images else self.dataset
        variant = f" {self.variant}" if self.variant else ""
        return f"{dataset} / {self.method}{control}{variant} / {self.protocol}{self._budget_label()} / seed {self.seed}"

    def _budget_label(self) -> str:
        """A label budget and its fold (split seed), so runs that differ only in them read apart."""
        labels = self.protocol_options.get("labels")
        return "" if labels is None else f" labels {labels} fold {self.protocol_options.get('split_seed', 0)}"

    def to_dict(self) -> dict:
        """The spec as plain data, the switches' fields in its top level where they always were."""
        flat = {}
        for name, value in asdict(self).items():
            if name == "switches":
                flat.update(value)
            else:
                flat[name] = value
        return flat

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunSpec:
        data = dict(data)
        switches = Switches(**{name: data.pop(name) for name in SWITCH_FIELDS if name in data})
        return cls(**data, switches=switches)


@dataclass
class Suite:
    name: str
    description: str
    path: Path
    runs: list[RunSpec] = field(default_factory=list)
    #: The suite's executor choice, ``{"name": ..., "options": {...}}``, or None (the default).
    executor: dict | None = None


@dataclass(frozen=True)
class _Settings:
    """What the suite's top level gives every group (name, seeds, budget scale, device and
    switches; ``--device`` and ``--compile`` applied), and the command line's seeds and budget
    scale (None when not given), which win over a group's own."""

    name: str
    seeds: list[int]
    budget_scale: float
    device: str
    switches: Switches
    cli_seeds: list[int] | None
    cli_budget_scale: float | None


@dataclass(frozen=True)
class _Group:
    """A checked run group: where it is in the file, its protocol (None when it names none that
    exists) and options, datasets, budget overrides and settings."""

    where: str
    protocol: Any
    options: dict
    datasets: list[str]
    budget: dict
    settings: _Settings


def load_suite(
    path: str | Path,
    registry: Registry,
    *,
    budget_scale: float | None = None,
    seeds: list[int] | None = None,
    device: str | None = None,
    compile_models: bool | None = None,
) -> Suite:
    """Read and validate a suite file; command-line overrides win over the file's values (and are
    checked as strictly: a problem with one names the option instead of the file's key)."""
    path = Path(path)
    data = read_yaml(path)
    v = _Validator(path)
    if not isinstance(data, dict):
        raise SuiteError(
            [f"{path}: (top level): expected a mapping with keys {', '.join(SUITE_KEYS)}, got {show(data)}"]
        )
    v.unknown_keys(data, SUITE_KEYS, "")
    name = v.suite_name(data.get("name", path.stem), "name" in data)
    description = v.typed(data, "description", str, "", default="")
    settings, executor = _suite_settings(v, data, name, budget_scale, seeds, device, compile_models, registry)
    groups = data.get("runs")
    if not isinstance(groups, list) or not groups:
        v.problem("runs", f"expected {SUITE_KEYS['runs']}, got {show(groups)}")
        groups = []
    specs: list[RunSpec] = []
    for i, group in enumerate(groups):
        _add_group_runs(v, group, f"runs[{i}]", settings, registry, specs)
    if not specs and not v.problems:
        v.problem("runs", "the suite expands to no runs")
    if v.problems:
        raise SuiteError(v.problems)
    unique = {spec.key: spec for spec in specs}  # the same run listed twice runs once
    runs = name_variants(list(unique.values()))
    return Suite(name=name, description=description, path=path, runs=runs, executor=executor)


def _suite_settings(
    v: _Validator,
    data: dict,
    name: str,
    budget_scale: float | None,
    seeds: list[int] | None,
    device: str | None,
    compile_models: bool | None,
    registry: Registry,
) -> tuple[_Settings, dict | None]:
    """The suite's top-level seeds, scale, device, switches and executor, each checked, with the
    command line's overrides (checked under the option's name) applied."""
    suite_seeds = v.seeds(data.get("seeds", [0]), "seeds")
    scale = v.check(BUDGET_SCALE, data.get("budget_scale", 1.0), "budget_scale")
    suite_device = v.device(data.get("device", "auto"), "device")
    precision = v.choice(data.get("precision", "auto"), PRECISIONS, "precision")
    channels_last = v.choice(data.get("channels_last", "auto"), CHANNELS_LAST, "channels_last")
    compile_models = v.typed(data, "compile", bool, "", default=False) if compile_models is None else compile_models
    executor = v.executor(data["executor"], registry) if "executor" in data else None
    if seeds is not None:
        seeds = v.seeds(seeds, "--seeds")
    if budget_scale is not None:
        budget_scale = v.check(BUDGET_SCALE, budget_scale, "--budget-scale")
    if device is not None:
        suite_device = v.device(device, "--device")
    switches = Switches(precision, channels_last, compile_models)
    return _Settings(name, suite_seeds, scale, suite_device, switches, seeds, budget_scale), executor


def _add_group_runs(
    v: _Validator, group: Any, where: str, settings: _Settings, registry: Registry, specs: list[RunSpec]
) -> None:
    """Check one run group and add its runs (methods x grid x datasets x seeds) to ``specs``."""
    if not isinstance(group, dict):
        v.problem(where, f"expected a mapping with keys {', '.join(GROUP_KEYS)}, got {show(group)}")
        return
    v.unknown_keys(group, GROUP_KEYS, where)
    for key in ("datasets", "methods", "protocol"):
        if key not in group:
            v.problem(f"{where}.{key}", f"missing; expected {GROUP_KEYS[key]}")
    seeds = v.seeds(group["seeds"], f"{where}.seeds") if "seeds" in group else settings.seeds
    if settings.cli_seeds is not None:
        seeds = settings.cli_seeds
    scale = (
        v.check(BUDGET_SCALE, group["budget_scale"], f"{where}.budget_scale")
        if "budget_scale" in group
        else settings.budget_scale
    )
    if settings.cli_budget_scale is not None:
        scale = settings.cli_budget_scale
    datasets = v.names(group.get("datasets", []), f"{where}.datasets") if "datasets" in group else []
    protocol, options = v.protocol(group["protocol"], f"{where}.protocol") if "protocol" in group else (None, {})
    group_budget = v.mapping(group.get("budget", {}), f"{where}.budget")
    # How to run (not what is computed) may differ per group, e.g. bf16 for one slow method.
    switches = replace(
        settings.switches,
        precision=v.choice(group.get("precision", settings.switches.precision), PRECISIONS, f"{where}.precision"),
        channels_last=v.choice(
            group.get("channels_last", settings.switches.channels_last), CHANNELS_LAST, f"{where}.channels_last"
        ),
    )
    settings = replace(settings, seeds=seeds, budget_scale=scale, switches=switches)
    checked = _Group(where, protocol, options, datasets, group_budget, settings)
    entries = _as_list(group.get("methods", []))
    if "methods" in group and not entries:
        v.problem(f"{where}.methods", f"expected {GROUP_KEYS['methods']}, got an empty list")
    for j, entry in enumerate(entries):
        mwhere = f"{where}.methods[{j}]"
        method = v.method_entry(entry, mwhere, registry)
        if method is not None and not _add_method_runs(v, method, mwhere, checked, registry, specs):
            break


def _add_method_runs(
    v: _Validator, method: tuple, mwhere: str, group: _Group, registry: Registry, specs: list[RunSpec]
) -> bool:
    """Check one method entry of a group against its protocol and datasets and add its runs (grid x
    datasets x seeds) to ``specs``; False when the suite would grow past :data:`MAX_RUNS`."""
    spec, grid, budget = method
    options, settings = group.options, group.settings
    full = v.budget(spec, {**group.budget, **budget}, mwhere)
    if options.get("feature_sweep"):
        v.feature_sweep(spec, options, f"{group.where}.protocol.feature_sweep")
    v.method_rules(spec, grid, options.get("feature_sweep") or {}, mwhere)
    if len(specs) + len(grid) * len(group.datasets) * len(settings.seeds) > MAX_RUNS:
        v.problem(
            mwhere,
            f"the suite expands to more than {MAX_RUNS} runs (datasets x grid x seeds); split it into several suites",
        )
        return False
    for params in grid:
        for d, dataset_name in enumerate(group.datasets):
            dataset = v.dataset(dataset_name, registry, f"{group.where}.datasets[{d}]")
            if dataset is None or group.protocol is None:
                continue
            if not v.compatible(group.protocol, spec, dataset, group.where, options):
                continue
            specs.extend(
                RunSpec(
                    suite=settings.name,
                    dataset=dataset.name,
                    method=spec.name,
                    protocol=group.protocol.name,
                    protocol_options=options,
                    params=params,
                    budget=dict(Budget(full).scaled(settings.budget_scale)),
                    budget_scale=settings.budget_scale,
                    seed=seed,
                    device=settings.device,
                    switches=settings.switches,
                    late_params=late_defaults(spec.params),
                )
                for seed in settings.seeds
            )
    return True


def name_variants(specs: list[RunSpec]) -> list[RunSpec]:
    """Runs that would share a label (a grid's points, one method under two protocol options or
    budgets) get a ``variant`` naming what differs, so progress, ``--dry-run`` and ``--only`` tell
    them apart."""
    by_label: dict[str, list[RunSpec]] = {}
    for spec in specs:
        by_label.setdefault(spec.label, []).append(spec)
    named: dict[str, str] = {}
    for members in by_label.values():
        if len(members) < 2:
            continue
        sections = [
            (section, key)
            for section in ("params", "protocol_options", "budget")
            for key in sorted({k for s in members for k in getattr(s, section)})
            if len({json.dumps(getattr(s, section).get(key), sort_keys=True, default=str) for s in members}) > 1
        ]
        for s in members:
            named[s.key] = " ".join(f"{key}={getattr(s, section).get(key)}" for section, key in sections)
    return [replace(s, variant=named[s.key]) if named.get(s.key) else s for s in specs]


def read_yaml(path: Path) -> Any:
    """The file's YAML data, or :class:`SuiteError` with one line saying why it cannot be read:
    missing, too large, not UTF-8, not YAML, nested too deep or too large once aliases expand."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise SuiteError([f"{path}: no such suite file"]) from None
    except OSError as exc:
        raise SuiteError([f"{path}: (file): cannot be read: {exc.strerror or exc}"]) from None
    if len(raw) > MAX_FILE_BYTES:
        raise SuiteError([f"{path}: (file): {len(raw)} bytes; a suite file is at most {MAX_FILE_BYTES} bytes"])
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise SuiteError([f"{path}: byte 0: UTF-16 or UTF-32 text (its byte-order mark); save the file as UTF-8"])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SuiteError(
            [f"{path}: byte {exc.start}: not UTF-8 text (0x{raw[exc.start]:02x}); save the file as UTF-8"]
        ) from None
    try:
        return yaml.load(text, Loader=_BoundedLoader)  # noqa: S506 - a SafeLoader, bounded
    except yaml.YAMLError as exc:
        raise SuiteError([f"{path}: {_yaml_problem(exc)}"]) from None
    except RecursionError:  # defence in depth: nesting is bounded while composing
        raise SuiteError([f"{path}: (top level): not valid YAML: nested too deep"]) from None


#: YAML 1.1 reads ``1e-3`` (no dot) as text, so ``lr: 1e-3`` reached a method as the string '1e-3';
#: suites read every number in exponent form as a float, as YAML 1.2 and people do.
_EXPONENT_FLOAT = re.compile(r"^[-+]?(?:[0-9][0-9_]*)?(?:\.[0-9_]*)?[eE][-+]?[0-9]+$")


class _BoundedLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses documents nested deeper than :data:`MAX_DEPTH` or holding
    more than :data:`MAX_VALUES` values once aliases are expanded (sized per node while composing,
    so a billion-laughs bomb is refused after reading it once, never expanded)."""

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0
        self._sizes: dict[int, int] = {}

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            node = super().compose_node(parent, index)
            if id(node) not in self._sizes:
                raise yaml.composer.ComposerError(
                    None, None, f"alias *{event.anchor} refers to the value it is in", event.start_mark
                )
            return node
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise yaml.composer.ComposerError(
                None, None, f"nested deeper than {MAX_DEPTH} levels", self.peek_event().start_mark
            )
        node = super().compose_node(parent, index)
        self._depth -= 1
        if isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        else:
            children = node.value if isinstance(node, yaml.SequenceNode) else []
        size = 1 + sum(self._sizes[id(child)] for child in children)
        if size > MAX_VALUES:
            raise yaml.composer.ComposerError(
                None,
                None,
                f"more than {MAX_VALUES} values once its aliases are expanded; a suite is a short file",
                node.start_mark if node is not None else None,
            )
        self._sizes[id(node)] = size
        return node

    def construct_object(self, node, deep=False):
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError) as exc:  # a value its constructor refuses: 2024-13-45
            raise yaml.constructor.ConstructorError(None, None, str(exc), node.start_mark) from None


_BoundedLoader.add_implicit_resolver("tag:yaml.org,2002:float", _EXPONENT_FLOAT, list("-+0123456789."))


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """A YAML error as one line: where (line and column) and what."""
    if isinstance(exc, yaml.reader.ReaderError):
        what = f"character #x{ord(exc.character):04x} is not allowed" if isinstance(exc.character, str) else exc.reason
        return f"character {exc.position}: not valid YAML: {what}"
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    what = getattr(exc, "problem", None) or (str(exc).splitlines() or ["unreadable"])[0]
    context = getattr(exc, "context", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else "(top level): "
    return f"{where}not valid YAML: {_cut(what + (f' ({context})' if context else ''))}"


def _cut(text: str, limit: int = MAX_LINE) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _declared_integer(spec, key: str, value: Any) -> str:
    """Why a fractional value is refused: the integer is the plugin's declaration, not the suite's
    mistake, and how the plugin allows fractions."""
    declared = spec.budget[key]
    if not isinstance(declared, int) or isinstance(value, bool) or not isinstance(value, float) or value <= 0:
        return ""
    return (
        f"; method {spec.name!r} declares {key} an integer (budget={{{key!r}: {declared}}}): write an integer, "
        f"or its plugin declares {{{key!r}: {float(declared)}}} to allow fractions"
    )


class _Validator:
    def __init__(self, path: Path):
        self.path = path
        self.problems: list[str] = []
        self._seen: set[str] = set()

    def problem(self, key: str, text: str, whole: bool = False) -> None:
        """Note a problem; ``whole``: the host's own text, bounded where it quotes the suite (a
        registry look-up: the plugins that failed to load are all listed), never cut."""
        # A command-line override is not the file's fault: name the option instead.
        origin = "command line" if key.startswith("--") else str(self.path)
        key = _cut(key or "(top level)", 120)
        line = f"{origin}: {key}: {text if whole else _cut(text, MAX_LINE - len(key) - 2)}"
        if line in self._seen:  # e.g. an unknown dataset once per grid point
            return
        self._seen.add(line)
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(line)
        elif len(self.problems) == MAX_PROBLEMS:
            self.problems.append(f"{self.path}: (top level): more problems not shown; fix these first")

    def unknown_keys(self, data: dict, known: Mapping[str, str], where: str) -> None:
        for key in data:
            if key not in known:
                self.problem(_join(where, key), f"unknown key; expected one of: {', '.join(known)}")

    def typed(self, data: dict, key: str, expected: type, where: str, default: Any) -> Any:
        value = data.get(key, default)
        if not isinstance(value, expected):
            self.problem(_join(where, key), f"expected {SUITE_KEYS.get(key, expected.__name__)}, got {show(value)}")
            return default
        return value

    def check(self, param: Param, value: Any, key: str) -> Any:
        """``value`` if ``param`` allows it, else its default (after noting the problem)."""
        problem = param.check(value)
        if problem:
            self.problem(key, problem)
            return param.default
        return value

    def suite_name(self, value: Any, given: bool) -> str:
        if is_name(value):
            return value
        # The name is a folder of the results: one safe path component, never "../x" or "/x".
        hint = "" if given else " (the file name is not one: give the suite a name)"
        self.problem("name", f"expected {NAME_TEXT}{hint}, got {show(value)}")
        return "invalid"

    def device(self, value: Any, key: str) -> str:
        if isinstance(value, str) and _DEVICE.fullmatch(value):
            return value
        self.problem(key, f"expected {SUITE_KEYS['device']}, got {show(value)}")
        return "auto"

    def choice(self, value: Any, choices: tuple, key: str) -> Any:
        return self.check(Param(choices[0], choices=choices), value, key)

    def seeds(self, value: Any, key: str) -> list[int]:
        if _is_int(value) and 0 < value <= MAX_SEEDS:
            return list(range(value))
        if (
            isinstance(value, list)
            and 0 < len(value) <= MAX_SEEDS
            and all(_is_int(s) and 0 <= s < SEED_LIMIT for s in value)
        ):
            return list(dict.fromkeys(value))
        self.problem(key, f"expected {SEEDS_TEXT}, got {show(value)}")
        return []

    def names(self, value: Any, key: str) -> list[str]:
        items = _as_list(value)
        if not items or not all(isinstance(x, str) for x in items):
            self.problem(key, f"expected a name or a non-empty list of names, got {show(value)}")
            return []
        return items

    def mapping(self, value: Any, key: str) -> dict:
        if not isinstance(value, dict):
            self.problem(key, f"expected a mapping, got {show(value)}")
            return {}
        return value

    def protocol(self, value: Any, key: str):
        if isinstance(value, str):
            value = {"name": value}
        if not isinstance(value, dict) or not isinstance(value.get("name"), str):
            self.problem(key, f"expected {GROUP_KEYS['protocol']}, got {show(value)}")
            return None, {}
        name = value["name"]
        if name not in PROTOCOLS:
            self.problem(
                _join(key, "name"), f"unknown protocol {name!r}; known protocols: {', '.join(sorted(PROTOCOLS))}"
            )
            return None, {}
        protocol = PROTOCOLS[name]
        declarations = declared(protocol.options)
        options = defaults(protocol.options)
        for opt, val in value.items():
            if opt == "name":
                continue
            if opt not in declarations:
                self.problem(
                    _join(key, opt),
                    f"unknown option of protocol {name!r}{_did_you_mean(opt, declarations)}; expected one of: "
                    f"{', '.join(declarations) or 'none'}",
                )
            else:
                options[opt] = self.check(declarations[opt], val, _join(key, opt))
        return protocol, keyed_options(options, declarations)

    def params(self, declarations: dict[str, Param], given: dict, where: str, method: str) -> dict:
        """The ``given`` params that their declarations allow (the others are problems)."""
        params = {}
        for key, value in given.items():
            if key not in declarations:
                self.unknown_param(declarations, key, _join(where, key), method)
            elif problem := declarations[key].check(value):
                self.problem(_join(where, key), problem)
            else:
                params[key] = value
        return params

    def unknown_param(self, declarations: Mapping, key: Any, where: str, method: str) -> None:
        self.problem(
            where,
            f"unknown parameter of method {method!r}{_did_you_mean(key, declarations)}; "
            f"expected one of: {', '.join(declarations) or 'none'}",
        )

    def method_entry(self, entry: Any, where: str, registry: Registry):
        if isinstance(entry, str):
            entry = {"name": entry}
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            self.problem(where, f"expected a method name or {{name, params, budget}}, got {show(entry)}")
            return None
        self.unknown_keys(entry, METHOD_KEYS, where)
        try:
            spec = registry.method(entry["name"])
        except PluginError as exc:
            self.problem(_join(where, "name"), str(exc), whole=True)
            return None
        declarations = declared(spec.params)
        params = defaults(spec.params)
        params.update(
            self.params(
                declarations,
                self.mapping(entry.get("params", {}), _join(where, "params")),
                _join(where, "params"),
                spec.name,
            )
        )
        budget = self.mapping(entry.get("budget", {}), _join(where, "budget"))
        grid = [params]
        axes = {}
        for key, values in self.mapping(entry.get("grid", {}), _join(where, "grid")).items():
            gwhere = _join(where, f"grid.{key}")
            if key not in declarations:
                self.unknown_param(declarations, key, gwhere, spec.name)
            elif not isinstance(values, list) or not values:
                self.problem(
                    gwhere,
                    f"expected a non-empty list of values, each {declarations[key].describe()}, got {show(values)}",
                )
            else:
                if problem := _first_problem(declarations[key], values):
                    self.problem(gwhere, problem)
                else:
                    axes[key] = values
        if math.prod(len(values) for values in axes.values()) > MAX_RUNS:
            self.problem(_join(where, "grid"), f"more than {MAX_RUNS} combinations; split it into several suites")
            return None
        for key, values in axes.items():
            grid = [{**g, key: x} for g in grid for x in values]
        return spec, grid, budget

    def budget(self, spec, overrides: dict, where: str) -> dict:
        """The method's full budget with the suite's overrides, each of the type the method
        declares (an integer budget is not given 1.5, nor 1.0), positive and finite."""
        full = dict(spec.budget)
        for key, value in overrides.items():
            if key not in spec.budget:
                known = ", ".join(spec.budget) or "none"
                self.problem(
                    _join(where, f"budget.{key}"),
                    f"method {spec.name!r} has no budget {key!r}; expected one of: {known}",
                )
            else:
                problem = Param(spec.budget[key], gt=0, le=MAX_BUDGET).check(value)
                if problem:
                    self.problem(_join(where, f"budget.{key}"), problem + _declared_integer(spec, key, value))
                else:
                    full[key] = value
        return full

    def executor(self, value: Any, registry: Registry) -> dict | None:
        if isinstance(value, str):
            value = {"name": value}
        if not isinstance(value, dict) or not isinstance(value.get("name"), str):
            self.problem("executor", f"expected {SUITE_KEYS['executor']}, got {show(value)}")
            return None
        options = {k: v for k, v in value.items() if k != "name"}
        try:
            spec = registry.executor(value["name"])
        except PluginError as exc:
            self.problem("executor.name", str(exc), whole=True)
            return None
        for problem in check_options(spec, options):
            self.problem("executor", problem)
        return {"name": spec.name, "options": options}

    def feature_sweep(self, method, options: dict, key: str) -> None:
        for problem in check_feature_sweep(options["feature_sweep"], method, options["holdout"]):
            self.problem(key, problem)
        declarations = declared(method.params)
        for name, values in options["feature_sweep"].items():
            if name in declarations and isinstance(values, list):
                if refused := _first_problem(declarations[name], values):
                    self.problem(_join(key, name), refused)

    def method_rules(self, spec, grid: list[dict], sweep: dict, where: str) -> None:
        """The method's own rules across params (``validate_params``) for every run's params: each
        grid combination, and each with every feature-sweep value (a DDAE block its UNet has)."""
        if spec.validate_params is None:
            return
        said = set()
        declarations = declared(spec.params)
        allowed = {  # sweep values their declarations refuse have been named already
            k: [x for x in values if k in declarations and declarations[k].check(x) is None]
            for k, values in sweep.items()
            if isinstance(values, list)
        }
        for params in grid:
            sweeps = [{**params, k: x} for k, values in allowed.items() for x in values]
            for candidate in [params, *sweeps]:
                try:
                    problem = spec.validate_params(candidate)
                except Exception as exc:  # noqa: BLE001 - a plugin's bug is named, not a traceback
                    problem = f"its validate_params raised {type(exc).__name__}: {exc}"
                if problem and problem not in said:
                    said.add(problem)
                    self.problem(where, f"method {spec.name!r}: {problem}")

    def dataset(self, name: str, registry: Registry, where: str):
        try:
            return registry.dataset(name)
        except PluginError as exc:
            self.problem(where, str(exc), whole=True)
            return None

    def compatible(self, protocol, method, dataset, where: str, options: dict | None = None) -> bool:
        problems = []
        task = (options or {}).get("task")
        if method.kind == "restorer" and task is not None and task not in method.restorations:
            problems.append(
                f"method {method.name!r} restores {', '.join(method.restorations) or 'nothing'}, "
                f"not {task!r} (protocol option task)"
            )
        if method.kind not in protocol.method_kinds:
            problems.append(
                f"method {method.name!r} is a {method.kind}, but protocol {protocol.name!r} evaluates {', '.join(protocol.method_kinds)} methods"
            )
        if dataset.task not in protocol.dataset_tasks:
            problems.append(
                f"dataset {dataset.name!r} is a {dataset.task} set, but protocol {protocol.name!r} needs {', '.join(protocol.dataset_tasks)} data"
            )
        if dataset.task not in method.tasks:
            problems.append(
                f"method {method.name!r} supports {', '.join(method.tasks)}, not {dataset.task} (dataset {dataset.name!r})"
            )
        if problems:
            self.problem(where, "impossible combination: " + "; ".join(problems))
        else:  # a recipe or probe setting the method registers (bench.Setting)
            for problem in check_setting(protocol.name, method, options or {}):
                self.problem(_join(where, "protocol"), problem)
        return not problems


def _join(where: str, key: Any) -> str:
    key = key if isinstance(key, str) else show(key, 60)
    return f"{where}.{key}" if where else key


def _did_you_mean(key: Any, known) -> str:
    close = difflib.get_close_matches(key, list(known), n=1) if isinstance(key, str) and len(key) < 100 else []
    return f" (did you mean {close[0]!r}?)" if close else ""


def _first_problem(param: Param, values: list) -> str | None:
    """The problem with the first of ``values`` that ``param`` refuses (a grid axis, a sweep)."""
    return next(filter(None, map(param.check, values)), None)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
