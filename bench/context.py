"""What a method sees while it runs: device, seed, budget, params, data helpers, progress, timing.

:class:`MethodContext` is the vocabulary every kind's context shares (:class:`RunContext` for
classifiers and representation learners, :class:`bench.RestoreContext` for restorers); what the
host records while the method runs is kept apart, in a :class:`Bookkeeping` the protocols read
through :func:`bookkeeping`.
"""

from __future__ import annotations

import contextlib
import math
import statistics
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from bench.accel import PLAIN, Switches, auto_device
from bench.data.images import LabelledImages
from bench.data.loader import Augment, Normalize, iterate_batches
from bench.metric_table import Metric, is_rate
from bench.progress import Progress, format_seconds
from bench.specs import Budget
from bench.timing import mark, measure, seconds_between, summarize, synchronize


@dataclass
class TrainData:
    """What a classifier's ``train`` gets, all on ``ctx.device``; the test split is never given.

    - ``train``: the labelled training images (:class:`bench.LabelledImages`). Under the
      protocol's label budget (``labels``) only the budgeted ones: a method never holds a label
      outside the budget.
    - ``val``: the validation part (None when the protocol holds none out). Under a budget it is
      carved from the budgeted labels (``holdout`` of each class's, rounded down), never extra ones.
    - ``unlabelled``: the unlabelled pool, uint8 images (N, C, H, W) and nothing else: every
      training image but the validation part, the labelled ones included (as FixMatch and USB
      do). Without a budget it is ``train.images``. A semi-supervised method draws from it
      (``ctx.view_batches``); a supervised one ignores it.
    - ``num_classes``.
    """

    train: LabelledImages
    val: LabelledImages | None
    num_classes: int
    unlabelled: torch.Tensor | None = None

    def __post_init__(self) -> None:
        if self.unlabelled is None:  # built without a pool (a test, an old caller): the labelled images
            self.unlabelled = self.train.images


@dataclass
class PretrainData:
    """What a representation learner's ``pretrain`` gets: the official training split's images only,
    uint8 (N, C, H, W) on ``ctx.device``. Labels are never given to a representation method."""

    images: torch.Tensor

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def image_shape(self) -> tuple[int, int, int]:
        channels, height, width = self.images.shape[1:]
        return channels, height, width


@dataclass
class _EpochLog:
    seconds: float
    images: int
    loss: float | None


@dataclass
class Bookkeeping:
    """What the host records while a method runs; protocols read it (:func:`bookkeeping`),
    methods never do. ``steps`` counts ``ctx.step`` calls (``images`` their ``n``) and
    ``epochs`` the epochs ``ctx.epochs`` completed; ``curves`` the per-epoch (or per-iteration) points and the method's
    own ``ctx.log`` scalars; ``throughputs`` the rates it measured (``ctx.measure``/``timed``).
    A restorer's context also keeps ``monitor_seconds`` (time in the host's monitor) and
    ``loop_seconds`` (its ``ctx.iterations`` loops, monitoring excluded)."""

    curves: list[dict] = field(default_factory=list)
    throughputs: dict[str, dict] = field(default_factory=dict)
    epoch_log: list[_EpochLog] = field(default_factory=list)
    steps: int = 0
    epochs: int = 0
    images: int = 0
    monitor_seconds: float = 0.0
    loop_seconds: float = 0.0

    def train_throughput(self) -> dict | None:
        """Median images/s over warm epochs (all but the first, when there are several)."""
        epochs = [e for e in self.epoch_log if e.images and e.seconds > 0]
        if not epochs:
            return None
        warm = epochs[1:] if len(epochs) > 1 else epochs
        rates = [e.images / e.seconds for e in warm]
        return {
            "items_per_s": statistics.median(rates),
            "epochs_timed": len(warm),
            "warm": len(epochs) > 1,
            "samples_items_per_s": [round(r, 2) for r in rates],
        }


def bookkeeping(ctx: MethodContext) -> Bookkeeping:
    """The host's record of a context's run (for protocols and ``bench check``, not methods),
    with every finished epoch read back."""
    ctx._resolve()
    return ctx._book


