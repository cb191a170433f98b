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
from dataclasses import dataclass
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


#: The values a suite's switches may take before they are resolved on a device.
PRECISIONS = ("auto", "fp32", "bf16")
CHANNELS_LAST = ("auto", True, False)


@dataclass(frozen=True)
class Switches:
    """How a run runs the models a method hands its context (not what it computes, so outside the
    run key): ``precision`` ("auto", "fp32" or "bf16"), ``channels_last`` ("auto", True or False)
    and ``compile``. A suite's switches ask ("auto" allowed); :meth:`resolve` gives the values a
    run on a device uses, which the runner records and the contexts apply."""

    precision: str | None = "auto"
    channels_last: str | bool = "auto"
    compile: bool = False

    def resolve(self, device: torch.device) -> Switches:
        """The switches a run on ``device`` uses: "auto" precision is bf16 on CUDA of compute
        capability 8.0 and up, else fp32 (None for a CUDA device this machine cannot see); "auto"
        channels-last is on on CUDA only."""
        precision = default_precision(device) if self.precision == "auto" else self.precision
        layout = device.type == "cuda" if self.channels_last == "auto" else bool(self.channels_last)
        return Switches(precision, layout, self.compile)

    def to_dict(self) -> dict:
        return {"precision": self.precision, "channels_last": self.channels_last, "compile": self.compile}

    def autocast(self, device: torch.device) -> contextlib.AbstractContextManager:
        """Mixed precision as the run's policy says (bf16 on CUDA by default, off on CPU)."""
        import torch

        if self.precision == "bf16":
            return torch.autocast(device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def prepare(self, model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
        """``model`` on ``device``, in channels-last memory format when the run uses it, compiled
        when the suite asks. Train and return the module given (not the compiled wrapper) to keep
        its state dict's names: ``prepare`` returns the callable to run."""
        import torch

        model = model.to(device)
        if self.channels_last:
            model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # torch's stubs omit memory_format, Module.to takes it
        # torch.compile of a Module is an OptimizedModule (a Module); its stubs say only "a callable".
        return torch.compile(model) if self.compile else model  # type: ignore[return-value]

    def layout(self, images: torch.Tensor) -> torch.Tensor:
        """A batch in the memory format ``prepare`` gave the model."""
        import torch

        return images.contiguous(memory_format=torch.channels_last) if self.channels_last else images


#: fp32, contiguous, eager: what a context built outside a run (a method's own test) uses by default.
PLAIN = Switches("fp32", False, False)


def configure(device: torch.device, switches: Switches | None = None) -> dict:
    """Set the process-wide switches for a run on ``device`` with ``switches`` (the suite's
    defaults when None), and return what the record says of them (its ``accel`` section)."""
    import torch

    ran = (switches or Switches()).resolve(device)
    cuda = device.type == "cuda"
    # TF32 off everywhere, set rather than assumed: cuDNN's default is on.
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    if cuda:
        torch.backends.cudnn.benchmark = True
    return {
        "precision": ran.precision,
        "tf32": bool(cuda and (torch.backends.cuda.matmul.allow_tf32 or torch.backends.cudnn.allow_tf32)),
        "cudnn_benchmark": bool(cuda and torch.backends.cudnn.benchmark),
        "channels_last": ran.channels_last,
        "compile": ran.compile,
    }


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
    wanted = {"device": device.type, **spec.switches.resolve(device).to_dict()}
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
