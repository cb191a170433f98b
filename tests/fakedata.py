"""Small datasets written in the true file formats (gzip'd IDX, CIFAR pickle tarballs, SVHN .mat).

The images are learnable: each class has its own template plus noise, so a classifier trained
on them scores far above chance. ``use_fake_*`` writes the files and points the dataset plugin's
checksum table at them (the canonical checksums cannot match made-up data).
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import pathlib
import pickle
import struct
import tarfile

import numpy as np


def md5(path: pathlib.Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def class_images(n: int, shape: tuple[int, ...], num_classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(n, *shape) uint8 images and (n,) labels: per-class templates plus noise."""
    rng = np.random.default_rng(seed)
    templates = rng.integers(0, 256, size=(num_classes, *shape)).astype(np.float32)
    labels = np.arange(n) % num_classes
    rng.shuffle(labels)
    noise = rng.normal(0, 40, size=(n, *shape))
    images = np.clip(templates[labels] + noise, 0, 255).astype(np.uint8)
    return images, labels.astype(np.uint8)


# -- IDX (MNIST, Fashion-MNIST) --------------------------------------------------------------
def idx_bytes(array: np.ndarray) -> bytes:
    assert array.dtype == np.uint8
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.tobytes()


def write_mnist(folder: pathlib.Path, n_train: int = 600, n_test: int = 200, seed: int = 0) -> dict:
    """The four gzip'd IDX files; returns {(split, kind): path}."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for split, stem, n in (("train", "train", n_train), ("test", "t10k", n_test)):
        images, labels = class_images(n, (28, 28), 10, seed + (split == "test"))
        for kind, array, dims in (("images", images, 3), ("labels", labels, 1)):
            path = folder / f"{stem}-{kind}-idx{dims}-ubyte.gz"
            path.write_bytes(gzip.compress(idx_bytes(array), mtime=0))
            paths[split, kind] = path
    return paths


def use_fake_mnist(monkeypatch, data_dir: pathlib.Path, table: str = "MNIST_FILES", **kwargs) -> dict:
    from bench_plugins.datasets import mnist

    files = getattr(mnist, table)
    paths = write_mnist(data_dir / pathlib.Path(files["train", "images"].path).parent, **kwargs)
    patched = {key: dataclasses.replace(f, md5=md5(paths[key])) for key, f in files.items()}
    monkeypatch.setattr(mnist, table, patched)
    return paths


# -- CIFAR python pickles ----------------------------------------------------------------------
def cifar_rows(images: np.ndarray) -> np.ndarray:
    """(N, 3, 32, 32) -> (N, 3072): the planes one after another, as in the CIFAR files."""
    return images.reshape(len(images), 3 * 32 * 32)


def _add(tar: tarfile.TarFile, name: str, payload: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(payload)
    tar.addfile(info, io.BytesIO(payload))


def _pickle(obj) -> bytes:
    # The real files come from Python 2's cPickle: byte-string keys, protocol 2.
    return pickle.dumps(obj, protocol=2)


def write_cifar10(path: pathlib.Path, per_batch: int = 100, n_test: int = 200, seed: int = 0) -> dict:
    """cifar-10-python.tar.gz with five data batches, a test batch and batches.meta.

    Returns {member: bytes} of the members, to check extraction against.
    """
    names = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse", b"ship", b"truck"]
    members = {"batches.meta": _pickle({b"num_cases_per_batch": per_batch, b"label_names": names, b"num_vis": 3072})}
    for i, (member, n) in enumerate([*((f"data_batch_{k}", per_batch) for k in range(1, 6)), ("test_batch", n_test)]):
        images, labels = class_images(n, (3, 32, 32), 10, seed * 100 + i)
        members[member] = _pickle(
            {
                b"batch_label": member.encode(),
                b"labels": [int(x) for x in labels],
                b"data": cifar_rows(images),
                b"filenames": [f"{member}_{j}.png".encode() for j in range(n)],
            }
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for member, payload in members.items():
            _add(tar, f"cifar-10-batches-py/{member}", payload)
        _add(tar, "cifar-10-batches-py/readme.html", b"<html></html>")
    return members


def write_cifar100(path: pathlib.Path, n_train: int = 500, n_test: int = 200, seed: int = 0) -> dict:
    fine = [f"class{i}".encode() for i in range(100)]
    coarse = [f"super{i}".encode() for i in range(20)]
    members = {"meta": _pickle({b"fine_label_names": fine, b"coarse_label_names": coarse})}
    for i, (member, n) in enumerate((("train", n_train), ("test", n_test))):
        images, labels = class_images(n, (3, 32, 32), 100, seed * 100 + i)
        members[member] = _pickle(
            {
                b"filenames": [f"{j}.png".encode() for j in range(n)],
                b"batch_label": member.encode(),
                b"fine_labels": [int(x) for x in labels],
                b"coarse_labels": [int(x) // 5 for x in labels],
                b"data": cifar_rows(images),
            }
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for member, payload in members.items():
            _add(tar, f"cifar-100-python/{member}", payload)
    return members


def use_fake_cifar(monkeypatch, data_dir: pathlib.Path, which: str = "CIFAR10", **kwargs) -> dict:
    from bench_plugins.datasets import cifar

    archive = getattr(cifar, which)
    path = data_dir / archive.file.path
    members = (write_cifar10 if which == "CIFAR10" else write_cifar100)(path, **kwargs)
    patched = dataclasses.replace(
        archive,
        file=dataclasses.replace(archive.file, md5=md5(path)),
        members={m: hashlib.md5(members[m]).hexdigest() for m in archive.members},
    )
    monkeypatch.setattr(cifar, which, patched)
    return members


# -- SVHN .mat ---------------------------------------------------------------------------------
def write_svhn(path: pathlib.Path, n: int = 200, seed: int = 0) -> np.ndarray:
    """A cropped-digits file: X (32, 32, 3, N) uint8, y (N, 1) in 1..10 (10 = digit 0). Returns digits."""
    import scipy.io

    images, digits = class_images(n, (3, 32, 32), 10, seed)
    y = np.where(digits == 0, 10, digits).astype(np.uint8).reshape(-1, 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(path, {"X": images.transpose(2, 3, 1, 0), "y": y})
    return digits


def use_fake_svhn(monkeypatch, data_dir: pathlib.Path) -> dict:
    from bench_plugins.datasets import svhn

    digits = {}
    patched = {}
    for split, f in svhn.SVHN_FILES.items():
        path = data_dir / f.path
        digits[split] = write_svhn(path, seed=split == "test")
        patched[split] = dataclasses.replace(f, md5=md5(path))
    monkeypatch.setattr(svhn, "SVHN_FILES", patched)
    return digits
