"""bench.data.images: LabelledImages holds uint8 (N, C, H, W) images and int64 labels, one tensor
each, and keeps them so through subsets and moves."""

import pytest
import torch

from bench.data.images import LabelledImages


def test_images_must_be_a_uint8_batch_and_labels_one_per_image():
    with pytest.raises(
        ValueError, match=r"images must be a \(N, C, H, W\) uint8 tensor, got \(4, 1, 8, 8\) torch.float32"
    ):
        LabelledImages(torch.zeros(4, 1, 8, 8), torch.zeros(4), ("a",))
    with pytest.raises(ValueError, match="images must be"):
        LabelledImages(torch.zeros(4, 8, 8, dtype=torch.uint8), torch.zeros(4), ("a",))
    with pytest.raises(ValueError, match=r"labels must have shape \(4,\), got \(3,\)"):
        LabelledImages(torch.zeros(4, 1, 8, 8, dtype=torch.uint8), torch.zeros(3), ("a",))


def test_labels_become_int64_and_a_subset_keeps_the_classes_and_pairs():
    images = torch.arange(5, dtype=torch.uint8).view(5, 1, 1, 1)
    data = LabelledImages(images, torch.tensor([4, 3, 2, 1, 0], dtype=torch.int32), tuple("abcde"))
    assert data.labels.dtype == torch.int64 and len(data) == 5 and data.num_classes == 5
    part = data.subset(torch.tensor([3, 0]))
    assert part.images.flatten().tolist() == [3, 0] and part.labels.tolist() == [1, 4]
    assert part.classes == tuple("abcde")
    moved = data.to("cpu")
    assert moved.images.dtype == torch.uint8 and torch.equal(moved.labels, data.labels)
