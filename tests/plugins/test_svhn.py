"""The SVHN plugin (plugins/datasets/svhn.py): MATLAB .mat files written here."""

import pytest

import fakedata
from bench import DataError
from bench.data.store import DataStore


def test_svhn_from_mat_files_with_label_10_meaning_zero(monkeypatch, store, datasets):
    digits = fakedata.use_fake_svhn(monkeypatch, store.root)
    test = datasets["svhn"].load("test", store)
    assert test.images.shape == (200, 3, 32, 32) and test.labels.tolist() == digits["test"].tolist()
    assert 0 in test.labels.tolist() and test.labels.max() == 9


@pytest.mark.real_data
def test_the_shared_copies_without_svhn_name_its_missing_file(shared_data, datasets):
    store = DataStore(shared_data, offline=True)
    if (shared_data / "svhn" / "train_32x32.mat").exists():
        pytest.skip("the shared copies hold SVHN")
    with pytest.raises(DataError, match="train_32x32.mat"):
        datasets["svhn"].load("train", store)
