"""``bench check [PLUGIN...]``: the contract tests a plugin author runs against their plugin (as
``benchopt test`` does for a solver).

For every method of the plugins named (all, by default), through the host's own suite loader,
runner and protocols, on small synthetic data of the right kind (4 classes of 3x16x16 images for
classifiers and representation learners: 16 pixels, as airbench94 needs at least 9; a small image
degraded by each declared restoration for restorers), at the method's ``check_params`` and
smallest budget (``check_budget``):

- registration: the plugin loaded and registered valid specs; every declared param's default and
  check value is allowed by its declaration;
- params: ``ctx.params`` holds every declared param with the value the suite gave, a changed value
  included, and ``ctx.budget`` the suite's budget;
- a tiny run finishes: each protocol run ends "ok", the callables return what the contract says
  (a module; a pre-trained encoder that ``build``'s architecture can load; a float image of the
  clean image's shape);
- reproducible: the same seed twice gives the same quality metrics;
- monitoring: a restorer's second run monitors every 2nd iteration instead of every one, and must
  give the same quality (a difference that a third run at every iteration repeats is the
  monitoring's);
- budget: a classifier or representation learner runs at most ``ceil(budget.epochs)`` epochs, a
  restorer at most the largest of its (integer) budget values in ``ctx.step`` calls per image;
- fractional budget: a method declaring a float budget runs again at budget_scale 0.5 (a budget of
  1.0 becomes 0.5: part of an epoch), within that budget.
- label budget: a classifier also runs under the ``labels`` option (:data:`LABEL_BUDGET`) and
  must receive exactly the budgeted labels (train and validation together) and an unlabelled pool
  of uint8 images that carries no labels.

For every dataset named (or registered by a plugin named), through the user's data folder:

- splits: it declares the splits its task's protocols load (``train`` and ``test``; ``test``);
- loads: every declared split loads;
- declaration: what ``load`` returns is what the spec declares (``bench.data.validate``: images of
  ``image_shape``, uint8, labels in ``0..num_classes-1``, as many class names; an ``ImageSet`` of
  uint8 images), the same check every run makes when it loads a split;
- reproducible: each split loads twice to the same data; the files fetched through the store
  (verified and recorded by checksum) are counted on the line.

Each failure names the method (or dataset), the rule broken and what was seen; the exit code is 1
when any rule is broken.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import yaml

from bench.context import bookkeeping
from bench.data.images import LabelledImages
from bench.params import declared, defaults
from bench.progress import Progress
from bench.registry import PluginError, PluginInfo, Registry, one_line
from bench.restoration.images import ImageSet, RestorationImage
from bench.specs import Budget, DatasetSpec, Method, RepresentationLearner, Restorer

#: The synthetic datasets the checks run on (registered for the check only).
CHECK_IMAGES = "bench-check-images"
CHECK_RESTORE = "bench-check-restore"
SEED = 0
#: The budget_scale of the fractional-budget run (a float budget of 1.0 becomes 0.5).
FRACTIONAL_SCALE = 0.5
#: The second monitor interval restorers run at (the first is 1): the results must not differ.
SPARSE_MONITOR = 2
#: A classifier's second run: 8 labels of each of the 4 classes (6 train, 2 validate).
LABEL_BUDGET = {"labels": 8, "holdout": 0.25}
#: How each kind is run: (protocol, dataset, options) per run.
_RESTORE_OPTIONS: dict[str, dict[str, Any]] = {
    "sr": {"scale": 2},
    "denoise": {"sigma": 25.0},
    "inpaint": {"mask": "random"},
}


@dataclass
class Failure:
    method: str
    rule: str
    detail: str

    def __str__(self) -> str:
        return f"{self.method}: {self.rule}: {self.detail}"


@dataclass
class Report:
    checked: list[str] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    datasets: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failures


class _Stop(Exception):
    """Raised by a spy once it has seen the context: the run's job (checking params) is done."""


