"""The CIFAR-10/100 plugin (plugins/datasets/cifar.py): the pickle tarballs written here, and the
real copies in ../shared/data when present."""

import pickle

import pytest
import torch

import fakedata
from bench.data.formats import read_cifar_pickle
from bench.data.store import DataStore
from bench_plugins.datasets import cifar


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


@pytest.mark.real_data
def test_real_cifar10_meta(shared_data):
    store = DataStore(shared_data, offline=True)
    meta = read_cifar_pickle(store.fetch_member(cifar.CIFAR10, "batches.meta"))
    assert meta["label_names"][:3] == ["airplane", "automobile", "bird"] and meta["num_vis"] == 3072
