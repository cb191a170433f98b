"""The host's label budget: how many labelled training images a method may hold, and which.

A protocol's ``labels`` option sets it, in the field's two forms:

- an integer n >= 1: n labelled images per class (CIFAR-10's 40 / 250 / 4000 labels are 4 / 25 /
  400 per class, as USB and FixMatch count them);
- a number in (0, 1): that fraction of the training split, made class-balanced as
  ``round(fraction * N / classes)`` images per class (at least 1), so 1% of MNIST's 60,000 is
  60 per class;
- absent (or ``all``): every label, the protocols' behaviour before budgets existed.

The labelled images are drawn by the protocol's ``split_seed`` alone, never the run seed nor the
method: one seeded permutation of the whole training split, and in each class its first n images
in that order. Every method at one budget and split seed gets the same images (several split seeds
are the field's "folds"), and a larger budget at one split seed holds the smaller ones. The record
carries the sorted indices' SHA-256, the budget and the counts per class, so two records show
they used the same images.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported where it is used: suites validate the option without it
    import torch

    from bench.data.images import LabelledImages

#: The protocol option, and what it accepts (for help and error messages).
OPTION = "labels"
FORMS = "an integer n >= 1 (labels per class), a fraction in (0, 1) of the training split, or 'all'"


@dataclass(frozen=True)
class LabelBudget:
    """A parsed ``labels`` option: ``per_class`` images of each class, or ``fraction`` of the split."""

    per_class: int | None = None
    fraction: float | None = None

    def images_per_class(self, n_images: int, n_classes: int) -> int:
        if self.per_class is not None:
            return self.per_class
        assert self.fraction is not None, "a budget is a count per class or a fraction"
        return max(1, round(self.fraction * n_images / n_classes))

    def __str__(self) -> str:
        return f"{self.per_class} per class" if self.per_class is not None else f"{self.fraction:g} of the split"


def parse_budget(value) -> LabelBudget | None:
    """The ``labels`` option as a :class:`LabelBudget`, None for all labels; ValueError (one line
    naming the forms) for anything else."""
    if value is None or value == "all":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"labels: expected {FORMS}, got {type(value).__name__} {value!r}")
    if isinstance(value, int):
        if value < 1:
            raise ValueError(f"labels: expected {FORMS}, got {value}")
        return LabelBudget(per_class=value)
    if not 0 < value < 1:
        raise ValueError(f"labels: a fraction must be in (0, 1) (an integer counts labels per class), got {value}")
    return LabelBudget(fraction=float(value))


def draw_labelled(labels: torch.Tensor, num_classes: int, budget: LabelBudget, split_seed: int) -> list[torch.Tensor]:
    """Per class, the int64 indices of its labelled images in draw order (see the module's
    docstring). ``labels``: (N,) int64 of the whole training split. A class with fewer images than
    the budget asks for is an error naming it."""
    import torch

    labels = labels.cpu()
    n = budget.images_per_class(len(labels), num_classes)
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(split_seed))
    ordered = labels[order]
    chosen = []
    for c in range(num_classes):
        in_class = order[ordered == c]
        if len(in_class) < n:
            raise ValueError(f"labels: {budget} asks for {n} images of class {c}, which has {len(in_class)}")
        chosen.append(in_class[:n])
    return chosen


def split_labelled(per_class: list[torch.Tensor], holdout: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The validation rule under a budget: ``floor(holdout * n)`` of each class's n labelled images
    (the last drawn) are held out for validation, the rest train; sorted indices (train, val). The
    validation labels are part of the budget, never extra ones (with 4 per class and holdout 0.1
    nothing is held out)."""
    import torch

    k = int(holdout * len(per_class[0])) if per_class else 0
    train = torch.cat([idx[: len(idx) - k] for idx in per_class]).sort().values
    val = torch.cat([idx[len(idx) - k :] for idx in per_class]).sort().values
    return train, val


def indices_sha256(indices: torch.Tensor) -> str:
    """SHA-256 of the sorted indices as little-endian int64: the labelled set's identity."""
    import torch

    data = indices.cpu().to(torch.int64).sort().values.numpy().astype("<i8").tobytes()
    return hashlib.sha256(data).hexdigest()


def class_counts(labels: torch.Tensor, num_classes: int) -> list[int]:
    import torch

    return torch.bincount(labels.cpu(), minlength=num_classes).tolist()


def budget_record(option, budget: LabelBudget, labelled: torch.Tensor, labels: torch.Tensor, num_classes: int) -> dict:
    """The record's ``details.labels`` section under a budget: the option as written, the budget,
    the labelled set's size, counts per class and hash. ``labelled``: every budgeted index
    (training and validation part), ``labels``: the whole split's labels."""
    return {
        "labels": option,
        "budget": str(budget),
        "labelled": len(labelled),
        "counts": class_counts(labels.cpu()[labelled.cpu()], num_classes),
        "indices_sha256": indices_sha256(labelled),
    }


@dataclass
class Budgeted:
    """A training split under a label budget: what a classifier may hold, and the record."""

    train: LabelledImages  # the budgeted labels minus the validation part
    val: LabelledImages | None  # the held-out part of the budgeted labels (None when empty)
    unlabelled: torch.Tensor  # uint8 images: the whole split but the validation part
    record: dict  # the record's details.labels


def apply_budget(data: LabelledImages, option, holdout: float, split_seed: int) -> Budgeted:
    """The labelled, validation and unlabelled parts of the training split ``data`` under the
    ``labels`` option ``option`` (not None: see :func:`parse_budget`)."""
    import torch

    budget = parse_budget(option)
    if budget is None:
        raise ValueError(f"labels: {option!r} keeps every label; there is no budget to apply")
    per_class = draw_labelled(data.labels, data.num_classes, budget, split_seed)
    train_index, val_index = split_labelled(per_class, holdout)
    labelled = torch.cat([train_index, val_index]).sort().values
    keep = torch.ones(len(data), dtype=torch.bool)
    keep[val_index] = False
    record = {
        **budget_record(option, budget, labelled, data.labels, data.num_classes),
        "train": len(train_index),
        "val": len(val_index),
        "unlabelled": int(keep.sum()),
        "unlabelled_pool": "every training image but the validation part (labelled ones included)",
    }
    device = data.images.device
    return Budgeted(
        train=data.subset(train_index.to(device)),
        val=data.subset(val_index.to(device)) if len(val_index) else None,
        unlabelled=data.images[keep.to(device)],
        record=record,
    )
