"""bench: a plugin-based benchmark suite for vision methods that learn from little or no labels.

This module is the whole public API a plugin may use. Names that need torch are imported lazily,
so ``bench --help`` and plugin discovery stay fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

import pluggy

from bench.params import Param
from bench.params import defaults as param_defaults
from bench.specs import (
    METHOD_KINDS,
    RESTORATIONS,
    TASKS,
    Classifier,
    DatasetSpec,
    Method,
    MethodSpec,
    Published,
    RepresentationLearner,
    Restorer,
    Setting,
)

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("bench")

# name -> module that defines it, imported on first use.
_LAZY = {
    "LabelledImages": "bench.data.images",
    "TrainData": "bench.context",
    "RunContext": "bench.context",
    "MethodContext": "bench.context",
    "PretrainData": "bench.context",
    "Augment": "bench.data.loader",
    "rand_augment": "bench.data.randaugment",
    "RemoteFile": "bench.data.store",
    "PackagedFile": "bench.data.store",
    "Archive": "bench.data.store",
    "DataStore": "bench.data.store",
    "DataError": "bench.data.store",
    "read_idx": "bench.data.formats",
    "read_cifar_pickle": "bench.data.formats",
    "read_svhn_mat": "bench.data.formats",
    # Restoration: image sets, the host's operators and the restorer's context.
    "ImageSet": "bench.restoration.images",
    "RestorationImage": "bench.restoration.images",
    "read_image": "bench.restoration.images",
    "mask_from_image": "bench.restoration.images",
    "PinnedImage": "bench.restoration.images",
    "fetch_image": "bench.restoration.images",
    "pixel_checksum": "bench.restoration.images",
    "Problem": "bench.restoration.degrade",
    "RestoreContext": "bench.restoration.context",
    "imresize": "bench.restoration.resize",
    # Executors: how run specs get executed (bench run --executor NAME).
    "Executor": "bench.executors",
    "ExecutorSpec": "bench.executors",
    "Job": "bench.executors",
    # Pictures a method saves for reports (fractals, sample grids): listed in the run's record.
    "save_image": "bench.artifacts",
}

__all__ = [
    "__version__",
    "hookimpl",
    "DatasetSpec",
    "Classifier",
    "RepresentationLearner",
    "Restorer",
    "Method",
    "MethodSpec",
    "Param",
    "param_defaults",
    "Published",
    "Setting",
    "TASKS",
    "METHOD_KINDS",
    "RESTORATIONS",
    *_LAZY,
]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'bench' has no attribute {name!r}")


if TYPE_CHECKING:  # pragma: no cover
    from bench.artifacts import save_image
    from bench.context import MethodContext, PretrainData, RunContext, TrainData
    from bench.data.formats import read_cifar_pickle, read_idx, read_svhn_mat
    from bench.data.images import LabelledImages
    from bench.data.loader import Augment
    from bench.data.randaugment import rand_augment
    from bench.data.store import Archive, DataError, DataStore, PackagedFile, RemoteFile
    from bench.executors import Executor, ExecutorSpec, Job
    from bench.restoration.context import RestoreContext
    from bench.restoration.degrade import Problem
    from bench.restoration.images import (
        ImageSet,
        PinnedImage,
        RestorationImage,
        fetch_image,
        mask_from_image,
        pixel_checksum,
        read_image,
    )
    from bench.restoration.resize import imresize
