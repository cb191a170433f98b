"""``bench gpu-check``: one prepared, offline check of a machine's accelerator (or its CPU).

It prints the device, driver, CUDA and cuDNN; runs the device-check suite (every built-in method,
at the papers' image sizes where speed is measured: ``suites/device-check/device-check.yaml``, or
``device-check-tiny.yaml`` with ``--tiny``; a folder of their own: they name the check's
datasets, which only the check registers) and the quick suite at a smoke budget through the
host's own runner (:func:`bench.session.run_suite`, each run through :class:`CheckExecutor`),
with the suites' switches (on CUDA: bf16 autocast from compute capability 8.0, channels-last,
TF32 off); counts the syncs each run's step loop makes
(:class:`bench.syncs.SyncCounter`: on CUDA ``torch.cuda.set_sync_debug_mode("warn")``, elsewhere
the simulated device), records each run's peak device memory and throughputs (the records' own
figures: warm, synchronized, medians, CUDA events on CUDA), and with ``--compile`` runs the suite
again compiled, counting graphs, graph breaks and compile seconds. ``device-check.json`` and
``device-check.md`` under the output folder are rewritten after every run, each run's error is
its row's, and no record is reused: the check measures this machine, now.

Data: the check's own two sets, registered here (no network): ``check-cifar`` is the real
CIFAR-10 subset (4,000 / 1,000 images) when ``<data dir>/cifar-10-subset`` exists, else
synthetic class templates of the same shape (the JSON says which); ``check-images`` are
synthetic smooth RGB images at the sizes the restoration methods are timed at.
"""

from __future__ import annotations

import contextlib
import math
import pickle
import platform
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from bench import DatasetSpec, ImageSet, LabelledImages, RestorationImage, hookimpl

if TYPE_CHECKING:  # pragma: no cover
    from bench.data.store import DataStore
    from bench.progress import Progress
    from bench.registry import Registry
    from bench.runner import DatasetCache

SUITES = Path(__file__).resolve().parent.parent / "suites"
CHECK_SUITES = SUITES / "device-check"
#: Synthetic restoration images: name -> (height, width). 512x512: DIP's denoising images
#: (F16 and the 9-image colour set) and Set5's largest; 256x256: a x2 LR image of that size for ZSSR.
CHECK_IMAGES = {"rgb-512": (512, 512), "rgb-256": (256, 256), "rgb-64": (64, 64)}


# -- the check's data ------------------------------------------------------------------------------


def cifar_subset(root: Path) -> Path | None:
    folder = Path(root) / "cifar-10-subset"
    return folder if (folder / "data_batch_1_first4000").is_file() else None


def _read_cifar_pickle(path: Path) -> LabelledImages:
    with open(path, "rb") as f:
        batch = pickle.load(f, encoding="bytes")
    images = torch.tensor(batch[b"data"], dtype=torch.uint8).reshape(-1, 3, 32, 32)
    return LabelledImages(images, torch.tensor(batch[b"labels"], dtype=torch.long), tuple(f"c{i}" for i in range(10)))


def _synthetic_cifar(split: str) -> LabelledImages:
    """Per-class random templates plus noise: learnable, CIFAR's shape and split sizes."""
    n = {"train": 4000, "test": 1000}[split]
    g = torch.Generator().manual_seed(0)
    templates = torch.randint(0, 256, (10, 3, 32, 32), generator=g).float()
    g.manual_seed(1 if split == "train" else 2)
    labels = torch.arange(n) % 10
    images = templates[labels] + 60 * torch.randn(n, 3, 32, 32, generator=g)
    return LabelledImages(images.clamp(0, 255).to(torch.uint8), labels, tuple(f"c{i}" for i in range(10)))


