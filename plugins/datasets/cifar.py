"""CIFAR-10 and CIFAR-100: 32x32 colour, 50k train / 10k test, python pickles in a tar archive."""

from __future__ import annotations

import torch

from bench import Archive, DatasetSpec, LabelledImages, RemoteFile, hookimpl, read_cifar_pickle

# Canonical archives (Krizhevsky's page) and their members' md5s, as torchvision publishes them.
CIFAR10 = Archive(
    RemoteFile(
        "cifar-10/cifar-10-python.tar.gz",
        "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        "c58f30108f718f92721af3b95e74349a",
    ),
    members={
        "data_batch_1": "c99cafc152244af753f735de768cd75f",
        "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
        "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
        "data_batch_4": "634d18415352ddfa80567beed471001a",
        "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
        "test_batch": "40351d587109b95175f43aff81a1287e",
        "batches.meta": "5ff9c542aee3614f3951f8cda6e48888",
    },
    strip="cifar-10-batches-py/",
)
CIFAR10_SPLITS = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}

CIFAR100 = Archive(
    RemoteFile(
        "cifar-100/cifar-100-python.tar.gz",
        "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
        "eb9058c3a382ffc7106e4002c42a8d85",
    ),
    members={
        "train": "16019d7e3df5f24257cddd939b257f8d",
        "test": "f0ef6b0ae62326f3e7ffdfab6717acfc",
        "meta": "7973b15100ade9c7d40fb424638fde48",
    },
    strip="cifar-100-python/",
)


def _images(batch: dict) -> torch.Tensor:
    # Rows are 1024 red, 1024 green, 1024 blue values, each plane row-major: (N, 3, 32, 32).
    return torch.from_numpy(batch["data"].copy()).reshape(-1, 3, 32, 32)


def load_cifar10(split: str, store) -> LabelledImages:
    classes = tuple(read_cifar_pickle(store.fetch_member(CIFAR10, "batches.meta"))["label_names"])
    images, labels = [], []
    for member in CIFAR10_SPLITS[split]:
        path = store.fetch_member(CIFAR10, member)
        batch = read_cifar_pickle(path)
        images.append(_images(batch))
        labels.append(torch.tensor(batch["labels"], dtype=torch.long))
    return LabelledImages(torch.cat(images), torch.cat(labels), classes)


def load_cifar100(split: str, store) -> LabelledImages:
    classes = tuple(read_cifar_pickle(store.fetch_member(CIFAR100, "meta"))["fine_label_names"])
    path = store.fetch_member(CIFAR100, split)
    batch = read_cifar_pickle(path)
    return LabelledImages(_images(batch), torch.tensor(batch["fine_labels"], dtype=torch.long), classes)


@hookimpl
def bench_register_datasets(register):
    register(
        DatasetSpec(
            name="cifar10",
            task="classification",
            load=load_cifar10,
            num_classes=10,
            image_shape=(3, 32, 32),
            description="32x32 natural images, 10 classes, 50k train / 10k test",
            citation="Krizhevsky, Learning multiple layers of features from tiny images, 2009",
        )
    )
    register(
        DatasetSpec(
            name="cifar100",
            task="classification",
            load=load_cifar100,
            num_classes=100,
            image_shape=(3, 32, 32),
            description="32x32 natural images, 100 fine classes, 50k train / 10k test",
            citation="Krizhevsky, Learning multiple layers of features from tiny images, 2009",
        )
    )
