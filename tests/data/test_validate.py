"""bench.data.validate: a loaded split that disagrees with its dataset's declaration is refused
at once, naming the dataset, the split and every broken rule."""

import pytest
import torch

from bench.data.images import LabelledImages
from bench.data.validate import check_split, split_problems
from bench.restoration.images import ImageSet
from bench.specs import DatasetSpec


def digits(**changes) -> DatasetSpec:
    fields = {"name": "digits", "task": "classification", "load": None, "num_classes": 10, "image_shape": (1, 8, 8)}
    return DatasetSpec(**(fields | changes))


def labelled(n=6, shape=(1, 8, 8), classes=10, labels=None) -> LabelledImages:
    labels = torch.arange(n) % classes if labels is None else labels
    return LabelledImages(torch.zeros((n, *shape), dtype=torch.uint8), labels, tuple(str(i) for i in range(classes)))


def test_a_split_that_matches_its_declaration_passes():
    assert split_problems(digits(), "train", labelled()) == []
    check_split(digits(), "test", labelled())


def test_every_broken_rule_is_named_at_once():
    data = labelled(shape=(1, 28, 28), classes=3, labels=torch.tensor([0, 1, 2, 0, 1, 2]))
    problems = split_problems(digits(num_classes=2), "train", data)
    assert problems == [
        "images are 1x28x28 (C x H x W), but the dataset declares image_shape (1, 8, 8)",
        "it names 3 classes, but the dataset declares num_classes 2",
        "labels run from 0 to 2, outside 0..1 (num_classes)",
    ]
    with pytest.raises(ValueError, match=r"dataset 'digits', split 'train': images are 1x28x28.*; it names 3"):
        check_split(digits(num_classes=2), "train", data)


def test_an_undeclared_split_an_empty_split_and_the_wrong_type_are_refused():
    assert "not one of its declared splits" in split_problems(digits(), "validation", labelled())[0]
    assert split_problems(digits(), "train", labelled(n=0)) == ["it holds no images"]
    assert split_problems(digits(), "train", [1, 2]) == ["load() returned list, expected bench.LabelledImages"]
    sets = DatasetSpec(name="set", task="restoration", load=None, splits=("test",))
    assert split_problems(sets, "test", labelled()) == ["load() returned LabelledImages, expected bench.ImageSet"]
    assert split_problems(sets, "test", ImageSet("set")) == ["it holds no images"]