def select(registry: Registry, names: list[str]) -> tuple[list[Method], list[Failure]]:
    """The methods of the plugins (or distributions, or the methods) named, and failures for named
    plugins that did not load; every method when no name is given."""
    plugins = {name: registry.plugins_named(name) for name in names}
    failures = [
        Failure(b.name, "registration", f"the plugin did not load: {b.error}" if not b.loaded else b.error)
        for b in registry.broken
        if not names or any(b.name in named for named in plugins.values())
    ]
    if not names:
        return [registry.methods[m] for m in sorted(registry.methods)], failures
    methods = []
    for name in names:
        matched = sorted(
            m for m in registry.methods if m == name or registry.plugin_of("method", m).name in plugins[name]
        )
        if not matched and not plugins[name] and name not in registry.datasets:
            raise PluginError(
                f"no plugin, distribution, method or dataset named {name!r}; plugins: "
                f"{', '.join(sorted({i.name for i in registry.owner.values()}))}"
            )
        methods += [registry.methods[m] for m in matched if registry.methods[m] not in methods]
    return methods, failures


def select_datasets(registry: Registry, names: list[str]) -> list[DatasetSpec]:
    """The datasets named, or registered by the plugins (or distributions) named; none when no
    name is given (checking a dataset loads its files: name the ones to check)."""
    plugins = set().union(*(registry.plugins_named(name) for name in names)) if names else set()
    return [
        spec
        for name, spec in sorted(registry.datasets.items())
        if name in names or registry.plugin_of("dataset", name).name in plugins
    ]


def check(
    registry: Registry,
    names: Sequence[str] = (),
    *,
    device: str = "cpu",
    say: Callable[[str], None] = lambda line: None,
    data_store=None,
) -> Report:
    """Run the contract checks; ``say`` gets one line per method (and dataset) as it finishes.
    Datasets load through ``data_store`` (default: ``bench.DataStore()``, the user's data folder)."""
    methods, failures = select(registry, list(names))
    report = Report(failures=failures)
    for dataset in select_datasets(registry, list(names)):
        start = time.perf_counter()
        found, files = _check_dataset(dataset, data_store)
        report.datasets.append(dataset.name)
        report.failures += found
        seconds = time.perf_counter() - start
        verdict = "ok" if not found else f"FAILED ({len(found)})"
        verified = f"{files} files verified by checksum" if files else "no file fetched through the store"
        say(f"{verdict:<10} {dataset.name} (dataset, {len(dataset.splits)} splits, {verified}, {seconds:.1f} s)")
    for method in methods:
        start = time.perf_counter()
        found = _check_method(registry, method, device)
        report.checked.append(method.name)
        report.failures += found
        report.seconds[method.name] = time.perf_counter() - start
        verdict = "ok" if not found else f"FAILED ({len(found)})"
        say(f"{verdict:<10} {method.name} ({method.kind}, {report.seconds[method.name]:.1f} s)")
    return report


# -- one dataset ---------------------------------------------------------------------------------


def _check_dataset(dataset: DatasetSpec, data_store) -> tuple[list[Failure], int]:
    """Each declared split loads, holds what the declaration says (shapes, dtype, label range,
    classes), loads the same twice; (failures, files fetched and verified by checksum)."""
    from bench.data.store import DataStore
    from bench.data.validate import split_problems

    store = data_store or DataStore()
    failures = []

    def fail(rule: str, detail: str) -> None:
        failures.append(Failure(dataset.name, rule, detail))

    needed = ("train", "test") if dataset.task == "classification" else ("test",)
    missing = [s for s in needed if s not in dataset.splits]
    if missing:
        fail("splits", f"declares splits {dataset.splits}; the {dataset.task} protocols load {needed}")
    for split in dataset.splits:
        try:
            first = dataset.load(split, store)
            again = dataset.load(split, store)
        except Exception as exc:
            fail("loads", f"load({split!r}) raised {one_line(exc)}")
            continue
        for problem in split_problems(dataset, split, first):
            fail("declaration", f"split {split!r}: {problem}")
        if _fingerprint(first) != _fingerprint(again):
            fail("reproducible", f"load({split!r}) twice gave different data")
    return failures, len(store.used)


