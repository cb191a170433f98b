"""GPU efficiency switches every method gets by default on CUDA, recorded with each run.

On CUDA: TF32 matmuls and convolutions, cuDNN autotuning, channels-last activations (through
``RunContext.channels_last`` / ``prepare``) and bf16 autocast (the run's precision). On CPU and
MPS they stay off, except bf16 when a suite asks for ``precision: bf16``. ``torch.compile`` is an
option everywhere, off by default (compile time would dominate short runs): the suite's
``compile: true`` (or ``bench run --compile``) compiles every model a method hands to
``RunContext.prepare``; airbench94 also has its own ``compile`` param.
"""

from __future__ import annotations

import torch


def configure(device: torch.device) -> dict:
    """Set the process-wide switches for a run on ``device``; return them for the record."""
    cuda = device.type == "cuda"
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    return {
        "tf32": bool(cuda and torch.backends.cuda.matmul.allow_tf32),
        "cudnn_benchmark": bool(cuda and torch.backends.cudnn.benchmark),
        "channels_last": cuda,
    }
