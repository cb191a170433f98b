"""``bench gpu-check``: one prepared, offline check of a machine's accelerator (or its CPU).

It prints the device, driver, CUDA and cuDNN; runs the quick suite at a smoke budget and the
device-check suite (every built-in method, at the papers' image sizes where speed is measured:
``suites/device-check/device-check.yaml``, or ``device-check-tiny.yaml`` with ``--tiny``; a
folder of their own: they name the check's datasets, which only the check registers) through the
host's own runner, with the suites' switches (bf16 autocast, channels-last and TF32 on CUDA);
counts the syncs each run's step loop makes (:class:`bench.syncs.SyncCounter`: on CUDA
``torch.cuda.set_sync_debug_mode("warn")``, elsewhere the simulated device), records each run's
peak device memory and throughputs (the records' own figures: warm, synchronized, medians, CUDA
events on CUDA), runs the suite again compiled (unless ``--no-compile``), and writes
``device-check.json`` and ``device-check.md`` under the output folder.

Data: the check's own two sets, registered here (no network): ``check-cifar`` is the real
CIFAR-10 subset (4,000 / 1,000 images) when ``<data dir>/cifar-10-subset`` exists, else
synthetic class templates of the same shape (the JSON says which); ``check-images`` are
synthetic smooth RGB images at the sizes the restoration methods are timed at.
"""

from __future__ import annotations

import json
import math
import pickle
import platform
import subprocess
import time
from pathlib import Path

import torch

from bench import DatasetSpec, ImageSet, LabelledImages, RestorationImage, hookimpl

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
        planes.append(sum(torch.sin(2 * math.pi * (fy * y + fx * x) + ph) for fy, fx, ph in f.tolist()))
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


def run_counted(specs, reg, store, cache, device: torch.device, progress, *, count: bool) -> list[dict]:
    """Run each spec through the host's ``execute``; per run its status, wall time, peak device
    memory, throughputs and (``count``) the syncs per step of its loop."""
    from bench.runner import execute
    from bench.syncs import SyncCounter

    rows = []
    for i, spec in enumerate(specs, 1):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
            torch.cuda.reset_peak_memory_stats(device)
        counter = SyncCounter(device) if count else None
        label = f"[{i}/{len(specs)}] {spec.label}"
        if counter is not None:
            with counter:
                _, record = execute(spec, reg, store, cache, progress, label)
        else:
            _, record = execute(spec, reg, store, cache, progress, label)
        rows.append(
            {
                "label": spec.label,
                "suite": spec.suite,
                "method": spec.method,
                "dataset": spec.dataset,
                "protocol": spec.protocol,
                "compile": spec.compile,
                "status": record["status"],
                "error": record.get("error", {}).get("message"),
                "wall_seconds": record["timings"]["wall_seconds"],
                "peak_memory_mib": round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
                if device.type == "cuda"
                else None,
                "metrics": record.get("metrics", {}),
                "throughput": {
                    name: {k: v.get(k) for k in ("items_per_s", "warm", "batch_size", "resolution") if k in v}
                    for name, v in record.get("throughput", {}).items()
                    if isinstance(v, dict)
                },
                "syncs": counter.report() if counter is not None else None,
                "accel": record.get("accel"),
            }
        )
    return rows


def check(
    device_name: str,
    out: Path,
    *,
    tiny: bool = False,
    compile: bool = True,
    data_dir: str | None = None,
    budget_scale: float | None = None,
    quiet: bool = False,
) -> dict:
    from bench import registry
    from bench.context import pick_device
    from bench.data.store import DataStore
    from bench.progress import Progress
    from bench.records import ResultStore
    from bench.runner import DatasetCache
    from bench.suite import load_suite

    device = pick_device(device_name)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    data_store = DataStore(data_dir, offline=True)
    data = CheckData(data_store.root)
    reg = registry.load(extra_plugins=[("device-check", data)])
    progress = Progress(quiet=quiet)
    started = time.perf_counter()
    env = environment(device)
    progress.message("device check: " + ", ".join(f"{k} {v}" for k, v in env.items() if v is not None))
    result = {
        "environment": env,
        "tiny": tiny,
        "compile": compile,
        "data": {
            "check-cifar": str(data.subset) if data.subset else "synthetic (no cifar-10-subset found)",
            "check-images": {n: list(s) for n, s in CHECK_IMAGES.items()},
        },
        "runs": [],
    }

    def run(suite_file: Path, results: str, scale: float | None, seeds=None, compile_models=False, count=True):
        suite = load_suite(
            suite_file, reg, budget_scale=scale, seeds=seeds, device=str(device), compile_models=compile_models
        )
        store = ResultStore(out / results)
        return run_counted(suite.runs, reg, store, DatasetCache(data_store), device, progress, count=count)

    # On the CPU the sync detector follows every op (slow): the timed pass runs without it and a
    # second, cheaper pass counts. On CUDA the debug mode costs nothing, so one pass does both.
    # --tiny (CI) runs one counted pass: its timings are the code path's, not the machine's.
    check_suite = CHECK_SUITES / ("device-check-tiny.yaml" if tiny else "device-check.yaml")
    result["runs"] = run(check_suite, "results/eager", budget_scale, count=device.type == "cuda" or tiny)
    if device.type != "cuda" and not tiny:
        counted = run(check_suite, "results/counted", budget_scale, count=True)
        for row, counted_row in zip(result["runs"], counted):
            row["syncs"] = counted_row["syncs"]
    if compile:
        compiled = run(check_suite, "results/compiled", budget_scale, compile_models=True, count=False)
        result["runs"] += compiled
    if (Path(data_store.root) / "mnist").is_dir():
        quick = run(SUITES / "quick.yaml", "results/quick", 0.01 if tiny else 0.1, seeds=[0] if tiny else None)
        result["quick"] = quick
    else:
        result["quick"] = f"skipped: no MNIST under {data_store.root} (set BENCH_DATA_DIR or --data-dir)"
    result["seconds"] = round(time.perf_counter() - started, 1)
    (out / "device-check.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    (out / "device-check.md").write_text(table(result))
    return result


# -- the table ---------------------------------------------------------------------------------------------


def table(result: dict) -> str:
    env = result["environment"]
    where = env["gpu"] or f"CPU ({env['cpu']}, {env['cpu_threads']} threads)"
    lines = [
        f"# Device check: {where}",
        "",
        f"torch {env['torch']}, CUDA {env['cuda']}, cuDNN {env['cudnn']}, driver {env['driver']}; "
        f"check-cifar: {result['data']['check-cifar']}; {result['seconds']} s in all.",
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
            f"| {row['label']} | {'yes' if row['compile'] else 'no'} | {status} | {syncs} | "
            f"{row['peak_memory_mib'] if row['peak_memory_mib'] is not None else ''} | {rates} |"
        )
    if isinstance(result["quick"], str):
        lines += ["", f"quick suite: {result['quick']}"]
    return "\n".join(lines) + "\n"


def _cell(text) -> str:
    """A record's text as one Markdown table cell: its pipes escaped, its lines joined."""
    return " ".join(str(text).split()).replace("|", "\\|")


def main(args) -> int:
    result = check(
        args.device,
        Path(args.out),
        tiny=args.tiny,
        compile=not args.no_compile,
        data_dir=args.data_dir,
        budget_scale=args.budget_scale,
        quiet=args.quiet,
    )
    print(table(result))
    rows = result["runs"] + (result["quick"] if isinstance(result["quick"], list) else [])
    return 1 if any(r["status"] != "ok" for r in rows) else 0