def _fingerprint(data) -> str:
    """A digest of a loaded split: images, labels and names (or image names, pixels and masks)."""
    digest = hashlib.sha256()
    if isinstance(data, LabelledImages):
        parts = [data.images, data.labels, repr(data.classes)]
    elif isinstance(data, ImageSet):
        parts = [part for item in data for part in (item.name, item.image, item.mask)]
    else:
        parts = [repr(data)]
    for part in parts:
        if isinstance(part, torch.Tensor):
            digest.update(repr((part.dtype, tuple(part.shape))).encode())
            part = part.contiguous().cpu().numpy().tobytes()
        digest.update(part if isinstance(part, bytes) else repr(part).encode())
    return digest.hexdigest()


# -- one method ----------------------------------------------------------------------------------


def _check_method(registry: Registry, method: Method, device: str) -> list[Failure]:
    failures: list[Failure] = []

    def fail(rule: str, detail: str) -> None:
        failures.append(Failure(method.name, rule, detail))

    params = _check_params_declared(method, fail)
    if params is None:
        return failures
    budget = _check_budget(method)
    runs = _runs(method)

    # 1. A changed value of every param reaches ctx.params (the run stops at the first call).
    changed = _changed(method, params)
    protocol, dataset, options = runs[0]
    if protocol == "restore":
        options = {**options, "warmup": False}  # the warm-up call runs at the smallest budget
    seen = _run(registry, method, [(protocol, dataset, options)], changed, budget, device, stop=True)
    for call in seen.calls[:1]:
        if call.params != {**defaults(method.params), **changed}:
            fail("params", f"{call.name}() got ctx.params {call.params}, expected the suite's {changed}")
        if dict(call.budget) != budget:
            fail("budget", f"{call.name}() got ctx.budget {dict(call.budget)}, expected the suite's {budget}")
    if not seen.calls:
        fail("tiny run", f"the {runs[0][0]} protocol never called the method: {seen.errors or 'no error'}")
        return failures

    # 2. Tiny runs, twice: they finish, return what the contract says, repeat, respect the budget.
    first = _run(registry, method, runs, params, budget, device)
    for error in first.errors:
        fail("tiny run", error)
    for problem in first.problems:
        fail(*problem)
    if first.errors:
        return failures
    # A restorer's second run monitors every SPARSE_MONITOR iterations instead of every one: the
    # same seed must give the same result whatever the monitor interval.
    sparse = method.kind == "restorer"
    again_runs = [(p, d, {**o, "monitor_every": SPARSE_MONITOR}) for p, d, o in runs] if sparse else runs
    again = _run(registry, method, again_runs, params, budget, device)
    differ = [label for label, metrics in first.quality.items() if again.quality.get(label) != metrics]
    third = _run(registry, method, runs, params, budget, device) if differ and sparse else again
    for label in differ:
        if third.quality.get(label) == first.quality[label]:  # the same interval repeats: monitoring differs
            fail(
                "monitoring",
                f"{label}: monitor_every 1 gave {first.quality[label]}, monitor_every {SPARSE_MONITOR} gave "
                f"{again.quality.get(label)}: make the monitored output inside ctx.monitor(i, lambda: ...) so the "
                "host restores the random state around it",
            )
        else:
            fail("reproducible", f"{label}: seed {SEED} gave {first.quality[label]}, then {third.quality.get(label)}")
    _check_budget_used(method, budget, first.calls, fail)
    _check_fractional(registry, method, runs, params, budget, device, fail)
    if method.kind == "classifier":
        _check_labels_held(_run(registry, method, _budgeted_run(), params, budget, device), fail)
    return failures


