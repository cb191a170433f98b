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
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:  # pragma: no cover - annotations only: this module imports nothing else from the host
    from bench.progress import Progress
    from bench.records import ResultStore
    from bench.registry import Registry
    from bench.runner import SuiteOutcome
    from bench.suite import RunSpec

#: Tasks a dataset can serve. Methods declare which of them they support.
TASKS = ("classification", "restoration")

#: Method kinds, each evaluated by a host-owned protocol (see ``bench.protocols``):
#: - classifier: ``fit(data, ctx) -> model``; the model maps normalised images to logits.
#: - representation: ``fit(unlabelled, ctx) -> encoder``; the encoder maps normalised images to
#:   features and is evaluated by the host's linear-probe, k-NN and fine-tune protocols.
#: - restorer: ``fit(problem, ctx) -> image`` restores one degraded image at a time (``restore``).
METHOD_KINDS = ("classifier", "representation", "restorer")

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
    (None: the end of the budget or unstated). The runner copies a method's numbers for the run's
    dataset into each record, so reports need only the records.
    """

    dataset: str
    metric: str
    value: float
    setting: str = ""
    protocol: str = ""
    source: str = ""
    note: str = ""
    epoch: int | None = None

    def __post_init__(self) -> None:
        if self.epoch is not None and (isinstance(self.epoch, bool) or not isinstance(self.epoch, int) or self.epoch < 0):
            raise ValueError(f"published {self.dataset}/{self.metric}: epoch must be a non-negative integer or None, got {self.epoch!r}")
        if isinstance(self.value, bool) or not isinstance(self.value, (int, float)) or not math.isfinite(self.value):
            raise ValueError(f"published {self.dataset}/{self.metric}: value must be a finite number, got {self.value!r}")

    def to_dict(self) -> dict:
        return {"dataset": self.dataset, "metric": self.metric, "value": self.value, "setting": self.setting,
                "protocol": self.protocol, "source": self.source, "note": self.note, "epoch": self.epoch}


@dataclass(frozen=True)
class MethodSpec:
    """A method a plugin provides.

    ``kind`` says which host protocol evaluates it (see :data:`METHOD_KINDS`); for a
    ``classifier``, ``fit(data, ctx)`` trains on ``data.train`` (choices may use ``data.val``,
    never the test split) and returns a ``torch.nn.Module`` mapping a normalised float batch
    (N, C, H, W) on ``ctx.device`` to logits (N, num_classes). For a ``restorer``,
    ``fit(problem, ctx)`` restores one image (:class:`bench.Problem`, :class:`bench.RestoreContext`)
    and returns it as float (C, H, W) in [0, 1]; ``restorations`` lists the degradations it
    handles (``"denoise"``, ``"sr"``, ``"inpaint"``).

    A ``representation`` method implements two callables:

    - ``build(image_shape, ctx)`` returns the encoder with fresh random weights (seeded by the
      host): a ``torch.nn.Module`` mapping a normalised float batch (N, C, H, W) on ``ctx.device``
      to features (N, D). The host uses it for the random-weight control and to rebuild a saved
      encoder (``load_state_dict``), so the encoder's state dict must hold everything it needs.
    - ``fit(data, ctx)`` pre-trains on :class:`bench.PretrainData` (images only: labels are never
      given to a representation method) and returns an encoder of the architecture ``build``
      makes, in eval mode.

    ``feature_params`` names the params that change only how features are read out (a block, a
    noise level), not the pre-training: runs differing only in them share one saved encoder.

    ``published`` lists reference numbers (:class:`bench.Published`) that reports show beside
    ours, e.g. the paper's PSNR on Set5 at x2.

    ``budget`` holds the full (paper) budget, e.g. ``{"epochs": 10}``: every value is a positive
    number that a suite may override (with a value of the same type: an integer budget takes
    integers) and that smoke runs scale down. ``params`` holds the hyper-parameters: each a plain
    default (its type is taken from the default) or a :class:`bench.Param` that also declares the
    allowed values (choices, a range) and a line of help; suites are checked against them when
    they load.
    """

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
        for item in self.published:
            if not isinstance(item, Published):
                raise ValueError(f"method {self.name!r}: published entries must be bench.Published, got {item!r}")
        if self.kind not in METHOD_KINDS:
            raise ValueError(f"method {self.name!r}: kind {self.kind!r} is not one of {METHOD_KINDS}")
        if self.kind == "representation" and self.build is None:
            raise ValueError(f"method {self.name!r}: a representation method needs build(image_shape, ctx), "
                             "which makes its encoder with random weights")
        unknown = [p for p in self.feature_params if p not in self.params]
        if unknown:
            raise ValueError(f"method {self.name!r}: feature_params {unknown} are not among its params")
        for key, value in self.budget.items():
            if (isinstance(value, bool) or not isinstance(value, (int, float))
                    or not 0 < value <= MAX_BUDGET):  # NaN fails this too
                raise ValueError(
                    f"method {self.name!r}: budget {key!r} must be a positive number up to {MAX_BUDGET:.0e}, got {value!r}"
                )
        for key in self.params:
            if not isinstance(key, str):
                raise ValueError(f"method {self.name!r}: parameter names must be text, got {key!r}")


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

    def scaled(self, factor: float) -> "Budget":
        """Every value times ``factor``; integers stay integers, rounded up and at least 1 (so at
        budget_scale 0.1 an integer ``epochs: 1`` stays 1, and ``epochs: 15`` becomes 2)."""
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not 0 < factor < math.inf:
            raise ValueError(f"budget scale must be a positive finite number, got {factor!r}")
        out = {}
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
            raise ValueError(f"executor name {self.name!r} is not valid: use lower-case letters, digits, '.', '_' or '-'")
        if not callable(self.make):
            raise ValueError(f"executor {self.name!r}: make must be callable (options -> Executor)")

    def missing(self) -> list[str]:
        """The required modules that cannot be imported here."""
        return [m for m in self.requires if importlib.util.find_spec(m) is None]