def smooth_image(height: int, width: int, seed: int) -> torch.Tensor:
    """uint8 (3, H, W): sums of random sinusoids, smooth enough for restorers to beat their floors."""
    g = torch.Generator().manual_seed(seed)
    y, x = torch.linspace(0, 1, height)[:, None], torch.linspace(0, 1, width)[None, :]
    planes = []
    for _ in range(3):
        f = torch.rand(4, 3, generator=g) * torch.tensor([8.0, 8.0, 2 * math.pi])
        # Started from zeros, not the int 0: the same sums, and a tensor whatever the count.
        planes.append(
            sum((torch.sin(2 * math.pi * (fy * y + fx * x) + ph) for fy, fx, ph in f.tolist()), torch.zeros(()))
        )
    image = torch.stack(planes)
    image = (image - image.min()) / (image.max() - image.min())
    return (20 + 215 * image).round().to(torch.uint8)


class CheckData:
    """The pluggy plugin that registers the check's datasets."""

    def __init__(self, data_root: Path):
        self.subset = cifar_subset(data_root)

    def load_cifar(self, split: str, store) -> LabelledImages:
        if self.subset is None:
            return _synthetic_cifar(split)
        return _read_cifar_pickle(
            self.subset / ("data_batch_1_first4000" if split == "train" else "test_batch_first1000")
        )

    @staticmethod
    def load_images(split: str, store) -> ImageSet:
        return ImageSet(
            "check-images",
            [RestorationImage(name, smooth_image(h, w, i)) for i, (name, (h, w)) in enumerate(CHECK_IMAGES.items())],
        )

    @hookimpl
    def bench_register_datasets(self, register):
        source = (
            f"the real CIFAR-10 subset in {self.subset}" if self.subset else "synthetic CIFAR-shaped class templates"
        )
        register(
            DatasetSpec(
                name="check-cifar",
                task="classification",
                load=self.load_cifar,
                num_classes=10,
                image_shape=(3, 32, 32),
                description=f"device check: {source}, 4000 / 1000 images",
            )
        )
        register(
            DatasetSpec(
                name="check-images",
                task="restoration",
                load=self.load_images,
                splits=("test",),
                description="device check: synthetic smooth RGB images "
                + ", ".join(f"{n} ({h}x{w})" for n, (h, w) in CHECK_IMAGES.items()),
            )
        )


# -- the machine ---------------------------------------------------------------------------------------


def environment(device: torch.device) -> dict:
    env = {
        "device": str(device),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cpu": platform.processor() or platform.machine(),
        "cpu_threads": torch.get_num_threads(),
        "gpu": None,
        "driver": None,
        "cuda": None,
        "cudnn": None,
    }
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        env.update(
            gpu=props.name,
            gpu_memory_gib=round(props.total_memory / 2**30, 1),
            compute_capability=f"{props.major}.{props.minor}",
            cuda=torch.version.cuda,
            cudnn=torch.backends.cudnn.version(),
            driver=_driver_version(),
        )
    return env


def _driver_version() -> str | None:
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
        )
        return out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else None
    except (OSError, subprocess.SubprocessError):
        return None


# -- running -------------------------------------------------------------------------------------------

#: Where each pass keeps its records under the output folder (one level: the output must stay
#: shallow enough to come back from a remote machine whole).
PASSES = {"eager": "eager", "counted": "counted", "compiled": "compiled", "quick": "quick"}


class Output:
    """``device-check.json`` and ``.md``, rewritten (atomically) after every row: a check killed
    halfway, or a machine that stops answering, leaves the figures of every row it finished."""

    def __init__(self, out: Path, result: dict):
        self.out = out
        self.result = result

    def save(self) -> None:
        from bench.records import write_json_atomic
        from bench.runner import finite_or_null

        write_json_atomic(self.out / "device-check.json", finite_or_null(self.result))
        _write_text_atomic(self.out / "device-check.md", table(self.result))

    def add(self, rows: list, row: dict) -> None:
        rows.append(row)
        self.save()