def _check_fractional(registry: Registry, method: Method, runs, params: dict, budget: dict, device: str, fail) -> None:
    """A method declaring a float budget takes fractions (smoke runs scale it, ``epochs: 2.5``):
    its first run again at budget_scale 0.5, through the host's scaling."""
    if not any(isinstance(v, float) for v in budget.values()):
        return  # integer budgets stay integers under any budget_scale
    scaled = dict(Budget(budget).scaled(FRACTIONAL_SCALE))
    half = _run(registry, method, runs[:1], params, budget, device, budget_scale=FRACTIONAL_SCALE)
    for error in half.errors:
        fail("fractional budget", f"at budget_scale {FRACTIONAL_SCALE} (budget {scaled}): {error}")
    for problem in half.problems:
        fail(*problem)
    _check_budget_used(method, scaled, half.calls, fail)


def _budgeted_run() -> list[tuple[str, str, dict]]:
    return [("classify", CHECK_IMAGES, {"eval_batch_size": 64, **LABEL_BUDGET})]


def _check_labels_held(budgeted: _Outcome, fail) -> None:
    """A classify run under the label budget handed over the budgeted labels and nothing else."""
    for error in budgeted.errors:
        fail("label budget", error)
    expected = LABEL_BUDGET["labels"] * 4
    for call in budgeted.calls:
        if call.labels != expected:
            fail("label budget", f"train() could reach {call.labels} labels under labels: 8 x 4 classes ({expected})")
        if call.pool:
            fail("label budget", f"the unlabelled pool {call.pool}")


def _check_params_declared(method: Method, fail) -> dict | None:
    """The params the tiny runs use (defaults, then ``check_params``), or None when a
    declaration does not hold (the params' own defaults were checked when the plugin registered)."""
    declarations = declared(method.params)
    ok = True
    for key, value in method.check_params.items():
        problem = declarations[key].check(value)
        if problem:
            fail("registration", f"check_params {key!r}: {problem}")
            ok = False
    return dict(method.check_params) if ok else None


def _check_budget(method: Method) -> dict:
    """The smallest budget: integers 1 (restorers: at most 3 iterations), floats at most 1.0;
    then the method's ``check_budget``."""
    few = 3 if method.kind == "restorer" else 1
    smallest = {k: min(v, few) if isinstance(v, int) else min(v, 1.0) for k, v in method.budget.items()}
    return {**smallest, **method.check_budget}


def _changed(method: Method, params: dict) -> dict:
    """``params`` with every other param moved to another allowed value where one is found."""
    out = dict(params)
    for key, param in declared(method.params).items():
        if key in out:
            continue
        for value in _alternatives(param.default, param.choices):
            if value != param.default and param.check(value) is None:
                out[key] = value
                break
    return out


def _alternatives(default: Any, choices) -> list:
    if choices:
        return list(choices)
    if isinstance(default, bool):
        return [not default]
    if isinstance(default, int):
        return [default + 1, default - 1]
    if isinstance(default, float):
        return [default * 2, default / 2, default + 1.0, default - 1.0] if default else [1.0, 0.5, -1.0]
    return []


def _check_budget_used(method: Method, budget: dict, calls: list, fail) -> None:
    if method.kind == "restorer":
        limit = max((v for v in budget.values() if isinstance(v, int)), default=None)
        for call in calls:
            if limit is not None and call.steps > limit:
                fail(
                    "budget",
                    f"{call.name}() made {call.steps} ctx.step calls for one image at a budget of "
                    f"{budget} (at most {limit})",
                )
        return
    if "epochs" in budget:
        # Within budget: at most ceil(epochs) passes of ctx.epochs, or (a method whose ctx.epochs
        # loop counts rounds, as ICN's) at most ceil(epochs) times the data in ctx.step images.
        limit = math.ceil(budget["epochs"])
        for call in calls:
            if call.name in ("train", "pretrain") and call.epochs > limit and call.images > limit * call.data:
                fail(
                    "budget",
                    f"{call.name}() ran {call.epochs} epochs over {call.images} images at a budget of "
                    f"{budget['epochs']} epochs of {call.data} images",
                )


