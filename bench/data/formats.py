"""Readers for the datasets' own file formats: IDX (MNIST family), CIFAR pickles, SVHN .mat.

Each reader checks the header against the data it holds and raises :class:`DataError` naming
the file when they disagree, rather than returning a silently truncated array.
"""

from __future__ import annotations

import gzip
import pathlib
import pickle
from typing import Any

import numpy as np
import torch

from bench.data.store import DataError

# IDX type codes -> big-endian numpy dtypes (http://yann.lecun.com/exdb/mnist/, "THE IDX FILE FORMAT").
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _read_bytes(path: pathlib.Path) -> bytes:
    with open(path, "rb") as f:
        head = f.read(2)
    opener = gzip.open if head == b"\x1f\x8b" else open
    try:
        with opener(path, "rb") as f:
            return f.read()
    except (OSError, EOFError) as error:
        raise DataError(f"{path}: cannot read ({error})") from None


def read_idx(path: str | pathlib.Path) -> torch.Tensor:
    """An IDX file (optionally gzip-compressed) as a tensor of its own dtype and shape."""
    path = pathlib.Path(path)
    raw = _read_bytes(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise DataError(f"{path}: not an IDX file (magic {raw[:4].hex()})")
    dtype, ndim = np.dtype(_IDX_TYPES[raw[2]]), raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(raw) != expected:
        raise DataError(f"{path}: IDX header says {shape} ({expected} bytes) but the file has {len(raw)}")
    array = np.frombuffer(raw, dtype, offset=header).reshape(shape)
    return torch.from_numpy(array.astype(dtype.newbyteorder("="), copy=True))


class _CifarUnpickler(pickle.Unpickler):
    """Loads the CIFAR pickles (dicts of lists and numpy arrays) and nothing else.

    Unpickling runs code named in the file; only the globals needed to rebuild a numpy array
    are allowed, so a tampered file cannot execute anything.
    """

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a CIFAR file")
        return super().find_class(module, name)


def _decode(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("latin1")
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def read_cifar_pickle(path: str | pathlib.Path) -> dict[str, Any]:
    """A CIFAR-10/100 python pickle as a dict with ``str`` keys (byte strings decoded).

    Data batches hold ``data`` (N, 3072) uint8 in channel-major order and ``labels`` (CIFAR-10)
    or ``fine_labels``/``coarse_labels`` (CIFAR-100); meta files hold the class names.
    """
    path = pathlib.Path(path)
    try:
        with open(path, "rb") as f:
            content = _CifarUnpickler(f, encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as error:
        raise DataError(f"{path}: not a CIFAR pickle ({error})") from None
    if not isinstance(content, dict):
        raise DataError(f"{path}: not a CIFAR pickle (holds {type(content).__name__}, expected dict)")
    out = {_decode(k): (v if isinstance(v, np.ndarray) else _decode(v)) for k, v in content.items()}
    if "data" in out:
        data = np.asarray(out["data"])
        if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
            raise DataError(f"{path}: 'data' is {data.dtype} {data.shape}, expected uint8 (N, 3072)")
    return out


def read_svhn_mat(path: str | pathlib.Path) -> tuple[torch.Tensor, torch.Tensor]:
    """An SVHN cropped-digits .mat file as ((N, 3, 32, 32) uint8 images, (N,) int64 labels).

    The file stores X as (32, 32, 3, N) and y in 1..10 with 10 meaning the digit 0; labels are
    returned as the digit itself, 0..9.
    """
    import scipy.io

    path = pathlib.Path(path)
    try:
        mat = scipy.io.loadmat(path)
    except (ValueError, OSError, TypeError) as error:
        raise DataError(f"{path}: not a MATLAB file ({error})") from None
    if "X" not in mat or "y" not in mat:
        raise DataError(f"{path}: expected variables X and y, found {sorted(k for k in mat if not k.startswith('__'))}")
    x, y = mat["X"], np.asarray(mat["y"]).reshape(-1)
    if x.dtype != np.uint8 or x.ndim != 4 or x.shape[:3] != (32, 32, 3) or x.shape[3] != y.shape[0]:
        raise DataError(
            f"{path}: X is {x.dtype} {x.shape} and y has {y.shape[0]} labels, expected uint8 (32, 32, 3, N)"
        )
    if y.min() < 1 or y.max() > 10:
        raise DataError(f"{path}: labels range {y.min()}..{y.max()}, expected 1..10")
    images = torch.from_numpy(np.ascontiguousarray(x.transpose(3, 2, 0, 1)))
    labels = torch.from_numpy((y % 10).astype(np.int64))
    return images, labels
