"""What a dataset's ``load(split, store)`` must return, checked where it is loaded: a split that
disagrees with its declaration fails at once, naming the dataset, instead of deep in a method
("Target 10 is out of bounds") or silently (8x8 images declared 28x28).
"""

from __future__ import annotations

from bench.data.images import LabelledImages
from bench.restoration.images import ImageSet


def split_problems(dataset, split: str, data) -> list[str]:
    """Every way ``data`` (what ``dataset.load(split, store)`` returned) breaks the dataset's
    declaration, one phrase each; empty when it holds."""
    if split not in dataset.splits:
        return [f"split {split!r} is not one of its declared splits {dataset.splits}"]
    if dataset.task == "classification":
        return _labelled_problems(dataset, data)
    return _image_set_problems(data)


def check_split(dataset, split: str, data) -> None:
    """Raise ValueError naming the dataset, the split and every broken rule."""
    problems = split_problems(dataset, split, data)
    if problems:
        raise ValueError(f"dataset {dataset.name!r}, split {split!r}: {'; '.join(problems)}")


def _labelled_problems(dataset, data) -> list[str]:
    if not isinstance(data, LabelledImages):
        return [f"load() returned {type(data).__name__}, expected bench.LabelledImages"]
    problems = []
    shape = tuple(data.images.shape[1:])
    if shape != tuple(dataset.image_shape):
        problems.append(
            f"images are {'x'.join(map(str, shape))} (C x H x W), but the dataset declares image_shape "
            f"{tuple(dataset.image_shape)}"
        )
    if len(data) == 0:
        problems.append("it holds no images")
    if data.num_classes != dataset.num_classes:
        problems.append(
            f"it names {data.num_classes} classes, but the dataset declares num_classes {dataset.num_classes}"
        )
    if len(data):
        low, high = int(data.labels.min()), int(data.labels.max())
        if low < 0 or high >= dataset.num_classes:
            problems.append(f"labels run from {low} to {high}, outside 0..{dataset.num_classes - 1} (num_classes)")
    return problems


def _image_set_problems(data) -> list[str]:
    # Each bench.RestorationImage checked its own dtype, channels and mask when it was made.
    if not isinstance(data, ImageSet):
        return [f"load() returned {type(data).__name__}, expected bench.ImageSet"]
    return [] if len(data) else ["it holds no images"]