def _runs(method: Method) -> list[tuple[str, str, dict]]:
    if method.kind == "classifier":
        return [("classify", CHECK_IMAGES, {"eval_batch_size": 64})]
    if method.kind == "representation":
        return [
            ("knn", CHECK_IMAGES, {"k": 5, "eval_batch_size": 64}),
            ("knn", CHECK_IMAGES, {"k": 5, "eval_batch_size": 64, "weights": "random"}),
        ]
    assert isinstance(method, Restorer), f"a method of kind {method.kind!r}"
    return [
        ("restore", CHECK_RESTORE, {"task": task, "monitor_every": 1, **_RESTORE_OPTIONS[task]})
        for task in method.restorations
    ]


# -- running through the host ----------------------------------------------------------------------


@dataclass
class _Call:
    name: str
    params: dict
    budget: dict
    steps: int
    epochs: int
    images: int = 0
    data: int = 0
    labels: int = 0  # labels a classifier's train() could reach through its data
    pool: str = ""  # what is wrong with its unlabelled pool ("" when nothing)


@dataclass
class _Outcome:
    calls: list[_Call] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)
    quality: dict[str, dict] = field(default_factory=dict)


def _run(
    registry: Registry,
    method: Method,
    runs,
    params: dict,
    budget: dict,
    device: str,
    stop: bool = False,
    budget_scale: float = 1.0,
) -> _Outcome:
    from bench.session import plan_suite

    outcome = _Outcome()
    spied = _spy(method, outcome, stop)
    checking = _with_check_data(registry, spied)
    with tempfile.TemporaryDirectory(prefix="bench-check-") as tmp:
        root = Path(tmp)
        suite_path = root / "check.yaml"
        text = {
            "name": "check",
            "seeds": [SEED],
            "device": device,
            "budget_scale": budget_scale,
            "runs": [
                {
                    "datasets": dataset,
                    "protocol": {"name": protocol, **options},
                    "methods": [{"name": method.name, "params": params, "budget": budget}],
                }
                for protocol, dataset, options in runs
            ],
        }
        # Through JSON first: tuples become lists, which YAML writes plainly.
        suite_path.write_text(yaml.safe_dump(json.loads(json.dumps(text))))
        try:
            planned = plan_suite(suite_path, registry=checking, results_dir=root / "results")
        except Exception as exc:  # the suite loader's one-line problems
            outcome.errors.append(f"the check suite does not load: {exc}")
            return outcome
        planned.run(root / "data", progress=Progress(quiet=True))
        for spec in planned.specs:
            record = planned.store.read(spec)
            what = spec.protocol_options.get("task" if spec.protocol == "restore" else "weights")
            label = f"{spec.protocol} {what}" if what else spec.protocol
            if record is None or not record.ok:
                error = record.error if record is not None else None
                if not (stop and "_Stop" in str(error)):
                    outcome.errors.append(f"{label}: the run failed: {error.message if error else 'no record'}")
                continue
            outcome.quality[label] = {
                k: v for k, v in record.metrics.items() if record.metric_info.get(k, {}).get("kind") == "quality"
            }
    return outcome


def _spy(method: Method, outcome: _Outcome, stop: bool) -> Method:
    """The method with each callable wrapped: what its context held and counted, and whether its
    result is what the contract says."""

    def wrap(name: str, fn):
        def spy(data, ctx):
            if stop:
                outcome.calls.append(_Call(name, dict(ctx.params), dict(ctx.budget), 0, 0))
                raise _Stop("stopped after reading ctx.params")
            result = fn(data, ctx)
            book = bookkeeping(ctx)
            outcome.calls.append(
                _Call(
                    name,
                    dict(ctx.params),
                    dict(ctx.budget),
                    book.steps,
                    book.epochs,
                    book.images,
                    _size(data),
                    *_labels_reached(data),
                )
            )
            problem = _result_problem(method, name, data, ctx, result)
            if problem:
                outcome.problems.append(("returns", problem))
            return result

        return spy

    fields = {"classifier": ("train",), "representation": ("build", "pretrain"), "restorer": ("restore",)}[method.kind]
    return dataclasses.replace(method, **{f: wrap(f, getattr(method, f)) for f in fields})