class MethodContext:
    """What every method's context offers, whatever its kind (one vocabulary):

    - ``device`` (a ``torch.device``), ``seed`` (the run's seed), ``generator`` (a
      ``torch.Generator`` on ``device`` seeded with ``seed`` by the host: draw the method's own
      randomness from it; the host also seeds torch's global RNG with ``seed`` before each call, so
      a module's default initialisation is reproducible without the method seeding anything),
      ``params`` (the resolved params, every declared key present), ``budget`` (the resolved
      :class:`bench.specs.Budget`, e.g. ``ctx.budget.epochs``), ``artifacts_dir`` (a folder for
      pictures the method saves), ``progress`` (the host's progress line).
    - ``switches`` (:class:`bench.accel.Switches`, resolved for ``device``): the suite's
      precision, memory-format and compile switches, also read as ``precision``,
      ``channels_last`` and ``compile``; ``autocast()``, ``prepare(model)``, ``layout(x)`` apply them.
    - ``step(loss=None, n=0)``: count one optimisation step over ``n`` images (``loss`` stays on
      the device until progress is due); ``log(**scalars)``: add the method's own scalars to its
      curve, tagged by the host with the current epoch (or iteration).
    - ``measure(name, fn, items=...)`` / ``timed(name, fn, items=...)``: rates of the method's own
      work (``name`` ends in ``_per_s``), with the ``label`` and ``unit`` tables show.
    """

    def __init__(
        self,
        *,
        device: torch.device,
        seed: int,
        budget: Budget,
        params: Mapping[str, Any],
        artifacts_dir: Path | None,
        progress: Progress | None,
        switches: Switches,
    ):
        self.device = device
        self.seed = seed
        self.budget = budget
        self.params = dict(params)
        self.artifacts_dir = artifacts_dir
        self.progress = progress or Progress(quiet=True)
        #: How the models run (see bench.accel): resolved, never "auto".
        self.switches = switches.resolve(device)
        self.generator = torch.Generator(device=device).manual_seed(seed)
        self._book = Bookkeeping()
        self._timed: dict[str, list[tuple[float, int]]] = {}
        self._started = time.perf_counter()

    @property
    def precision(self) -> str:
        """ "bf16" (autocast) or "fp32"."""
        precision = self.switches.precision
        assert precision is not None, "resolved for a device pick_device found"
        return precision

    @property
    def channels_last(self) -> bool:
        """Channels-last activations (on by default on CUDA, see bench.accel); use ``prepare``."""
        layout = self.switches.channels_last
        assert isinstance(layout, bool), "resolved: 'auto' decided"
        return layout

    @property
    def compile(self) -> bool:
        """torch.compile the model in ``prepare`` (the suite's ``compile`` switch; off by default)."""
        return self.switches.compile

    def autocast(self) -> contextlib.AbstractContextManager:
        """Mixed precision as the run's policy says (bf16 on CUDA by default, off on CPU)."""
        return self.switches.autocast(self.device)

    def prepare(self, model: torch.nn.Module) -> torch.nn.Module:
        """``model`` on the run's device, in channels-last memory format when the run uses it,
        compiled when the suite asks. Train and return the module given (not the compiled
        wrapper) to keep its state dict's names: ``prepare`` returns the callable to run."""
        return self.switches.prepare(model, self.device)

    def layout(self, images: torch.Tensor) -> torch.Tensor:
        """A batch in the memory format ``prepare`` gave the model."""
        return self.switches.layout(images)

    def _resolve(self) -> None:
        """Bring the bookkeeping up to date (a context that defers device read-backs does it here)."""

    def measure(
        self,
        name: str | Metric,
        fn,
        *,
        items: int,
        warmup: int = 1,
        repeats: int = 3,
        label: str = "",
        unit: str = "",
        **info,
    ) -> dict:
        """Time ``fn()`` with the host's timing (``warmup`` untimed calls, then ``repeats``
        synchronized ones; median items/s) and record it in the run's throughput section, with
        ``info`` (batch size, resolution). ``name``: the rate declared with :func:`bench.rate`
        (its name, column label and unit; the record carries the label and unit), or its bare
        name (e.g. ``"render_images_per_s"``) with ``label`` and ``unit`` given here."""
        name, label, unit = _rate_declared(name, label, unit)
        result = {
            **measure(fn, self.device, items=items, warmup=warmup, repeats=repeats),
            **info,
            **_declared(label, unit),
        }
        self._book.throughputs[name] = result
        return result

    def timed(self, name: str | Metric, fn, *, items: int, label: str = "", unit: str = "", **info):
        """Run ``fn()`` once, synchronized and timed, and return its result: work the method does
        anyway (a round of sampling) measured where it happens. Every call adds a sample to the
        rate ``name`` in the run's throughput section: the median items/s over the calls after the
        first (warm) when there are several. ``name``, ``label`` and ``unit`` as for :meth:`measure`."""
        name, label, unit = _rate_declared(name, label, unit)
        synchronize(self.device)
        start = time.perf_counter()
        out = fn()
        synchronize(self.device)
        samples = self._timed.setdefault(name, [])
        samples.append((time.perf_counter() - start, items))
        warm = samples[1:] if len(samples) > 1 else samples
        self._book.throughputs[name] = {
            **summarize([s for s, _ in warm], [n for _, n in warm]),
            "warm": len(samples) > 1,
            "calls": len(samples),
            **info,
            **_declared(label, unit),
        }
        return out


