"""GPU efficiency switches every method gets by default on CUDA, recorded with each run.

On CUDA: cuDNN autotuning, channels-last activations (through ``RunContext.channels_last`` /
``prepare``) and bf16 autocast (the run's precision) on devices of compute capability 8.0 and up
(Ampere on), where bf16 is native; older GPUs (V100, T4) run fp32, since autocast accepts their
emulated bf16, which is slow and has failed in cuBLAS there. TF32 stays off (convolutions
included, which PyTorch would otherwise run in TF32): fp32 is what the project's exact code (the
PIL-exact crop, the MATLAB resize, airbench's whitening, k-NN similarities) assumes, and the bulk
of the work is bf16 anyway. On CPU and MPS the switches stay off, except bf16 and channels-last when a suite (or one of its groups) asks for
``precision: bf16`` or ``channels_last: true``: on a CPU with AVX-512 BF16 the two together run
Deep Image Prior's convolutions about 2x faster, but they are not a win for every model. ``torch.compile`` is an
option everywhere, off by default (compile time would dominate short runs): the suite's
``compile: true`` (or ``bench run --compile``) compiles every model a method hands to
``RunContext.prepare``; airbench94 also has its own ``compile`` param.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported where it is used: tables read records' switches without it
    import torch

    from bench.records import Record


#: The compute capability from which CUDA devices compute bf16 natively (Ampere, sm_80).
BF16_CAPABILITY = (8, 0)


def default_precision(device: torch.device) -> str | None:
    """The precision a run asking for "auto" gets on ``device``: bf16 on CUDA devices of compute
    capability 8.0 and up, fp32 elsewhere; None for a CUDA device this machine cannot see."""
    import torch

    if device.type != "cuda":
        return "fp32"
    if not torch.cuda.is_available():
        return None
    return "bf16" if torch.cuda.get_device_capability(device) >= BF16_CAPABILITY else "fp32"


def configure(device: torch.device, channels_last: str | bool = "auto") -> dict:
    """Set the process-wide switches for a run on ``device``; return them for the record.
    ``channels_last``: "auto" (on CUDA only), True or False."""
    import torch

    cuda = device.type == "cuda"
    # TF32 off everywhere, set rather than assumed: cuDNN's default is on.
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    if cuda:
        torch.backends.cudnn.benchmark = True
    return {
        "tf32": bool(cuda and (torch.backends.cuda.matmul.allow_tf32 or torch.backends.cudnn.allow_tf32)),
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
        import torch

        if self.precision == "bf16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def prepare(self, model: torch.nn.Module) -> torch.nn.Module:
        """``model`` on the run's device, in channels-last memory format when the run uses it,
        compiled when the suite asks. Train and return the module given (not the compiled
        wrapper) to keep its state dict's names: ``prepare`` returns the callable to run."""
        import torch

        model = model.to(self.device)
        if self.channels_last:
            model = model.to(memory_format=torch.channels_last)
        return torch.compile(model) if self.compile else model

    def layout(self, images: torch.Tensor) -> torch.Tensor:
        """A batch in the memory format ``prepare`` gave the model."""
        import torch

        return images.contiguous(memory_format=torch.channels_last) if self.channels_last else images


# -- what a run asked for against what a record ran with ----------------------------------------------
# The run key leaves these out (they say how a run ran, not what it computes), so one results
# folder holds one record per spec whatever ran it: a record is reused only when it ran as asked.


def auto_device():
    """What ``device: auto`` picks here: CUDA, then MPS, then the CPU."""
    import torch

    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def requested(spec) -> dict:
    """How ``spec`` asks to run, its "auto" settings resolved on this machine (a precision this
    machine cannot resolve, for a CUDA device it lacks, is left out)."""
    import torch

    device = torch.device(spec.device) if spec.device != "auto" else auto_device()
    precision = spec.precision if spec.precision != "auto" else default_precision(device)
    channels_last = device.type == "cuda" if spec.channels_last == "auto" else bool(spec.channels_last)
    wanted = {"device": device.type, "precision": precision, "channels_last": channels_last, "compile": spec.compile}
    return {k: v for k, v in wanted.items() if v is not None}


def ran_as(record: Record) -> dict:
    """How a record's run ran (what the record says of it: old records may say less)."""
    ran = {k: record.accel[k] for k in ("precision", "channels_last", "compile") if k in record.accel}
    device = record.environment.get("device", {})
    if "type" in device:
        ran["device"] = device["type"]
    return ran


def mismatch(spec, record: Record) -> str | None:
    """Why ``record`` did not run as ``spec`` asks here (another device kind, precision,
    memory format or compile switch), or None when it did."""
    wanted, ran = requested(spec), ran_as(record)
    diffs = [f"{k} {_show(ran[k])} (asked: {_show(wanted[k])})" for k in wanted if k in ran and ran[k] != wanted[k]]
    return "made with " + ", ".join(diffs) if diffs else None


def run_as(record: Record) -> str:
    """A record's device kind and switches in a few words ("cuda bf16 channels-last"), which keep
    runs made differently in separate table rows."""
    ran = ran_as(record)
    words = [ran.get("device", "?"), ran.get("precision", "?")]
    words += ["channels-last"] if ran.get("channels_last") else []
    words += ["compiled"] if ran.get("compile") else []
    return " ".join(words)


def _show(value) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)
