"""What a plugin registers: dataset, method and executor specifications (and the executor
base class and the job an executor receives).

These are plain declarations in a leaf module: it imports nothing else from the host, so any
host module may import it without a cycle. The host reads them to validate suites, list plugins
and run methods; it never needs to know a plugin by name.
"""

from __future__ import annotations

import importlib.util
import math
import re
import warnings
from collections.abc import Callable, Mapping
from dataclasses import KW_ONLY, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:  # pragma: no cover - annotations only: this module imports nothing else from the host
    import torch

    from bench.context import PretrainData, RunContext, TrainData
    from bench.progress import Progress
    from bench.records import ResultStore
    from bench.registry import Registry
    from bench.restoration.context import RestoreContext
    from bench.restoration.degrade import Problem
    from bench.runner import SuiteOutcome
    from bench.suite import RunSpec

#: Tasks a dataset can serve. Methods declare which of them they support.
TASKS = ("classification", "restoration")

#: Method kinds, each evaluated by a host-owned protocol (see ``bench.protocols``) and each
#: declared with its own contract: :class:`Classifier`, :class:`RepresentationLearner`,
#: :class:`Restorer`.
METHOD_KINDS = ("classifier", "representation", "restorer")

#: The degradations the host makes for restorers (``bench.restoration.degrade``).
RESTORATIONS = ("denoise", "sr", "inpaint")

# Names become folders of the results (<suite>/<dataset>/<method>/): one short path component.
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")

#: The largest budget a method declares or a suite asks for (after budget_scale): beyond it a
#: budget is a typo (or an overflow), not a plan.
MAX_BUDGET = 1e9