class RunContext(MethodContext):
    """The context of a classifier's ``train`` and a representation learner's ``build`` and
    ``pretrain`` (the shared vocabulary: :class:`MethodContext`). Also: ``batches`` and
    ``image_batches`` for data in the seeded order, normalised as the host does at test time;
    ``for epoch in ctx.epochs(n)`` (the host times each epoch and shows progress);
    ``optimize(loss, optimizer)``; ``accuracy(model, data)`` for the method's own choices on
    ``val``; ``normalize``, the host's normalisation."""

    def __init__(
        self,
        *,
        device: torch.device,
        seed: int,
        budget: Budget,
        params: Mapping[str, Any],
        normalize: Normalize,
        artifacts_dir: Path,
        progress: Progress | None = None,
        switches: Switches = PLAIN,
    ):
        super().__init__(
            device=device,
            seed=seed,
            budget=budget,
            params=params,
            artifacts_dir=artifacts_dir,
            progress=progress,
            switches=switches,
        )
        self.normalize = normalize
        #: Finished epochs not yet read back: (curve point, start, end, images, loss sum, steps).
        self._pending: list[tuple] = []
        self._epoch = 0
        self._n_epochs = 0
        self._step = 0
        self._steps_per_epoch: int | None = None
        self._steps_hint: int | None = None
        self._loss_sum: torch.Tensor | None = None
        self._loss_count = 0

    # -- numerics -----------------------------------------------------------------------------
    # -- data ---------------------------------------------------------------------------------
    def batches(
        self,
        data: LabelledImages,
        batch_size: int,
        *,
        shuffle: bool = True,
        augment: Augment | None = None,
        drop_last: bool = False,
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """(normalised float images (B, C, H, W), labels (B,)) batches, shuffled with the run's
        seeded generator; the same normalisation the host applies at test time."""
        self._hint_steps(len(data), batch_size, shuffle, drop_last)
        return iterate_batches(
            data,
            batch_size,
            self.normalize,
            self.generator,
            shuffle=shuffle,
            augment=augment,
            drop_last=drop_last,
        )

    def image_batches(
        self,
        images: torch.Tensor,
        batch_size: int,
        *,
        shuffle: bool = True,
        augment: Augment | None = None,
        drop_last: bool = False,
    ) -> Iterator[torch.Tensor]:
        """Normalised float batches (B, C, H, W) of a uint8 image tensor (unlabelled data), shuffled
        with the run's seeded generator."""
        for batch in self._uint8_batches(images, batch_size, shuffle, drop_last):
            if augment is not None:
                batch = augment(batch, self.generator)
            yield self.normalize(batch)

    def view_batches(
        self,
        images: torch.Tensor,
        batch_size: int,
        views: Sequence[Augment | None],
        *,
        shuffle: bool = True,
        drop_last: bool = True,
    ) -> Iterator[tuple[torch.Tensor, ...]]:
        """Several views of each batch of a uint8 image tensor (the unlabelled pool): per batch a
        tuple with one normalised float (B, C, H, W) per entry of ``views``, each the same images
        through its own augmentation (None: as they are), e.g. FixMatch's (weak, strong) or a
        contrastive method's two crops. Shuffled, and every view drawn, from the run's seeded
        generator, on the device, one whole batch at a time (:meth:`views`)."""
        for batch in self._uint8_batches(images, batch_size, shuffle, drop_last):
            yield self.views(batch, views)

    def views(self, images: torch.Tensor, views: Sequence[Augment | None]) -> tuple[torch.Tensor, ...]:
        """The views of one uint8 batch (B, C, H, W): normalised floats, one per augmentation."""
        return tuple(self.normalize(images if a is None else a(images, self.generator)) for a in views)

    def endless_batches(
        self, data: LabelledImages, batch_size: int, *, augment: Augment | None = None
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """(normalised images (B, C, H, W), labels (B,)) batches of exactly ``batch_size``, without
        end: successive seeded permutations of ``data`` laid end to end (each image once per pass),
        as a repeated, shuffled stream is batched. For a labelled set smaller than, or not a
        multiple of, the batch a semi-supervised method draws beside its unlabelled batches."""
        if batch_size <= 0 or len(data) == 0:
            raise ValueError(f"endless_batches needs a positive batch_size and data, got {batch_size}, {len(data)}")
        device = data.images.device
        pending = torch.empty(0, dtype=torch.long, device=device)
        while True:
            while len(pending) < batch_size:
                pending = torch.cat([pending, torch.randperm(len(data), device=device, generator=self.generator)])
            index, pending = pending[:batch_size], pending[batch_size:]
            images = data.images[index]
            if augment is not None:
                images = augment(images, self.generator)
            yield self.normalize(images), data.labels[index]

    def _uint8_batches(self, images: torch.Tensor, batch_size: int, shuffle: bool, drop_last: bool):
        if batch_size <= 0:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        n = images.shape[0]
        self._hint_steps(n, batch_size, shuffle, drop_last)
        order = torch.randperm(n, device=images.device, generator=self.generator) if shuffle else None
        stop = n - n % batch_size if drop_last else n
        for start in range(0, stop, batch_size):
            yield images[start : start + batch_size] if order is None else images[order[start : start + batch_size]]

    def _hint_steps(self, n: int, batch_size: int, shuffle: bool, drop_last: bool) -> None:
        """Steps per epoch for the first epoch's progress line, from the training batches (shuffled);
        once an epoch has ended, its counted steps replace the hint."""
        if shuffle and batch_size > 0:
            self._steps_hint = n // batch_size if drop_last else -(-n // batch_size)

    @torch.no_grad()
    def accuracy(self, model: torch.nn.Module, data: LabelledImages, batch_size: int = 1000) -> float:
        """Top-1 accuracy of ``model`` on ``data`` (use on ``val`` for a method's own choices)."""
        was_training = model.training
        model.eval()
        correct = torch.zeros((), device=self.device, dtype=torch.long)
        for images, labels in self.batches(data, batch_size, shuffle=False):
            with self.autocast():
                correct += (model(images).argmax(1) == labels).sum()
        model.train(was_training)
        return correct.item() / max(1, len(data))

    # -- progress and timing --------------------------------------------------------------------
    def epochs(self, n: int) -> Iterator[int]:
        """Yield 0..n-1; the host times each epoch and shows progress. The epochs' times and
        losses stay on the device (CUDA events, loss sums) until a progress line or the host's
        bookkeeping (:func:`bookkeeping`) needs them, so an epoch boundary does not make the device wait for the host."""
        self._n_epochs = n
        for epoch in range(n):
            self._epoch, self._step = epoch, 0
            self._loss_sum, self._loss_count = None, 0
            images_before = self._book.images
            start = mark(self.device)
            yield epoch
            curve = {"epoch": epoch + 1, "loss": None, "seconds": None}
            self._book.curves.append(curve)
            self._book.epochs += 1
            self._pending.append(
                (curve, start, mark(self.device), self._book.images - images_before, self._loss_sum, self._loss_count)
            )
            if self._steps_per_epoch is None and not 0 < self._planned_epochs() - epoch < 1:
                self._steps_per_epoch = self._step  # a whole epoch's steps (not a fraction's)
            if self.progress.due() or epoch == n - 1:
                self._resolve()
                self.progress.status(self._status_text(curve["loss"]), force=True)

    def _resolve(self) -> None:
        """Read back the finished epochs' losses (one transfer) and times."""
        if not self._pending:
            return
        sums = [loss_sum for *_, loss_sum, count in self._pending if count]
        values = iter(torch.stack(sums).tolist() if sums else [])
        for curve, start, end, images, _loss_sum, count in self._pending:
            seconds = seconds_between(start, end)
            loss = next(values) / count if count else None
            self._book.epoch_log.append(_EpochLog(seconds, images, loss))
            curve.update(loss=loss, seconds=round(seconds, 4))
        self._pending.clear()

    def step(self, loss: torch.Tensor | None = None, n: int = 0) -> None:
        """Count one optimisation step over ``n`` images. ``loss`` stays on the device; it is read
        back only when the progress line is due, so this costs no synchronisation."""
        self._step += 1
        self._book.steps += 1
        self._book.images += n
        if loss is not None:
            loss = loss.detach().float()
            self._loss_sum = loss if self._loss_sum is None else self._loss_sum + loss
            self._loss_count += 1
        if self.progress.due():
            mean = self._loss_sum.item() / self._loss_count if self._loss_sum is not None else None
            self.progress.status(self._status_text(mean))

    def optimize(
        self,
        loss: torch.Tensor,
        optimizer: torch.optim.Optimizer,
        schedule=None,
        *,
        n: int = 0,
        clip_grad_norm: float | None = None,
    ) -> None:
        """One optimisation step on ``loss`` over ``n`` images: zero the gradients, back-propagate,
        clip their norm (over the optimizer's parameters) when ``clip_grad_norm`` is given, step
        the optimizer and the per-step ``schedule``, then :meth:`step`. A loop that needs more
        between these (a lookahead, a custom loss report) writes them out and calls ``step``."""
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if clip_grad_norm is not None:
            params = [q for group in optimizer.param_groups for q in group["params"]]
            torch.nn.utils.clip_grad_norm_(params, max_norm=clip_grad_norm)
        optimizer.step()
        if schedule is not None:
            schedule.step()
        self.step(loss, n=n)

    def log(self, **scalars: float) -> None:
        """Record scalars (e.g. validation accuracy) in the run's curves, tagged with the epoch."""
        self._book.curves.append({"epoch": self._epoch + 1, **scalars})

    def _status_text(self, loss: float | None) -> str:
        parts = [f"epoch {self._epoch + 1}/{self._n_epochs}"]
        steps = self._steps_this_epoch()
        if steps:
            parts.append(f"step {self._step}/{steps}")
        if loss is not None:
            parts.append(f"loss {loss:.4f}")
        parts.append(f"ETA {format_seconds(self._eta())}")
        return "  ".join(parts)

    def _planned_epochs(self) -> float:
        """The epochs the run will do: a fractional budget (``epochs: 0.1``) looped as
        ``ctx.epochs(ceil(epochs))`` stops part-way through its last epoch."""
        budget = self.budget.get("epochs")
        if isinstance(budget, float) and self._n_epochs == math.ceil(budget):
            return budget
        return self._n_epochs

    def _steps_this_epoch(self) -> int | None:
        """Steps of the current epoch: a whole epoch's, or the budget's fraction of it in a
        fractional last epoch (0.1 epochs of 468 steps: 47)."""
        steps = self._steps_per_epoch or self._steps_hint
        part = self._planned_epochs() - self._epoch
        if steps and 0 < part < 1:
            return math.ceil(steps * part)
        return steps

    def _eta(self) -> float | None:
        if not self._n_epochs:
            return None
        steps = self._steps_per_epoch or self._steps_hint
        done = self._epoch + (self._step / steps if steps else 0)
        done = min(done, self._epoch + 1, self._planned_epochs())
        if not done:
            return None
        elapsed = time.perf_counter() - self._started
        return elapsed * (self._planned_epochs() - done) / done


def _rate_declared(name: str | Metric, label: str, unit: str) -> tuple[str, str, str]:
    """The name, label and unit of a method's own rate: a :func:`bench.rate` declaration's, or a
    bare name's with the label and unit given beside it."""
    if isinstance(name, Metric):
        declared = name
        if label or unit:
            raise ValueError(f"rate {declared.name!r}: its label and unit are declared with bench.rate, not here")
        name, label, unit = declared.name, "" if declared.label == declared.name else declared.label, declared.unit
    if not is_rate(name):
        raise ValueError(f"throughput name {name!r} must end in '_per_s' (what is counted per second)")
    return name, label, unit


def _declared(label: str, unit: str) -> dict:
    return {k: v for k, v in (("label", label), ("unit", unit)) if v}


def run_context(spec, env, normalize: Normalize) -> RunContext:
    """The context a protocol gives a method for one run: the spec's seed, budget and params, the
    runner's device, switches, progress and artifact folder (``bench.runner.RunEnv``)."""
    return RunContext(
        device=env.device,
        seed=spec.seed,
        budget=Budget(spec.budget),
        params=spec.params,
        normalize=normalize,
        artifacts_dir=env.artifacts_dir,
        progress=env.progress,
        switches=env.switches,
    )


@contextlib.contextmanager
def preserved_random_state(device: torch.device, generator: torch.Generator):
    """Run the block and put every random state back as it was: torch's global RNG (and the
    device's), ``generator``, Python's ``random`` and NumPy's legacy RNG."""
    import random

    import numpy as np

    cpu, own, py, legacy = torch.get_rng_state(), generator.get_state(), random.getstate(), np.random.get_state()
    cuda = torch.cuda.get_rng_state(device) if device.type == "cuda" else None
    mps = torch.mps.get_rng_state() if device.type == "mps" else None
    try:
        yield
    finally:
        torch.set_rng_state(cpu)
        generator.set_state(own)
        random.setstate(py)
        np.random.set_state(legacy)
        if cuda is not None:
            torch.cuda.set_rng_state(cuda, device)
        if mps is not None:
            torch.mps.set_rng_state(mps)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices)."""
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # seeds CUDA and MPS too


def _select_cuda(device: torch.device, requested: str) -> None:
    """Make ``cuda:N`` the current device (code that says "cuda", or allocates without a device,
    then uses it too), once N is known to exist."""
    if device.index is None:
        return
    count = torch.cuda.device_count()
    if device.index >= count:
        raise RuntimeError(
            f"device {requested!r} was asked for but this machine shows {count} CUDA device"
            f"{'' if count == 1 else 's'} (cuda:0{f' to cuda:{count - 1}' if count > 1 else ''})"
        )
    torch.cuda.set_device(device)


def pick_device(requested: str = "auto") -> torch.device:
    """CUDA, then MPS, then CPU, unless ``requested`` names one ("cpu", "cuda", "cuda:1", "mps")."""
    if requested != "auto":
        device = torch.device(requested)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(f"device {requested!r} was asked for but CUDA is not available")
        if device.type == "cuda":
            _select_cuda(device, requested)
        if device.type == "mps" and not torch.backends.mps.is_available():
            raise RuntimeError(f"device {requested!r} was asked for but MPS is not available")
        return device
    return auto_device()
