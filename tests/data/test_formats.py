"""bench.data.formats: the readers of the real file formats refuse what is not one (a truncated
IDX file, a pickle that would run code), naming the file."""

import gzip
import pickle

import numpy as np
import pytest
import scipy.io
import torch

import fakedata
from bench import DataError
from bench.data.formats import read_cifar_pickle, read_idx, read_svhn_mat


def test_a_truncated_idx_file_is_an_error_naming_it(tmp_path):
    path = tmp_path / "bad-idx3-ubyte"
    path.write_bytes(fakedata.idx_bytes(np.zeros((3, 28, 28), np.uint8))[:-5])
    with pytest.raises(DataError, match="bad-idx3-ubyte.*IDX header says"):
        read_idx(path)


def test_a_pickle_that_would_run_code_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({b"data": Evil()}, protocol=2))
    with pytest.raises(DataError, match="not allowed"):
        read_cifar_pickle(path)


def test_idx_files_read_plain_or_gzipped_in_their_own_dtype_and_shape(tmp_path):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "plain").write_bytes(fakedata.idx_bytes(array))
    (tmp_path / "packed.gz").write_bytes(gzip.compress(fakedata.idx_bytes(array)))
    for name in ("plain", "packed.gz"):
        tensor = read_idx(tmp_path / name)
        assert tensor.dtype == torch.uint8 and tensor.shape == (2, 3, 4)
        assert tensor.numpy().tolist() == array.tolist()
    (tmp_path / "text").write_bytes(b"hello world")
    with pytest.raises(DataError, match="text: not an IDX file"):
        read_idx(tmp_path / "text")


def test_svhn_mat_files_give_channel_first_images_and_digit_labels(tmp_path):
    digits = fakedata.write_svhn(tmp_path / "test_32x32.mat", n=12)
    images, labels = read_svhn_mat(tmp_path / "test_32x32.mat")
    assert images.shape == (12, 3, 32, 32) and images.dtype == torch.uint8
    assert labels.tolist() == digits.tolist() and labels.max() <= 9
    scipy.io.savemat(tmp_path / "bad.mat", {"X": np.zeros((32, 32, 3, 2), np.uint8), "y": np.array([[0], [3]])})
    with pytest.raises(DataError, match="labels range 0..3, expected 1..10"):
        read_svhn_mat(tmp_path / "bad.mat")