def _labels_reached(data) -> tuple[int, str]:
    """(labels reachable through a classifier's TrainData, a problem with its pool or "")."""
    if not hasattr(data, "unlabelled"):
        return 0, ""
    labels = len(data.train.labels) + (len(data.val.labels) if data.val is not None else 0)
    pool = data.unlabelled
    if not isinstance(pool, torch.Tensor) or pool.dtype != torch.uint8:
        return labels, f"is {type(pool).__name__} {getattr(pool, 'dtype', '')}, expected a uint8 image tensor"
    return labels, ""


def _size(data) -> int:
    """How many training images a call was given (0 for one image or a shape)."""
    if hasattr(data, "train"):
        return len(data.train)
    return len(data) if hasattr(data, "images") else 0


def _result_problem(method: Method, name: str, data, ctx, result) -> str | None:
    if name in ("train", "build", "pretrain") and not isinstance(result, torch.nn.Module):
        return f"{name}() returned {type(result).__name__}, expected a torch.nn.Module"
    if name == "pretrain":
        assert isinstance(method, RepresentationLearner), "only a representation learner pre-trains"
        fresh = method.build(data.image_shape, ctx)
        try:
            fresh.load_state_dict(result.state_dict())
        except Exception as exc:
            return f"pretrain() returned an encoder that build()'s architecture cannot load: {str(exc).splitlines()[0]}"
    if name == "restore":
        if not isinstance(result, torch.Tensor) or not result.is_floating_point():
            got = result.dtype if isinstance(result, torch.Tensor) else type(result).__name__
            return f"restore() returned {got}, expected a float tensor (C, H, W)"
    return None


def _with_check_data(registry: Registry, method: Method) -> Registry:
    """The registry with the synthetic datasets and ``method`` (spied on) in place of its entry."""
    datasets = {
        **registry.datasets,
        CHECK_IMAGES: DatasetSpec(
            CHECK_IMAGES,
            "classification",
            _images,
            num_classes=4,
            image_shape=(3, 16, 16),
            description="bench check: 4 classes of 3x16x16 synthetic images",
        ),
        CHECK_RESTORE: DatasetSpec(
            CHECK_RESTORE,
            "restoration",
            _restore_images,
            splits=("test",),
            description="bench check: one small synthetic image with a mask",
        ),
    }
    host = PluginInfo("bench.check", "bench", "")
    owner = {**registry.owner, ("dataset", CHECK_IMAGES): host, ("dataset", CHECK_RESTORE): host}
    methods = {**registry.methods, method.name: method}
    return dataclasses.replace(registry, datasets=datasets, methods=methods, owner=owner)


def _images(split: str, store) -> LabelledImages:
    """4 classes, each a bright quadrant in one colour plus noise: learnable in a few steps."""
    n = {"train": 96, "test": 32}[split]
    g = torch.Generator().manual_seed(0 if split == "train" else 1)
    labels = torch.arange(n) % 4
    images = torch.randint(0, 60, (n, 3, 16, 16), generator=g)
    for c in range(4):
        r, q = divmod(c, 2)
        images[labels == c, c % 3, 8 * r : 8 * r + 8, 8 * q : 8 * q + 8] += 150
    return LabelledImages(images.clamp(0, 255).to(torch.uint8), labels, ("a", "b", "c", "d"))


def _restore_images(split: str, store) -> ImageSet:
    """One smooth 3x24x20 image (sizes that are not powers of two) and its inpainting mask."""
    y = torch.linspace(0, 1, 24)[:, None]
    x = torch.linspace(0, 1, 20)[None, :]
    planes = [torch.sin(2 * math.pi * (a * y + b * x)) for a, b in ((1.0, 0.5), (0.5, 1.5), (1.5, 1.0))]
    image = (110 + 80 * torch.stack(planes)).round().to(torch.uint8)
    mask = torch.ones(1, 24, 20, dtype=torch.uint8)
    mask[:, 8:12, 4:16] = 0
    return ImageSet("check", [RestorationImage("check", image, mask)])