def _write_text_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def run_row(spec, reg, store, cache, device: torch.device, progress, label: str, *, count: bool) -> dict:
    """Run one spec through the host's ``execute`` and describe it as a row: status, wall time,
    peak device memory, throughputs and (``count``) the syncs per step of its loop. An error
    outside the run (a sticky CUDA error at a synchronize, a lock held elsewhere) is the row's
    status, not the end of the check; a method whose optional library is missing is skipped."""
    from bench.runner import Interrupted, execute
    from bench.syncs import SyncCounter

    counter = None
    try:
        _reset_peak_memory(device)
        if spec.switches.compile:
            _reset_compile_stats()
        counter = SyncCounter(device) if count else None
        with counter if counter is not None else contextlib.nullcontext():
            state, record = execute(spec, reg, store, cache, progress, label)
    except (Interrupted, KeyboardInterrupt):
        raise
    except Exception as exc:
        return _row(spec, "error", error=_one_line(exc), compiling=compile_stats() if spec.switches.compile else None)
    if record is None:
        return _row(spec, state, error="another process holds this run's lock")
    status, error = record.status, record.error.message if record.error else None
    if record.error and _missing_optional_library(record.error):
        status, error = "skipped", f"optional library missing: {error}"
    return _row(
        spec,
        status,
        error=error,
        wall_seconds=record.timings.get("wall_seconds"),
        peak_memory_mib=_peak_memory_mib(device),
        metrics=record.metrics,
        throughput={
            name: {k: v.get(k) for k in ("items_per_s", "warm", "batch_size", "resolution") if k in v}
            for name, v in record.throughput.items()
            if isinstance(v, dict)
        },
        syncs=counter.report() if counter is not None else None,
        accel=record.accel,
        ran_on=record.environment.get("device"),
        compiling=compile_stats() if spec.switches.compile else None,
    )


def _reset_compile_stats() -> None:
    from torch._dynamo import utils

    utils.counters.clear()
    utils.compilation_time_metrics.clear()


def compile_stats() -> dict:
    """What ``torch.compile`` did during a run (torch._dynamo's own counters, private API): graphs
    compiled, graph breaks (each one a return to Python; the first reasons, cut short) and the
    seconds spent compiling, which a compiled row's timings include."""
    from torch._dynamo import utils

    breaks = utils.counters["graph_break"]
    return {
        "graphs": utils.counters["stats"].get("unique_graphs", 0),
        "graph_breaks": sum(breaks.values()),
        "break_reasons": [reason.splitlines()[0][:160] for reason in list(breaks)[:3]],
        "compile_seconds": round(sum(utils.compilation_time_metrics.get("_compile.compile_inner", [])), 2),
    }


#: Libraries a method needs that bench itself does not (a machine without them skips that method).
OPTIONAL_LIBRARIES = ("bm3d",)


def _missing_optional_library(error) -> bool:
    """Whether a run's error (:class:`bench.records.RunError`) is an optional library's absence."""
    return error.type in ("ModuleNotFoundError", "ImportError") and any(
        f"'{name}'" in error.message for name in OPTIONAL_LIBRARIES
    )


def _row(spec, status: str, **figures) -> dict:
    row = {
        "label": spec.label,
        "suite": spec.suite,
        "method": spec.method,
        "dataset": spec.dataset,
        "protocol": spec.protocol,
        "compile": spec.switches.compile,
        "status": status,
        "error": None,
        "wall_seconds": None,
        "peak_memory_mib": None,
        "metrics": {},
        "throughput": {},
        "syncs": None,
        "accel": None,
        "compiling": None,
    }
    row.update(figures)
    return row


def _one_line(exc: BaseException) -> str:
    text = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _reset_peak_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)


