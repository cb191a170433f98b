"""Counts the calls that would make a GPU wait for the host, on any device, the CPU included.

On a CPU every tensor lives on the host, so a ``.item()`` costs nothing there and hides until
the code meets a GPU. :class:`SyncCounter` runs a method as if its device were remote: a torch
function mode follows where each tensor was born (a factory without ``device=``, ``from_numpy``
or ``.cpu()`` make a *host* tensor; ``device=``, ``.to(device)`` and every result of device
tensors make a *device* tensor; tensors it never saw count as device tensors) and counts

- ``readback``: ``item``, ``tolist``, ``numpy``, ``cpu``, ``bool()``/``float()``/``int()`` of a
  device tensor, and ops whose output size depends on device values (``nonzero``, boolean-mask
  indexing, ``unique``, ...);
- ``h2d``: host data copied to the device (``.to(device)``/``.cuda()``/``copy_`` of a host
  tensor, ``torch.tensor(data, device=...)``);
- ``mixed``: an op mixing a device tensor with a host tensor of more than one element (it would
  fail on CUDA);
- ``synchronize``: the host's ``bench.timing.synchronize`` or ``torch.cuda.synchronize``;
- ``cuda``: on CUDA, what ``torch.cuda.set_sync_debug_mode("warn")`` reports.

Calls inside torch's own functions (an optimizer's CPU step counter) are not the method's: the
mode sees the outermost torch call only, and host tensors are exempt. Each count is attributed
to a *scope*: ``loop`` (the method's code between two ``ctx.step`` calls), a host call (``step``,
``epochs``, ``iterations``, ``monitor``, ``accuracy``, ``measure``, ``timed``: these read back
when progress, a curve or a timing needs it), ``setup`` (before the first step) or ``after``
(after the last step: the final output).
"""

from __future__ import annotations

import contextlib
import functools
import sys
import warnings
import weakref
from collections import Counter, defaultdict
from collections.abc import Iterator
from types import FrameType
from typing import Any

import torch
from torch.overrides import TorchFunctionMode

_READBACKS = {
    "item",
    "tolist",
    "numpy",
    "cpu",
    "__bool__",
    "__float__",
    "__int__",
    "__index__",
    "nonzero",
    "argwhere",
    "masked_select",
    "unique",
    "unique_consecutive",
    "bincount",
}
_FACTORIES = {
    "tensor",
    "as_tensor",
    "asarray",
    "from_numpy",
    "zeros",
    "ones",
    "empty",
    "full",
    "rand",
    "randn",
    "randint",
    "randperm",
    "arange",
    "linspace",
    "logspace",
    "eye",
    "empty_strided",
    "scalar_tensor",
}
_COPIES_HOST_DATA = {"tensor", "as_tensor", "asarray"}  # with device=: the data travels to the device
_IGNORED = {
    "__get__",
    "__set__",
    "_set_grad_enabled",
    "is_floating_point",
    "is_complex",
    "dim",
    "size",
    "numel",
    "_has_compatible_shallow_copy_type",
    "__len__",
    "_parse_to",
    "data_ptr",
    "element_size",
    "stride",
}

_TORCH_DIR = torch.__file__.rsplit("/", 1)[0]

#: The host calls a scope is named after: (context class path, method, whether a generator).
HOST_CALLS = (
    ("bench.context", "RunContext", ("step", "accuracy", "measure", "timed", "log"), ("epochs",)),
    ("bench.restoration.context", "RestoreContext", ("step", "monitor", "measure", "timed", "log"), ("iterations",)),
)


