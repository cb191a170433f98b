"""The in-memory form of a labelled image set: uint8 images and int64 labels, one tensor each."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class LabelledImages:
    """A labelled image set held as two tensors.

    images: (N, C, H, W) uint8, labels: (N,) int64 in [0, len(classes)).
    Kept as uint8 wherever it lives (150 MB for CIFAR-10 train), converted to float per batch.
    """

    images: torch.Tensor
    labels: torch.Tensor
    classes: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.ndim != 4:
            raise ValueError(
                f"images must be a (N, C, H, W) uint8 tensor, got {tuple(self.images.shape)} {self.images.dtype}"
            )
        if self.labels.shape != (self.images.shape[0],):
            raise ValueError(f"labels must have shape ({self.images.shape[0]},), got {tuple(self.labels.shape)}")
        self.labels = self.labels.long()

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def subset(self, index: torch.Tensor) -> LabelledImages:
        return LabelledImages(self.images[index], self.labels[index], self.classes)

    def to(self, device: torch.device | str, non_blocking: bool = False) -> LabelledImages:
        return LabelledImages(
            self.images.to(device, non_blocking=non_blocking),
            self.labels.to(device, non_blocking=non_blocking),
            self.classes,
        )
