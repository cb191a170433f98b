"""GPU efficiency switches every method gets by default on CUDA, recorded with each run.

On CUDA: TF32 matmuls and convolutions, cuDNN autotuning, channels-last activations (through
``RunContext.channels_last`` / ``prepare``) and bf16 autocast (the run's precision). On CPU and
MPS they stay off, except bf16 and channels-last when a suite (or one of its groups) asks for
``precision: bf16`` or ``channels_last: true``: on a CPU with AVX-512 BF16 the two together run
Deep Image Prior's convolutions about 2x faster, but they are not a win for every model. ``torch.compile`` is an
option everywhere, off by default (compile time would dominate short runs): the suite's
``compile: true`` (or ``bench run --compile``) compiles every model a method hands to
``RunContext.prepare``; airbench94 also has its own ``compile`` param.
"""

from __future__ import annotations

import contextlib

import torch


def configure(device: torch.device, channels_last: str | bool = "auto") -> dict:
    """Set the process-wide switches for a run on ``device``; return them for the record.
    ``channels_last``: "auto" (on CUDA only), True or False."""
    cuda = device.type == "cuda"
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    return {
        "tf32": bool(cuda and torch.backends.cuda.matmul.allow_tf32),
        "cudnn_benchmark": bool(cuda and torch.backends.cudnn.benchmark),
        "channels_last": cuda if channels_last == "auto" else bool(channels_last),
    }


class Switches:
    """How a context runs the models a method hands it; mixed into the run and restore contexts,
    which set ``device``, ``precision``, ``channels_last`` and ``compile``."""

    device: torch.device
    precision: str
    channels_last: bool
    compile: bool

    def autocast(self) -> contextlib.AbstractContextManager:
        """Mixed precision as the run's policy says (bf16 on CUDA by default, off on CPU)."""
        if self.precision == "bf16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def prepare(self, model: torch.nn.Module) -> torch.nn.Module:
        """``model`` on the run's device, in channels-last memory format when the run uses it,
        compiled when the suite asks. Train and return the module given (not the compiled
        wrapper) to keep its state dict's names: ``prepare`` returns the callable to run."""
        model = model.to(self.device)
        if self.channels_last:
            model = model.to(memory_format=torch.channels_last)
        return torch.compile(model) if self.compile else model

    def layout(self, images: torch.Tensor) -> torch.Tensor:
        """A batch in the memory format ``prepare`` gave the model."""
        return images.contiguous(memory_format=torch.channels_last) if self.channels_last else images
