"""The MNIST and Fashion-MNIST plugins (plugins/datasets/mnist.py): small IDX files written here,
and the real copies in ../shared/data when present."""

import gzip

import numpy as np
import pytest
import torch

import fakedata
from bench.data.formats import read_idx
from bench.data.store import DataStore
from bench_plugins.datasets import mnist


def test_mnist_from_idx_files(monkeypatch, store, datasets):
    paths = fakedata.use_fake_mnist(monkeypatch, store.root, n_train=100, n_test=50)
    train = datasets["mnist"].load("train", store)
    assert train.images.shape == (100, 1, 28, 28) and train.images.dtype == torch.uint8
    raw = np.frombuffer(gzip.decompress(paths["train", "images"].read_bytes())[16:], np.uint8)
    assert torch.equal(train.images.flatten(), torch.from_numpy(raw.copy()))
    labels = np.frombuffer(gzip.decompress(paths["train", "labels"].read_bytes())[8:], np.uint8)
    assert train.labels.tolist() == labels.tolist() and train.classes[3] == "3"
    assert len(datasets["mnist"].load("test", store)) == 50
    assert set(store.used) == {f"mnist/{p.name}" for p in paths.values()}


def test_fashion_mnist_uses_its_own_files_and_class_names(monkeypatch, store, datasets):
    fakedata.use_fake_mnist(monkeypatch, store.root, table="FASHION_FILES", n_train=40, n_test=20)
    train = datasets["fashion-mnist"].load("train", store)
    assert len(train) == 40 and train.classes[9] == "Ankle boot"
    assert all(path.startswith("fashion-mnist/") for path in store.used)


@pytest.mark.real_data
def test_real_mnist(shared_data, datasets):
    store = DataStore(shared_data, offline=True)
    train = datasets["mnist"].load("train", store)
    test = datasets["mnist"].load("test", store)
    assert train.images.shape == (60000, 1, 28, 28) and len(test) == 10000
    assert train.labels.bincount().tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert abs(train.images.float().mean().item() / 255 - 0.1307) < 1e-4
    assert store.used["mnist/train-images-idx3-ubyte.gz"]["sha256"] == (
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"
    )


@pytest.mark.real_data
def test_real_fashion_mnist_labels(shared_data):
    store = DataStore(shared_data, offline=True)
    labels = read_idx(store.fetch(mnist.FASHION_FILES["train", "labels"]))
    assert labels.shape == (60000,) and labels.bincount().tolist() == [6000] * 10