def _check_name(kind: str, name: str) -> None:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(
            f"{kind} name {name!r} is not valid: use at most 100 lower-case letters, digits, '.', '_' or '-'"
        )


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset a plugin provides.

    Implement ``load(split, store)``: return the split (``"train"`` or ``"test"``) as
    :class:`bench.LabelledImages` with uint8 images (classification), or as a
    :class:`bench.ImageSet` of clean images at their own sizes (restoration sets, split
    ``"test"``). Fetch files only through ``store.fetch(remote_file)``, which downloads (or finds
    in a mirror), verifies and records them. ``num_classes`` and ``image_shape`` are required for
    classification and None for restoration sets.
    """

    name: str
    task: str
    load: Callable[[str, Any], Any]
    num_classes: int | None = None
    image_shape: tuple[int, int, int] | None = None  # (C, H, W)
    description: str = ""
    citation: str = ""
    splits: tuple[str, ...] = ("train", "test")

    def __post_init__(self) -> None:
        _check_name("dataset", self.name)
        if self.task not in TASKS:
            raise ValueError(f"dataset {self.name!r}: task {self.task!r} is not one of {TASKS}")
        if self.task == "classification" and (self.num_classes is None or self.image_shape is None):
            raise ValueError(f"dataset {self.name!r}: a classification set needs num_classes and image_shape")


@dataclass(frozen=True)
class Published:
    """A number the method's paper (or another named source) reports, shown beside ours in reports.

    ``dataset`` and ``metric`` use our names (``"set5"``, ``"psnr"``, ``"test_accuracy"``);
    ``setting`` is the restoration table it belongs to as reports name it (``"sr x2"``,
    ``"denoise sigma 25"``), empty for classification; ``protocol`` restricts it to one protocol
    (``"linear_probe"``), empty for any. ``source`` says where the number comes from and ``note``
    what differs from our runs (hardware, architecture, budget). For the representation
    protocols ``setting`` names the recipe or probe setting the number belongs to (``"recipe
    mae-cifar-reimpl"``), and ``epoch`` the pre-training epoch of the checkpoint it was measured on
    (None: the end of the budget or unstated). ``weights`` says which of a representation
    protocol's rows it belongs beside: ``"pretrained"``, ``"random"`` (a from-scratch or
    random-weight number, beside the control) or ``""`` (any). The runner copies the numbers that
    :meth:`applies_to` a run into its record, so reports need only the records.
    """

    dataset: str
    metric: str
    value: float
    setting: str = ""
    protocol: str = ""
    source: str = ""
    note: str = ""
    epoch: int | None = None
    weights: str = ""

    def __post_init__(self) -> None:
        if self.weights not in ("", "pretrained", "random"):
            raise ValueError(
                f"published {self.dataset}/{self.metric}: weights must be '', 'pretrained' or 'random', "
                f"got {self.weights!r}"
            )
        if self.epoch is not None and (
            isinstance(self.epoch, bool) or not isinstance(self.epoch, int) or self.epoch < 0
        ):
            raise ValueError(
                f"published {self.dataset}/{self.metric}: epoch must be a non-negative integer or None, got {self.epoch!r}"
            )
        if isinstance(self.value, bool) or not isinstance(self.value, (int, float)) or not math.isfinite(self.value):
            raise ValueError(
                f"published {self.dataset}/{self.metric}: value must be a finite number, got {self.value!r}"
            )

    def to_dict(self) -> dict:
        return {
            "dataset": self.dataset,
            "metric": self.metric,
            "value": self.value,
            "setting": self.setting,
            "protocol": self.protocol,
            "source": self.source,
            "note": self.note,
            "epoch": self.epoch,
            "weights": self.weights,
        }

    def applies_to(self, dataset: str, protocol: str, options: Mapping[str, Any], setting: str | None = None) -> bool:
        """Whether this number sits beside a run of ``protocol`` with ``options`` on ``dataset``:
        same dataset, the protocol (or any) and, when it says, the same weights (pre-trained or
        the random-weight control); with ``setting`` (a report's table, ``sr x4``), that setting
        too. The runner asks without one: a record carries the numbers of every setting."""
        return (
            self.dataset == dataset
            and self.protocol in ("", protocol)
            and self.weights in ("", options.get("weights", "pretrained"))
            and (setting is None or self.setting == setting)
        )


@dataclass(frozen=True)
class Method:
    """What every method declares, whatever its kind: the base of the three contracts
    (:class:`Classifier`, :class:`RepresentationLearner`, :class:`Restorer`). Register one of
    those, never this class itself.

    Fields every kind shares (keywords only):

    - ``budget``: the full (paper) budget, e.g. ``{"epochs": 10}`` or ``{"iterations": 3000}``;
      every value a positive number. A suite may override a value (with one of the same type: an
      integer budget takes integers) and ``budget_scale`` scales it (integers stay integers, at
      least 1). The method reads the resolved budget as ``ctx.budget`` and must not do more.
    - ``params``: hyper-parameters, each a plain default (its type is taken from it) or a
      :class:`bench.Param` that also declares the allowed values (choices, a range) and a line of
      help. Suites are checked against them when they load; the method reads the resolved values
      as ``ctx.params`` (every key present).
    - ``description``, ``citation``: one line each, shown by ``bench plugins``.
    - ``published``: reference numbers (:class:`bench.Published`) reports show beside ours.
    - ``check_params`` / ``check_budget``: the params and budget ``bench check`` runs the method
      at (default: its params, and every budget value at its smallest: integers 1 (a restorer's at
      most 3), floats at most 1.0). A method whose defaults are too heavy for a few seconds on a
      CPU gives smaller ones.
    - ``validate_params``: rules across params that their declarations cannot state (a DDAE
      ``block`` its UNet has, a ``timestep`` up to ``T``): a function of the full params that
      returns the problem in one line, or None. Suites are checked with it when they load, for
      every grid combination and feature-sweep value, so a bad value fails before anything runs.

    Every call gets a context (:class:`bench.RunContext` or :class:`bench.RestoreContext`) with
    the same vocabulary: ``device``, ``seed``, ``generator`` (a seeded ``torch.Generator`` on the
    device: draw all the method's randomness from it or from torch's global RNG, which the host
    seeds with ``seed`` before every call), ``params``, ``budget``, ``progress``,
    ``prepare(model)`` / ``layout(x)`` / ``autocast()`` (the suite's precision, memory-format and
    compile switches), ``step(loss=None, n=0)`` once per optimisation step, ``log(**scalars)``
    for the method's own curves and ``measure`` / ``timed`` for rates of its own work.
    """

    name: str
    _: KW_ONLY
    budget: Mapping[str, int | float] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    citation: str = ""
    published: tuple[Published, ...] = ()
    check_params: Mapping[str, Any] = field(default_factory=dict)
    check_budget: Mapping[str, int | float] = field(default_factory=dict)
    validate_params: Callable[[Mapping[str, Any]], str | None] | None = None

    #: The kind (which protocols evaluate it) and the dataset tasks it serves: set by the contract.
    kind: ClassVar[str] = ""
    tasks: ClassVar[tuple[str, ...]] = ()
    #: The callables the contract requires, each as (field, signature) for error messages.
    _callables: ClassVar[tuple[tuple[str, str], ...]] = ()

    def __post_init__(self) -> None:
        if type(self) is Method:
            raise TypeError(
                "register a bench.Classifier, bench.RepresentationLearner or bench.Restorer, not bench.Method"
            )
        _check_name("method", self.name)
        where = f"{type(self).__name__} {self.name!r}"
        for name, signature in self._callables:
            if not callable(getattr(self, name)):
                raise ValueError(f"{where}: field {name!r} must be a function {signature}, got {getattr(self, name)!r}")
        for key in ("restorations", "feature_params", "published"):
            value = getattr(self, key, ())
            if isinstance(value, str) or not isinstance(value, (tuple, list)):
                raise ValueError(f"{where}: field {key!r} must be a tuple, got {value!r}")
            object.__setattr__(self, key, tuple(value))
        for item in self.published:
            if not isinstance(item, Published):
                raise ValueError(f"{where}: field 'published' holds bench.Published entries, got {item!r}")
        if self.validate_params is not None and not callable(self.validate_params):
            raise ValueError(f"{where}: field 'validate_params' must be a function (params) -> problem or None")
        for key in ("budget", "params", "check_params", "check_budget"):
            if not isinstance(getattr(self, key), Mapping):
                raise ValueError(f"{where}: field {key!r} must be a dict, got {getattr(self, key)!r}")
        for key in self.params:
            if not isinstance(key, str):
                raise ValueError(f"{where}: field 'params': parameter names must be text, got {key!r}")
        for label, budget in (("budget", self.budget), ("check_budget", self.check_budget)):
            for key, value in budget.items():
                if (
                    isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= MAX_BUDGET
                ):  # NaN fails this too
                    raise ValueError(
                        f"{where}: field {label!r}: {key!r} must be a positive number up to "
                        f"{MAX_BUDGET:.0e}, got {value!r}"
                    )
        for label, keys, known in (
            ("feature_params", getattr(self, "feature_params", ()), self.params),  # a kind without them has none
            ("check_params", self.check_params, self.params),
            ("check_budget", self.check_budget, self.budget),
        ):
            unknown = [k for k in keys if k not in known]
            if unknown:
                owner = "budget" if label == "check_budget" else "params"
                raise ValueError(f"{where}: field {label!r} names {unknown}, which are not in its {owner}")


@dataclass(frozen=True)
class Classifier(Method):
    """A method that trains a classifier: ``Classifier(name, train, budget=..., params=...)``.

    Implement ``train(data, ctx) -> torch.nn.Module``:

    - ``data`` (:class:`bench.TrainData`): ``data.train`` and ``data.val`` (None when the protocol
      holds out nothing) are :class:`bench.LabelledImages` on ``ctx.device``: ``images`` uint8
      (N, C, H, W), ``labels`` int64 (N,); ``data.num_classes``; ``data.unlabelled`` the
      unlabelled pool, uint8 images (N, C, H, W) only. Under the protocol's label budget
      (``labels``) ``train`` and ``val`` hold the budgeted labels only: the method never handles a
      budget itself. Choices may use ``val``; the test split is never given.
    - ``ctx`` (:class:`bench.RunContext`): ``ctx.batches(data.train, batch_size, augment=...)``
      yields (normalised float32 (B, C, H, W), labels (B,)) in the seeded order;
      ``ctx.view_batches(data.unlabelled, batch_size, (weak, strong))`` several augmented views of
      each unlabelled batch, ``ctx.endless_batches(data.train, batch_size)`` labelled batches
      without end (semi-supervised methods);
      ``for epoch in ctx.epochs(n)`` times each epoch and shows progress (``n`` from
      ``ctx.budget``; a fractional epoch budget is the method's to round or to stop part-way);
      ``ctx.step(loss, n=batch)`` (or ``ctx.optimize(loss, optimizer)``) counts each step and its
      images, which the host turns into train images/s.
    - Return a module mapping a normalised float batch (N, C, H, W) on ``ctx.device`` to logits
      (N, num_classes). The host then puts it in eval mode, scores top-1 accuracy on the test split
      (and val) and times inference; the ``classify`` protocol evaluates it.
    """

    train: Callable[[TrainData, RunContext], torch.nn.Module]

    kind: ClassVar[str] = "classifier"
    restorations: ClassVar[tuple[str, ...]] = ()
    feature_params: ClassVar[tuple[str, ...]] = ()
    tasks: ClassVar[tuple[str, ...]] = ("classification",)
    _callables: ClassVar[tuple[tuple[str, str], ...]] = (
        ("train", "(data: bench.TrainData, ctx: bench.RunContext) -> nn.Module"),
    )


@dataclass(frozen=True)
class Setting:
    """A named setting of a representation protocol, registered by a method: a fine-tune recipe
    (``RepresentationLearner(recipes={name: Setting(...)})``, which a suite names as the finetune
    protocol's ``recipe``) or a linear-probe setting (``probes=``, the ``probe`` option).

    ``options``: the protocol options it sets, checked against the protocol's declarations when a
    suite names it; the suite's ``overrides: {option: value}`` changes some of them. ``missing``:
    what of the original the host does not do, one line each, written into the record. ``source``:
    where it comes from (the script and command it follows), shown by ``bench plugins NAME``.
    """

    options: Mapping[str, Any] = field(default_factory=dict)
    missing: tuple[str, ...] = ()
    source: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.options, Mapping) or not all(isinstance(k, str) for k in self.options):
            raise ValueError(f"Setting: options must be a dict of protocol options, got {self.options!r}")
        if isinstance(self.missing, str) or not all(isinstance(m, str) for m in self.missing):
            raise ValueError(f"Setting: missing must be a tuple of lines, got {self.missing!r}")
        object.__setattr__(self, "missing", tuple(self.missing))


@dataclass(frozen=True)
class RepresentationLearner(Method):
    """A method that learns features without labels:
    ``RepresentationLearner(name, build, pretrain, feature_params=(), budget=..., params=...)``.

    Implement two functions:

    - ``build(image_shape, ctx) -> torch.nn.Module``: the encoder with fresh random weights (the
      host seeds torch before the call). ``image_shape`` is (C, H, W). The encoder maps a
      normalised float32 batch (N, C, H, W) on ``ctx.device`` to features (N, D). The host calls
      it for the random-weight control and to rebuild a saved encoder (``load_state_dict``), so the
      state dict must hold everything the encoder needs.
    - ``pretrain(data, ctx) -> torch.nn.Module``: pre-train on :class:`bench.PretrainData`
      (``data.images`` uint8 (N, C, H, W) on ``ctx.device``; labels are never given) and return an
      encoder of the architecture ``build`` makes. ``ctx`` is a :class:`bench.RunContext`:
      ``ctx.image_batches(data.images, batch_size, augment=...)`` yields normalised float batches
      in the seeded order, ``ctx.epochs(n)`` / ``ctx.step(loss, n=batch)`` as for a classifier
      (fractional epochs: the method stops part-way through the last one).

    The host saves the pre-trained encoder beside the records and evaluates it by the linear-probe,
    k-NN and fine-tune protocols (features read in eval mode, under ``ctx.autocast``).
    ``feature_params`` names the params that change only how features are read out (a block, a
    noise level), not the pre-training: runs differing only in them share one saved encoder, and a
    protocol's ``feature_sweep`` may choose among their values.

    ``recipes`` and ``probes`` (keywords): the named :class:`Setting` s of the finetune protocol
    (``recipe``) and the linear probe (``probe``) a suite may name for this method, beside the
    host's neutral ``bench`` recipe and ``cached`` probe: an official script's settings, say.
    """

    build: Callable[[tuple[int, int, int], RunContext], torch.nn.Module]
    pretrain: Callable[[PretrainData, RunContext], torch.nn.Module]
    feature_params: tuple[str, ...] = ()
    recipes: Mapping[str, Setting] = field(default_factory=dict, kw_only=True)
    probes: Mapping[str, Setting] = field(default_factory=dict, kw_only=True)

    kind: ClassVar[str] = "representation"
    restorations: ClassVar[tuple[str, ...]] = ()
    tasks: ClassVar[tuple[str, ...]] = ("classification",)
    _callables: ClassVar[tuple[tuple[str, str], ...]] = (
        ("build", "(image_shape: tuple, ctx: bench.RunContext) -> nn.Module"),
        ("pretrain", "(data: bench.PretrainData, ctx: bench.RunContext) -> nn.Module"),
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        for key in ("recipes", "probes"):
            settings = getattr(self, key)
            if not isinstance(settings, Mapping):
                raise ValueError(f"RepresentationLearner {self.name!r}: field {key!r} must be a dict, got {settings!r}")
            for name, setting in settings.items():
                _check_name(f"method {self.name!r}: {key[:-1]}", name)  # records and reports name it
                if not isinstance(setting, Setting):
                    raise ValueError(
                        f"RepresentationLearner {self.name!r}: field {key!r}: {name!r} must be a bench.Setting, "
                        f"got {setting!r}"
                    )


@dataclass(frozen=True)
class Restorer(Method):
    """A method that restores one degraded image at a time:
    ``Restorer(name, restore, restorations, budget=..., params=...)``.

    ``restorations`` lists the degradations it handles, some of ``"denoise"``, ``"sr"`` (super-
    resolution), ``"inpaint"``. Implement ``restore(problem, ctx) -> torch.Tensor``:

    - ``problem`` (:class:`bench.Problem`): ``problem.task``; ``problem.observed`` the degraded
      image, float32 (C, h, w) on ``ctx.device`` (values in [0, 1], noisy ones outside it);
      ``problem.sigma`` (denoise: the noise level, in the unit :class:`bench.Problem` states),
      ``problem.scale`` (sr; the output is ``scale`` times larger), ``problem.mask`` (inpaint:
      float (1, H, W), 1 where known). The clean image is never given.
    - ``ctx`` (:class:`bench.RestoreContext`): ``for i in ctx.iterations(ctx.budget.iterations)``
      (the host times this loop; the method may stop early), ``ctx.step(loss)`` once per
      iteration, ``if ctx.should_monitor(i): ctx.monitor(i, output)`` lets the host score an
      intermediate output against the clean image for the curve (the method never sees the value;
      the time is not counted), ``ctx.log(**scalars)`` adds the method's own scalars at the current
      iteration.
    - Return the restored image, float (C, H, W) at the clean image's size, values in [0, 1]
      (the host clips and rounds to uint8 before scoring).

    Around the calls, the ``restore`` protocol first makes one untimed warm-up call on a small crop
    at the smallest budget (every budget value 1), then one timed call per image (synchronized,
    monitoring excluded), the host seeding torch with ``ctx.seed`` before each.
    """

    restore: Callable[[Problem, RestoreContext], torch.Tensor]
    restorations: tuple[str, ...] = ()

    kind: ClassVar[str] = "restorer"
    feature_params: ClassVar[tuple[str, ...]] = ()
    tasks: ClassVar[tuple[str, ...]] = ("restoration",)
    _callables: ClassVar[tuple[tuple[str, str], ...]] = (
        ("restore", "(problem: bench.Problem, ctx: bench.RestoreContext) -> Tensor"),
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.restorations or any(r not in RESTORATIONS for r in self.restorations):
            raise ValueError(
                f"Restorer {self.name!r}: field 'restorations' must list what it restores, some of "
                f"{RESTORATIONS}, got {self.restorations!r}"
            )


#: The contract of each kind.
CONTRACTS: dict[str, type[Method]] = {c.kind: c for c in (Classifier, RepresentationLearner, Restorer)}


@dataclass(frozen=True)
class MethodSpec:
    """Deprecated: the single spec of bench 0.1, ``MethodSpec(name, kind, fit, ...)``. Register
    :class:`Classifier`, :class:`RepresentationLearner` or :class:`Restorer` instead. The registry
    still accepts it for this release, converts it (:meth:`contract`) and warns once per spec:
    ``fit`` becomes ``train`` (classifier), ``pretrain`` (representation) or ``restore``
    (restorer); ``tasks`` is implied by the kind."""

    name: str
    kind: str
    fit: Callable[..., Any]
    tasks: tuple[str, ...] = ("classification",)
    budget: Mapping[str, int | float] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    citation: str = ""
    restorations: tuple[str, ...] = ()
    build: Callable[..., Any] | None = None
    feature_params: tuple[str, ...] = ()
    published: tuple[Published, ...] = ()

    def __post_init__(self) -> None:
        _check_name("method", self.name)
        if self.kind not in METHOD_KINDS:
            raise ValueError(f"method {self.name!r}: kind {self.kind!r} is not one of {METHOD_KINDS}")
        self._convert()  # the new contract's checks, with the field to fix named

    def contract(self) -> Method:
        """The same method declared with its kind's contract, with a DeprecationWarning naming it."""
        new, form = self._convert()
        warnings.warn(
            f"method {self.name!r}: MethodSpec(kind={self.kind!r}, fit=...) is deprecated and will be "
            f"removed in bench 1.0; register {form} instead",
            DeprecationWarning,
            stacklevel=3,
        )
        return new

    def _convert(self) -> tuple[Method, str]:
        common: dict[str, Any] = dict(
            budget=self.budget,
            params=self.params,
            description=self.description,
            citation=self.citation,
            published=self.published,
        )
        if self.kind == "classifier":
            return Classifier(self.name, self.fit, **common), "bench.Classifier(name, train=fit, ...)"
        if self.kind == "representation":
            build: Any = self.build  # None too: the contract's own check names the missing field
            return (
                RepresentationLearner(self.name, build, self.fit, self.feature_params, **common),
                "bench.RepresentationLearner(name, build=build, pretrain=fit, ...)",
            )
        return (
            Restorer(self.name, self.fit, self.restorations, **common),
            "bench.Restorer(name, restore=fit, restorations=..., ...)",
        )


class Budget(Mapping[str, "int | float"]):
    """A method's resolved budget: read-only, with attribute access (``ctx.budget.epochs``)."""

    def __init__(self, values: Mapping[str, int | float]):
        self._values = dict(values)

    def __getitem__(self, key: str) -> int | float:
        return self._values[key]

    def __getattr__(self, key: str) -> int | float:
        try:
            return self._values[key]
        except KeyError:
            raise AttributeError(f"budget has no {key!r}; it has {sorted(self._values)}") from None

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Budget({self._values})"

    def scaled(self, factor: float) -> Budget:
        """Every value times ``factor``; integers stay integers, rounded up and at least 1 (so at
        budget_scale 0.1 an integer ``epochs: 1`` stays 1, and ``epochs: 15`` becomes 2)."""
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not 0 < factor < math.inf:
            raise ValueError(f"budget scale must be a positive finite number, got {factor!r}")
        out: dict[str, int | float] = {}
        for key, value in self._values.items():
            if isinstance(value, int):
                out[key] = max(1, math.ceil(value * factor))
            else:
                out[key] = value * factor
        return Budget(out)


# -- executors -----------------------------------------------------------------------------------


@dataclass
class Job:
    """What an executor is given: the runs of one ``bench run`` and where their records and data live.

    ``specs`` may include finished runs: an executor skips them (resume). ``data_dir`` is the
    resolved data directory and ``offline`` the resolved switch, so workers see what the driver
    sees. ``registry`` is the driver's: a worker process loads its own.
    """

    suite: str
    specs: list[RunSpec]
    registry: Registry
    store: ResultStore
    data_dir: Path
    offline: bool
    progress: Progress


class Executor:
    """How run specs get executed. Executors derive from this class and implement one method:

    ``run(job) -> SuiteOutcome``: execute ``job.specs``, skipping finished ones, so that every run
    ends with its record in ``job.store`` (status "ok", or "failed" with the error, including a
    worker that died), written atomically and exactly once; report what is queued, running, done
    and failed on ``job.progress`` (:class:`bench.executors.board.Board` does this); return
    which runs ran, failed, were skipped (finished earlier) or busy (claimed by another process).
    Run each spec through :func:`bench.executors.worker.run_spec` (on a worker) or
    :func:`bench.runner.run_specs` (in this process) so that runs are measured the same way.
    """

    def run(self, job: Job) -> SuiteOutcome:  # pragma: no cover - the contract
        raise NotImplementedError


@dataclass(frozen=True)
class ExecutorSpec:
    """An executor a plugin provides.

    ``make(options)`` returns an :class:`Executor`; ``options`` are the validated options, every
    key of ``options`` here present (a suite or ``--executor-option KEY=VALUE`` overrides the
    defaults given here). Each option is a plain default (its type is taken from it) or a
    :class:`bench.Param` declaring the values allowed, as for a method's params.
    ``requires`` names the modules the engine needs and ``install`` what to type when one is
    missing, e.g. ``("ray",)`` and ``pip install 'bench[ray]'``: the host checks them before
    anything runs. ``options_help`` says what each option means (``bench plugins`` shows it).
    """

    name: str
    make: Callable[[dict], Executor]
    options: dict = field(default_factory=dict)
    requires: tuple[str, ...] = ()
    install: str = ""
    description: str = ""
    options_help: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise ValueError(
                f"executor name {self.name!r} is not valid: use lower-case letters, digits, '.', '_' or '-'"
            )
        if not callable(self.make):
            raise ValueError(f"executor {self.name!r}: make must be callable (options -> Executor)")

    def missing(self) -> list[str]:
        """The required modules that cannot be imported here."""
        return [m for m in self.requires if importlib.util.find_spec(m) is None]