def _tensors(value) -> Iterator[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _tensors(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _tensors(item)


class SyncCounter(TorchFunctionMode):
    """``with SyncCounter(device) as syncs: ...`` counts, per scope, the calls that would wait
    for the host (see the module's docstring); ``syncs.report()`` sums them up."""

    def __init__(self, device: torch.device | str = "cpu", warmup: int = 0, follow: bool | None = None):
        super().__init__()
        self.device = torch.device(device)
        #: Follow every torch call (the simulated device). Off by default on CUDA, where the
        #: debug mode reports the real syncs at no cost and the mode's overhead would skew timings.
        self.follow = self.device.type != "cuda" if follow is None else follow
        #: The first ``warmup`` steps count as setup (caches filling: a resize matrix per size).
        self.warmup = warmup
        self.counts: dict[str, Counter] = defaultdict(Counter)
        #: torch functions the method's loop called (e.g. ``clone``), for tests of a loop's work.
        self.loop_calls: Counter = Counter()
        #: "scope cause file:line" of each count (the first frame outside torch), to find the culprit.
        self.sites: Counter = Counter()
        self.steps = 0
        self._loop_steps = 0
        self._intervals = 0
        self._host: dict[int, weakref.ref] = {}
        self._pending: Counter = Counter()
        self._pending_calls: Counter = Counter()
        self._pending_sites: Counter = Counter()
        self._host_depth = 0
        self._host_scope = ""
        self._stack = contextlib.ExitStack()

    # -- provenance ------------------------------------------------------------------------------
    def _is_host(self, t: torch.Tensor) -> bool:
        if self.device.type != "cpu":
            return t.device.type == "cpu"
        ref = self._host.get(id(t))
        return ref is not None and ref() is t

    def _mark(self, out, host: bool) -> None:
        for t in _tensors(out):
            key = id(t)
            if host:

                def forget(_: object, key: int = key) -> None:
                    self._host.pop(key, None)

                self._host[key] = weakref.ref(t, forget)
            else:
                self._host.pop(key, None)

    def _targets_device(self, args, kwargs) -> bool:
        """Whether a ``.to(...)`` names a device (or a tensor) other than the host."""
        for value in (*args[1:], kwargs.get("device"), kwargs.get("other")):
            if isinstance(value, torch.Tensor):
                return not self._is_host(value)
            if isinstance(value, (str, torch.device)) and str(value) not in ("meta",):
                return str(value) != "cpu" or self.device.type == "cpu"
        return False

    def _torch_asks_host(self, device) -> bool:
        """``device="cpu"`` in torch's own code (an optimizer's step counter) means the host even
        when the run's device is the CPU; in a method's code it is the run's device."""
        if torch.device(device).type != "cpu":
            return False
        caller = sys._getframe(2).f_code.co_filename
        return caller.startswith(_TORCH_DIR)

    # -- counting --------------------------------------------------------------------------------
    def _scope(self) -> str:
        if self._host_depth:
            return self._host_scope
        return "setup" if self._loop_steps <= self.warmup else "pending"

    def count(self, cause: str, n: int = 1) -> None:
        scope = self._scope()
        (self._pending if scope == "pending" else self.counts[scope])[cause] += n
        (self._pending_sites if scope == "pending" else self.sites)[f"{scope} {cause} {_caller()}"] += n

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        if name in _IGNORED:
            if name == "__set__" and len(args) == 2 and isinstance(args[1], torch.Tensor):  # param.data = moved
                self._mark(args[0], self._is_host(args[1]))
            return func(*args, **kwargs)
        tensors = [t for t in _tensors((args, kwargs))]
        device_inputs = [t for t in tensors if not self._is_host(t)]
        if self.steps and not self._host_depth:
            self._pending_calls[name] += 1
        if name in _READBACKS and device_inputs:
            self.count("readback")
        elif name in ("__getitem__", "__setitem__", "index", "index_put_") and device_inputs:
            index = list(_tensors(args[1:]))
            if any(t.dtype == torch.bool and not self._is_host(t) for t in index):
                self.count("readback")  # boolean mask: a nonzero
            if any(self._is_host(t) and t.numel() > 1 for t in index):
                self.count("h2d")
        if (
            name in ("to", "cuda", "type")
            and tensors
            and self._is_host(args[0])
            and (name == "cuda" or self._targets_device(args, kwargs))
        ):
            self.count("h2d")
            out = func(*args, **kwargs)
            self._mark(out, False)
            return out
        if name == "copy_" and len(tensors) >= 2:
            dst, src = tensors[0], tensors[1]
            if self._is_host(src) and not self._is_host(dst):
                self.count("h2d")
            elif self._is_host(dst) and not self._is_host(src):
                self.count("readback")
        out = func(*args, **kwargs)
        if name in _FACTORIES:
            explicit = kwargs.get("device") is not None and not self._torch_asks_host(kwargs["device"])
            if explicit and name in _COPIES_HOST_DATA and args and not isinstance(args[0], torch.Tensor):
                self.count("h2d")
            host = not explicit and not device_inputs
        elif name in ("cpu", "numpy", "tolist"):
            host = True
        elif name.endswith("_like") and tensors:
            host = kwargs.get("device") is None and not device_inputs
        else:
            host = bool(tensors) and not device_inputs
            if (
                device_inputs
                and any(self._is_host(t) and t.numel() > 1 for t in tensors)
                and name not in ("copy_", "__setitem__", "__getitem__")
            ):
                self.count("mixed")
        if not name.endswith("_"):  # in place (add_, _foreach_lerp_, __iadd__): keeps its origin
            self._mark(out, host)
        return out

    # -- scopes: wrap the host's calls --------------------------------------------------------------
    def _commit_step(self) -> None:
        """A step ends an interval of the loop: what was pending was the loop's."""
        if self._loop_steps > self.warmup:
            for cause, n in self._pending.items():
                self.counts["loop"][cause] += n
            self.loop_calls.update(self._pending_calls)
            self.sites.update({"loop" + site[len("pending") :]: n for site, n in self._pending_sites.items()})
            self._intervals += 1
        else:
            self.sites.update({"setup" + site[len("pending") :]: n for site, n in self._pending_sites.items()})
        self._pending.clear()
        self._pending_calls.clear()
        self._pending_sites.clear()

    def _new_loop(self) -> None:
        """A new context or loop (the next image, the next run): what was pending since the
        last step was after that loop, not in it."""
        for cause, n in self._pending.items():
            self.counts["after"][cause] += n
        self.sites.update({"after" + site[len("pending") :]: n for site, n in self._pending_sites.items()})
        self._pending.clear()
        self._pending_calls.clear()
        self._pending_sites.clear()
        self._loop_steps = 0

    @contextlib.contextmanager
    def _in_host(self, name: str):
        self._host_depth += 1
        outer, self._host_scope = self._host_scope, self._host_scope or name
        try:
            yield
        finally:
            self._host_depth -= 1
            self._host_scope = outer

    def _host_call(self, name: str, fn):
        counter = self

        @functools.wraps(fn)
        def call(*args, **kwargs):
            if name == "step":
                counter._commit_step()
                counter.steps += 1
                counter._loop_steps += 1
            elif name == "__init__":
                counter._new_loop()
            with counter._in_host(name):
                return fn(*args, **kwargs)

        return call

    def _host_generator(self, name: str, fn):
        counter = self

        @functools.wraps(fn)
        def gen(*args, **kwargs):
            inner = fn(*args, **kwargs)
            counter._new_loop()
            try:
                while True:
                    with counter._in_host(name):
                        try:
                            value = next(inner)
                        except StopIteration:
                            return
                    yield value
            finally:  # a loop left early closes the host's generator (its timing) here, not at GC
                with counter._in_host(name):
                    inner.close()

        return gen

    def _synchronize(self, fn):
        @functools.wraps(fn)
        def synchronize(*args, **kwargs):
            self.count("synchronize")
            return fn(*args, **kwargs)

        return synchronize

    def __enter__(self):
        from bench import timing

        stack = self._stack
        for module_name, class_name, calls, generators in HOST_CALLS:
            cls = getattr(__import__(module_name, fromlist=[class_name]), class_name)
            for name in ("__init__", *calls):
                stack.enter_context(_patched(cls, name, self._host_call(name, getattr(cls, name))))
            for name in generators:
                stack.enter_context(_patched(cls, name, self._host_generator(name, getattr(cls, name))))
        # The host's synchronize, wherever a module imported it by name.
        original = timing.synchronize
        counted = self._synchronize(original)
        for module in [
            m for n, m in list(sys.modules.items()) if n == "bench" or n.startswith(("bench.", "bench_plugins"))
        ]:
            if getattr(module, "synchronize", None) is original:
                stack.enter_context(_patched(module, "synchronize", counted))
        if self.device.type == "cuda":
            stack.enter_context(_patched(torch.cuda, "synchronize", self._synchronize(torch.cuda.synchronize)))
            stack.enter_context(self._cuda_debug_mode())
        if self.follow:
            super().__enter__()
        return self

    def __exit__(self, *exc):
        if self.follow:
            super().__exit__(*exc)
        self._stack.close()
        self._new_loop()  # after the last step: the final output
        return False

    @contextlib.contextmanager
    def _cuda_debug_mode(self):
        """CUDA's own sync report: each warning of ``set_sync_debug_mode("warn")`` counts."""
        previous_mode = torch.cuda.get_sync_debug_mode()
        previous_show = warnings.showwarning

        def show(message, category, *args, **kwargs):
            if "synchroniz" in str(message).lower():
                self.count("cuda")
            else:
                previous_show(message, category, *args, **kwargs)

        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = show
            torch.cuda.set_sync_debug_mode("warn")
            try:
                yield
            finally:
                torch.cuda.set_sync_debug_mode(previous_mode)
                warnings.showwarning = previous_show

    # -- results ----------------------------------------------------------------------------------
    @property
    def intervals(self) -> int:
        """Step-to-step intervals counted (each loop's iterations, less its first and warm-up)."""
        return self._intervals

    def loop(self, cause: str | None = None) -> int:
        counts = self.counts.get("loop", Counter())
        return counts[cause] if cause else sum(counts.values())

    def per_step(self, cause: str | None = None) -> float:
        """Counts in the method's loop per step-to-step interval."""
        return self.loop(cause) / max(self.intervals, 1)

    def report(self) -> dict[str, Any]:
        loop_sites = Counter({site[len("loop ") :]: n for site, n in self.sites.items() if site.startswith("loop ")})
        return {
            "steps": self.steps,
            "loop_per_step": round(self.per_step(), 4),
            "counts": {scope: dict(c) for scope, c in sorted(self.counts.items()) if c},
            "loop_sites": dict(loop_sites.most_common(5)),
        }


def _caller() -> str:
    frame: FrameType | None = sys._getframe(2)
    while frame is not None and (
        frame.f_code.co_filename.startswith(_TORCH_DIR)
        or frame.f_code.co_filename == __file__
        or frame.f_code.co_filename.startswith(contextlib.__file__.rsplit("/", 1)[0])
    ):
        frame = frame.f_back
    if frame is None:
        return "?"
    return f"{frame.f_code.co_filename.rsplit('/', 2)[-2:][-1]}:{frame.f_lineno}"


@contextlib.contextmanager
def _patched(owner, name: str, value):
    # A class may inherit the method (RunContext.measure comes from MethodContext): then the
    # patch is removed again rather than copied onto the subclass.
    inherited = isinstance(owner, type) and name not in owner.__dict__
    original = None if inherited else owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
    setattr(owner, name, value)
    try:
        yield
    finally:
        if inherited:
            delattr(owner, name)
        else:
            setattr(owner, name, original)