def _peak_memory_mib(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    try:
        return round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    except RuntimeError:  # the context is broken: the row says so through its status
        return None


class CheckExecutor:
    """The check's executor (:class:`bench.Executor`'s contract): each run of a pass through the
    host's ``execute``, in order, as a row of ``rows`` (its syncs counted when ``count``), the
    output saved after every row. It reports on the check's own ``progress`` and loads data
    through the check's ``cache``, shared by every pass."""

    name = "device-check"

    def __init__(self, rows: list, folder: str, *, count: bool, passes: Passes):
        self.rows, self.folder, self.count, self.passes = rows, folder, count, passes

    def run(self, job):
        from bench.runner import SuiteOutcome

        check = self.passes
        specs = [s for s in job.specs if not check.only or any(text in s.label for text in check.only)]
        outcome = SuiteOutcome()
        for i, spec in enumerate(specs, 1):
            label = f"[{self.folder} {i}/{len(specs)}] {spec.label}"
            row = run_row(
                spec, job.registry, job.store, check.cache, check.device, check.progress, label, count=self.count
            )
            check.output.add(self.rows, row)
            check.output.result["seconds"] = round(time.perf_counter() - check.started, 1)
            ended = {"ok": outcome.ran, "skipped": outcome.ran, "busy": outcome.busy}.get(row["status"], outcome.failed)
            ended.append(spec.label)
        return outcome


@dataclass
class Passes:
    """What every pass of one check shares: the device, plugins, data, output and clock."""

    device: torch.device
    registry: Registry  # with the check's datasets
    data_store: DataStore  # offline
    cache: DatasetCache  # each split loaded once for all passes
    output: Output
    progress: Progress
    only: list[str] | None
    started: float

    def run(self, rows: list, suite_file: Path, folder: str, scale, seeds=None, compile_models=False, count=True):
        """One pass: ``suite_file``'s runs (those ``only`` names) as rows of ``rows``, their records
        under ``<out>/<folder>``, none reused."""
        from bench.progress import Progress
        from bench.session import run_suite

        run_suite(
            suite_file,
            registry=self.registry,
            results_dir=self.output.out / PASSES[folder],
            data=self.data_store,
            executor=CheckExecutor(rows, folder, count=count, passes=self),
            rerun="always",  # the check measures this machine, now
            progress=Progress(quiet=True),  # the rows say what ran, on the check's own progress
            budget_scale=scale,
            seeds=seeds,
            device=str(self.device),
            compile_models=compile_models,
        )
        return rows


def check(
    device_name: str,
    out: Path,
    *,
    tiny: bool = False,
    compile: bool = False,
    data_dir: str | None = None,
    budget_scale: float | None = None,
    quiet: bool = False,
    only: list[str] | None = None,
    suite: Path | None = None,
) -> dict:
    """Run the check on ``device_name`` into ``out``; ``only``: the runs whose label contains one
    of these texts (a row to measure again); ``suite``: another suite on the check's data (then
    without the quick suite), such as ``tools/gpu_first_run.py``'s DIP variants."""
    from bench.context import pick_device
    from bench.runner import stop_on_signals

    device = pick_device(device_name)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    passes = _prepare(device, out, data_dir, quiet, only)
    result = passes.output.result
    result.update(suite=str(suite) if suite else None, tiny=tiny, compile=compile)
    # On the CPU the sync detector follows every op (slow): the timed pass runs without it and a
    # second, cheaper pass counts. On CUDA the debug mode costs nothing, so one pass does both.
    # --tiny (CI) runs one counted pass: its timings are the code path's, not the machine's.
    check_suite = suite or CHECK_SUITES / ("device-check-tiny.yaml" if tiny else "device-check.yaml")
    passes.output.save()
    with stop_on_signals():
        passes.run(result["runs"], check_suite, "eager", budget_scale, count=device.type == "cuda" or tiny)
        if device.type != "cuda" and not tiny:
            counted = passes.run([], check_suite, "counted", budget_scale, count=True)
            for row, counted_row in zip(result["runs"], counted):
                row["syncs"] = counted_row["syncs"]
        if compile:
            passes.run(result["runs"], check_suite, "compiled", budget_scale, compile_models=True, count=False)
        result["quick"] = _quick_pass(passes, suite, tiny)
        result["complete"] = True
    result["seconds"] = round(time.perf_counter() - passes.started, 1)
    passes.output.save()
    return result


def _prepare(device: torch.device, out: Path, data_dir: str | None, quiet: bool, only) -> Passes:
    """The check's registry (with its datasets), data, progress and output, the machine said."""
    from bench import registry
    from bench.data.store import DataStore
    from bench.progress import Progress
    from bench.runner import DatasetCache

    data_store = DataStore(data_dir, offline=True)
    data = CheckData(data_store.data_dir)
    reg = registry.load(extra_plugins=[("device-check", data)])
    progress = Progress(quiet=quiet)
    started = time.perf_counter()
    env = environment(device)
    progress.message("device check: " + ", ".join(f"{k} {v}" for k, v in env.items() if v is not None))
    result: dict[str, Any] = {
        "environment": env,
        "suite": None,
        "tiny": False,
        "compile": False,
        "complete": False,  # true once every pass has run; a check stopped early says false
        "data": {
            "check-cifar": str(data.subset) if data.subset else "synthetic (no cifar-10-subset found)",
            "check-images": {n: list(s) for n, s in CHECK_IMAGES.items()},
        },
        "runs": [],
        "quick": "not run yet",
        "seconds": 0.0,
    }
    output = Output(out, result)
    return Passes(device, reg, data_store, DatasetCache(data_store), output, progress, only, started)


def _quick_pass(passes: Passes, suite: Path | None, tiny: bool):
    """The quick suite at a smoke budget (its rows), or why it was skipped."""
    if suite is not None:
        return f"skipped: the check ran {suite}"
    root = passes.data_store.data_dir
    if not (root / "mnist").is_dir():
        return f"skipped: no MNIST under {root} (set BENCH_DATA_DIR or --data-dir)"
    rows = passes.output.result["quick"] = []
    return passes.run(rows, SUITES / "quick.yaml", "quick", 0.01 if tiny else 0.1, seeds=[0] if tiny else None)


# -- the table ---------------------------------------------------------------------------------------------


def table(result: dict) -> str:
    env = result["environment"]
    where = env["gpu"] or f"CPU ({env['cpu']}, {env['cpu_threads']} threads)"
    lines = [
        f"# Device check: {where}",
        "",
        f"torch {env['torch']}, CUDA {env['cuda']}, cuDNN {env['cudnn']}, driver {env['driver']}; "
        f"check-cifar: {result['data']['check-cifar']}; {result['seconds']} s in all"
        + ("." if result.get("complete", True) else " (stopped early: the rows it finished)."),
        "",
        "| run | compiled | status | syncs/step | peak MiB | throughput |",
        "|---|---|---|---|---|---|",
    ]
    rows = result["runs"] + (result["quick"] if isinstance(result["quick"], list) else [])
    for row in rows:
        rates = ", ".join(
            f"{name} {v['items_per_s']:.1f}"
            for name, v in row["throughput"].items()
            if v.get("items_per_s") is not None
        )
        syncs = row["syncs"]["loop_per_step"] if row["syncs"] else ""
        status = row["status"] if row["status"] == "ok" else f"{row['status']}: {_cell(row['error'])}"
        lines.append(
            f"| {row['label']} | {_compiled_cell(row)} | {status} | {syncs} | "
            f"{row['peak_memory_mib'] if row['peak_memory_mib'] is not None else ''} | {rates} |"
        )
    if isinstance(result["quick"], str):
        lines += ["", f"quick suite: {result['quick']}"]
    return "\n".join(lines) + "\n"


def _compiled_cell(row: dict) -> str:
    stats = row.get("compiling")
    if not row["compile"]:
        return "no"
    if not stats:
        return "yes"
    return f"yes: {stats['graphs']} graphs, {stats['graph_breaks']} breaks, {stats['compile_seconds']} s compiling"


def _cell(text) -> str:
    """A record's text as one Markdown table cell: its pipes escaped, its lines joined."""
    return " ".join(str(text).split()).replace("|", "\\|")


def main(args) -> int:
    result = check(
        args.device,
        Path(args.out),
        tiny=args.tiny,
        compile=args.compile,
        data_dir=args.data_dir,
        budget_scale=args.budget_scale,
        quiet=args.quiet,
        only=args.only,
    )
    print(table(result))
    rows = result["runs"] + (result["quick"] if isinstance(result["quick"], list) else [])
    return 1 if any(r["status"] not in ("ok", "skipped") for r in rows) else 0
