"""The dataset plugins read the real file formats: small files written in those formats here,
and the real copies in ../shared/data when present."""

import gzip
import pickle

import numpy as np
import pytest
import torch

import fakedata
from bench import DataError, read_cifar_pickle, read_idx, registry
from bench.data.store import DataStore


@pytest.fixture
def datasets():
    return registry.load().datasets


@pytest.fixture
def store(tmp_path):
    return DataStore(tmp_path / "data", offline=True)


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


def test_a_truncated_idx_file_is_an_error_naming_it(tmp_path):
    path = tmp_path / "bad-idx3-ubyte"
    path.write_bytes(fakedata.idx_bytes(np.zeros((3, 28, 28), np.uint8))[:-5])
    with pytest.raises(DataError, match="bad-idx3-ubyte.*IDX header says"):
        read_idx(path)


def test_cifar10_from_the_pickle_tarball(monkeypatch, store, datasets):
    members = fakedata.use_fake_cifar(monkeypatch, store.root, per_batch=30, n_test=20)
    train = datasets["cifar10"].load("train", store)
    test = datasets["cifar10"].load("test", store)
    assert train.images.shape == (150, 3, 32, 32) and len(test) == 20 and train.classes[0] == "airplane"
    first = pickle.loads(members["data_batch_1"], encoding="bytes")
    row = first[b"data"][0]
    # Channel-major rows: the first 1024 values are the red plane, row by row.
    assert torch.equal(train.images[0, 0].flatten(), torch.from_numpy(row[:1024].copy()))
    assert torch.equal(train.images[0, 2, 31], torch.from_numpy(row[-32:].copy()))
    assert train.labels[:30].tolist() == first[b"labels"]
    assert (store.root / "cifar-10" / "data_batch_5").is_file()


def test_cifar100_fine_labels(monkeypatch, store, datasets):
    members = fakedata.use_fake_cifar(monkeypatch, store.root, which="CIFAR100", n_train=60, n_test=20)
    train = datasets["cifar100"].load("train", store)
    assert train.images.shape == (60, 3, 32, 32) and train.num_classes == 100
    assert train.labels.tolist() == pickle.loads(members["train"], encoding="bytes")[b"fine_labels"]


def test_svhn_from_mat_files_with_label_10_meaning_zero(monkeypatch, store, datasets):
    digits = fakedata.use_fake_svhn(monkeypatch, store.root)
    test = datasets["svhn"].load("test", store)
    assert test.images.shape == (200, 3, 32, 32) and test.labels.tolist() == digits["test"].tolist()
    assert 0 in test.labels.tolist() and test.labels.max() == 9


def test_a_pickle_that_would_run_code_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({b"data": Evil()}, protocol=2))
    with pytest.raises(DataError, match="not allowed"):
        read_cifar_pickle(path)


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
def test_real_cifar10_meta_and_fashion_labels(shared_data):
    from bench_plugins.datasets import cifar, mnist

    store = DataStore(shared_data, offline=True)
    meta = read_cifar_pickle(store.fetch_member(cifar.CIFAR10, "batches.meta"))
    assert meta["label_names"][:3] == ["airplane", "automobile", "bird"] and meta["num_vis"] == 3072
    labels = read_idx(store.fetch(mnist.FASHION_FILES["train", "labels"]))
    assert labels.shape == (60000,) and labels.bincount().tolist() == [6000] * 10
    with pytest.raises(DataError, match="train_32x32.mat"):
        registry.load().datasets["svhn"].load("train", store)
