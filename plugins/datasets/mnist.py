"""MNIST and Fashion-MNIST: 28x28 grayscale, 10 classes, 60k train / 10k test, IDX files."""

from __future__ import annotations

from bench import DatasetSpec, LabelledImages, RemoteFile, hookimpl, read_idx

MNIST_CLASSES = tuple(str(d) for d in range(10))
FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)


def idx_files(folder: str, urls: tuple[str, ...], md5s: dict[tuple[str, str], str]) -> dict:
    """{(split, "images"|"labels"): RemoteFile} for the four gzip'd IDX files of a dataset."""
    files = {}
    for (split, kind), md5 in md5s.items():
        name = f"{'train' if split == 'train' else 't10k'}-{kind}-idx{3 if kind == 'images' else 1}-ubyte.gz"
        files[split, kind] = RemoteFile(
            f"{folder}/{name}", urls[0] + name, md5, mirrors=tuple(u + name for u in urls[1:])
        )
    return files


# Canonical files and md5s (as published with the datasets and used by torchvision). The original
# MNIST host (yann.lecun.com) now often refuses downloads, so the PyTorch mirror comes first.
MNIST_FILES = idx_files(
    "mnist",
    ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
    {
        ("train", "images"): "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        ("train", "labels"): "d53e105ee54ea40749a09fcbcd1e9432",
        ("test", "images"): "9fb629c4189551a2d022fa330f9573f3",
        ("test", "labels"): "ec29112dd5afa0611ce80d1b7f02629c",
    },
)
FASHION_FILES = idx_files(
    "fashion-mnist",
    (
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/",
    ),
    {
        ("train", "images"): "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        ("train", "labels"): "25c81989df183df01b3e8a0aad5dffbe",
        ("test", "images"): "bef4ecab320f06d8554ea6380940ec79",
        ("test", "labels"): "bb300cfdad3c16e7a12a480ee83cd310",
    },
)


def load_idx_pair(files: dict, classes: tuple[str, ...], split: str, store) -> LabelledImages:
    images = read_idx(store.fetch(files[split, "images"]))
    labels = read_idx(store.fetch(files[split, "labels"]))
    if images.ndim != 3 or images.shape[0] != labels.shape[0]:
        raise ValueError(f"{split}: {tuple(images.shape)} images but {tuple(labels.shape)} labels")
    return LabelledImages(images.unsqueeze(1), labels.long(), classes)


@hookimpl
def bench_register_datasets(register):
    register(
        DatasetSpec(
            name="mnist",
            task="classification",
            load=lambda split, store: load_idx_pair(MNIST_FILES, MNIST_CLASSES, split, store),
            num_classes=10,
            image_shape=(1, 28, 28),
            description="handwritten digits, 60k train / 10k test",
            citation="LeCun et al., Gradient-based learning applied to document recognition, 1998",
        )
    )
    register(
        DatasetSpec(
            name="fashion-mnist",
            task="classification",
            load=lambda split, store: load_idx_pair(FASHION_FILES, FASHION_CLASSES, split, store),
            num_classes=10,
            image_shape=(1, 28, 28),
            description="Zalando clothing images, 60k train / 10k test",
            citation="Xiao et al., Fashion-MNIST, arXiv:1708.07747, 2017",
        )
    )
