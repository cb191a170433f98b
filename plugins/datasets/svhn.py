"""SVHN cropped digits: 32x32 colour house numbers, 73,257 train / 26,032 test, MATLAB files."""

from __future__ import annotations

from bench import DatasetSpec, LabelledImages, RemoteFile, hookimpl, read_svhn_mat

# Canonical files (Stanford UFLDL) and md5s as torchvision publishes them. The "extra" split
# (531k easier images) is not used by the suites.
SVHN_FILES = {
    "train": RemoteFile(
        "svhn/train_32x32.mat",
        "http://ufldl.stanford.edu/housenumbers/train_32x32.mat",
        "e26dedcc434d2e4c54c9b2d4a06d8373",
    ),
    "test": RemoteFile(
        "svhn/test_32x32.mat",
        "http://ufldl.stanford.edu/housenumbers/test_32x32.mat",
        "eb5a983be6a315427106f1b5d30a2e6b",
    ),
}
SVHN_CLASSES = tuple(str(d) for d in range(10))


def load_svhn(split: str, store) -> LabelledImages:
    images, labels = read_svhn_mat(store.fetch(SVHN_FILES[split]))
    return LabelledImages(images, labels, SVHN_CLASSES)


@hookimpl
def bench_register_datasets(register):
    register(
        DatasetSpec(
            name="svhn",
            task="classification",
            load=load_svhn,
            num_classes=10,
            image_shape=(3, 32, 32),
            description="Street View House Numbers (cropped digits), 73k train / 26k test",
            citation="Netzer et al., Reading digits in natural images with unsupervised feature learning, 2011",
        )
    )
