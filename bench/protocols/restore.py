"""The single-image restoration protocol: host-owned degradation, per-image loop, scoring, timing.

1. The set's images are loaded at their real sizes and modes; ``images`` / ``max_images`` pick a
   subset (the same for every method).
2. Each image is degraded by the host (:mod:`bench.restoration.degrade`): the same noise, LR
   image or mask for every method and run (seeded by the protocol's ``noise_seed`` and the
   image's name, never by the run's seed).
3. ``method.restore(problem, ctx)`` restores one image; the clean image is never given to it. The
   host times each call (synchronized) after one untimed warm-up call at the smallest budget, on
   a small crop (on the whole first image when the run compiles or runs on CUDA, so the timed
   call neither recompiles nor autotunes), and subtracts the time spent in ``ctx.monitor``.
4. The restored image is clipped to [0, 1] and rounded to uint8 (as saved), then scored with the
   task's convention (:mod:`bench.restoration.metrics`); a set's value is the mean over images.
5. Saved for people: the clean target, the degraded input (exact: ``.npy`` for noisy floats,
   ``.png`` otherwise, plus a viewable PNG), the restored image and, when monitored, the PSNR
   curve as JSON and a plot. ``bench figures`` assembles side-by-side pictures across methods.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from bench.context import Bookkeeping, bookkeeping, seed_everything
from bench.metric_table import METRICS
from bench.paths import safe_name  # the folder name figures look the image up by
from bench.restoration.context import RestoreContext
from bench.restoration.degrade import Degradation, make_problem
from bench.restoration.images import ImageSet, RestorationImage, write_image
from bench.restoration.metrics import Convention, psnr, ssim, to_uint8
from bench.specs import Budget
from bench.timing import summarize, synchronize

if TYPE_CHECKING:  # annotations only: the runner and the suite import the protocols
    from bench.runner import RunEnv
    from bench.specs import Restorer
    from bench.suite import RunSpec

WARMUP_CROP = 48  # side of the warm-up crop, in LR pixels for SR


def degradation_from_options(options: dict) -> Degradation:
    return Degradation(
        task=options["task"],
        sigma=float(options["sigma"]),
        scale=int(options["scale"]),
        noise_clip=options["noise_clip"],
        noise_seed=int(options["noise_seed"]),
        drop_ratio=float(options["drop_ratio"]),
        mask=options["mask"],
    )


def check_method(method, degradation: Degradation) -> None:
    supported = tuple(getattr(method, "restorations", ()) or ())
    if degradation.task not in supported:
        raise ValueError(
            f"method {method.name!r} restores {', '.join(supported) or 'nothing'}, not {degradation.task!r}"
        )


def select_images(images: ImageSet, options: dict) -> ImageSet:
    if options.get("images"):
        images = images.select(list(options["images"]))
    if options.get("max_images", 0) > 0:
        images = ImageSet(images.name, images.images[: options["max_images"]])
    if not len(images):
        raise ValueError(f"{images.name}: no images to restore")
    return images


@dataclass
class _Restoring:
    """One run of the protocol: the spec, the method, the runner's environment and what every image
    shares (the degradation, the scoring convention, the budget)."""

    spec: RunSpec
    method: Restorer
    env: RunEnv
    degradation: Degradation
    convention: Convention
    budget: Budget

    def context(self, label: str, budget: Budget, monitor=None) -> RestoreContext:
        return RestoreContext(
            device=self.env.device,
            seed=self.spec.seed,
            budget=budget,
            params=self.spec.params,
            artifacts_dir=self.env.artifacts_dir,
            progress=self.env.progress,
            switches=self.env.switches,
            monitor_every=self.spec.protocol_options["monitor_every"],
            monitor=monitor,
            label=label,
        )


@dataclass
class _Restored:
    """What the per-image loop gathers: each image's scores and times, the curves and the rates the
    method measured itself."""

    per_image: list[dict] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    iterations: list[int] = field(default_factory=list)
    loop_seconds: list[float] = field(default_factory=list)
    curves: dict[str, list[dict]] = field(default_factory=dict)
    rates: dict[str, dict] = field(default_factory=dict)

    def add(self, name: str, entry: dict, elapsed: float, book) -> None:
        self.per_image.append(entry)
        self.seconds.append(elapsed)
        self.iterations.append(book.steps)
        self.loop_seconds.append(book.loop_seconds)
        self.rates.update(book.throughputs)
        if book.curves:
            self.curves[name] = book.curves


def run(spec, method, dataset, env) -> dict:
    options = spec.protocol_options
    degradation = degradation_from_options(options)
    check_method(method, degradation)
    t_load = time.perf_counter()
    images = select_images(env.data.load(dataset, "test"), options)
    load_seconds = time.perf_counter() - t_load
    scale = degradation.scale if degradation.task == "sr" else 1
    job = _Restoring(spec, method, env, degradation, Convention.for_task(degradation.task, scale), Budget(spec.budget))
    warmup_seconds = _warm_up(job, images.images[0]) if options["warmup"] else None
    restored = _Restored()
    for index, item in enumerate(images, 1):
        entry, elapsed, book = _restore_image(job, item, f"{item.name} ({index}/{len(images)})")
        restored.add(item.name, entry, elapsed, book)
    timings = {
        "load_seconds": round(load_seconds, 3),
        "warmup_seconds": None if warmup_seconds is None else round(warmup_seconds, 3),
        "restore_seconds": round(sum(restored.seconds), 3),
    }
    return _result(job, images, restored, timings)


def _warm_up(job: _Restoring, first: RestorationImage) -> float:
    """One untimed call at the smallest budget (every value 1) on the warm-up image; its seconds."""
    device = job.env.device
    crop = _warmup_image(first, job.degradation, whole=job.env.switches.compile or device.type == "cuda")
    problem = make_problem(job.degradation.apply(crop), device, name="warmup")
    seed_everything(job.spec.seed)
    synchronize(device)
    start = time.perf_counter()
    job.method.restore(problem, job.context("warm-up", job.budget.scaled(1e-9)))
    synchronize(device)
    return time.perf_counter() - start


def _restore_image(job: _Restoring, item: RestorationImage, label: str) -> tuple[dict, float, Bookkeeping]:
    """Degrade, restore (timed, monitoring excluded), check, score and save one image: its entry
    in ``per_image``, the method's seconds and the context's bookkeeping."""
    device, method, convention = job.env.device, job.method, job.convention
    degraded = job.degradation.apply(item)
    problem = make_problem(degraded, device, name=item.name)

    def monitor(iteration: int, output: torch.Tensor, clean=degraded.clean) -> dict:
        return {"psnr": round(psnr(to_uint8(output.cpu()), clean, convention), 4)}

    ctx = job.context(label, job.budget, monitor)
    book = bookkeeping(ctx)
    seed_everything(job.spec.seed)  # the same start for every image, whatever ran before
    synchronize(device)
    start = time.perf_counter()
    output = method.restore(problem, ctx)
    synchronize(device)
    elapsed = time.perf_counter() - start - book.monitor_seconds
    _check_output(method.name, item.name, output, tuple(degraded.clean.shape))
    restored = to_uint8(output.cpu())
    entry = {
        "image": item.name,
        "shape": list(degraded.clean.shape),
        "input_sha256": degraded.checksum(),  # every method restored this very input
        "psnr": psnr(restored, degraded.clean, convention),
        "ssim": ssim(restored, degraded.clean, convention),
        "seconds": round(elapsed, 4),
        "iterations": book.steps,
        "loop_seconds": round(book.loop_seconds, 4),
    }
    if job.degradation.task in ("denoise", "inpaint"):
        observed = to_uint8(degraded.observed)
        entry["input_psnr"] = psnr(observed, degraded.clean, convention)
        entry["input_ssim"] = ssim(observed, degraded.clean, convention)
    if problem.info:  # what the method says it chose for this image
        entry["method_info"] = dict(problem.info)
    _save_image_outputs(
        Path(job.env.artifacts_dir) / safe_name(item.name), degraded, restored, book.curves, method.name, entry
    )
    job.env.progress.message(
        f"  {item.name}: PSNR {entry['psnr']:.2f} dB  SSIM {entry['ssim']:.4f}  {elapsed:.1f} s  {book.steps} it"
    )
    return entry, elapsed, book


def _check_output(method: str, image: str, output, shape: tuple) -> None:
    """A ValueError naming the method unless ``output`` is a finite tensor of the clean image's shape."""
    if not isinstance(output, torch.Tensor) or tuple(output.shape) != shape:
        got = tuple(output.shape) if isinstance(output, torch.Tensor) else type(output).__name__
        raise ValueError(f"method {method!r} returned {got} for {image}, expected a tensor of shape {shape}")
    if not torch.isfinite(output).all():
        raise ValueError(f"method {method!r} returned non-finite values for {image}")


def _result(job: _Restoring, images: ImageSet, restored: _Restored, timings: dict) -> dict:
    """The protocol's result: the set's metrics (means over images), what they mean, the rates and
    the per-image details."""
    per_image, seconds, loop_seconds = restored.per_image, restored.seconds, restored.loop_seconds
    metrics = {
        "psnr": statistics.fmean(e["psnr"] for e in per_image),
        "ssim": statistics.fmean(e["ssim"] for e in per_image),
        "seconds_per_image": statistics.fmean(seconds),
    }
    total_iterations = sum(restored.iterations)
    # Iterations/s over the method's iteration loops (ctx.iterations) when it uses them, so
    # set-up and post-processing (ZSSR's ensemble) do not count; else over the whole call.
    rate_seconds = sum(loop_seconds) if all(loop_seconds) else sum(seconds)
    if total_iterations:
        metrics["iterations_per_s"] = total_iterations / rate_seconds
    if "input_psnr" in per_image[0]:
        metrics["input_psnr"] = statistics.fmean(e["input_psnr"] for e in per_image)
    throughput = {"restore_images_per_s": summarize(seconds, 1)}
    if total_iterations:
        throughput["iterations_per_s"] = {
            "items_per_s": total_iterations / rate_seconds,
            "iterations": total_iterations,
            "seconds": round(rate_seconds, 4),
            "loop_only": all(loop_seconds),
        }
    throughput.update(restored.rates)  # rates the method measured itself (ctx.measure / ctx.timed; the last image's)
    degradation, convention = job.degradation, job.convention
    metric_info = _metric_info(f"{convention.describe()}; {len(per_image)} images of {images.name}")
    return {
        "metrics": metrics,
        "metric_info": {k: v for k, v in metric_info.items() if k in metrics},
        "throughput": throughput,
        "timings": timings,
        "details": {
            "task": degradation.task,
            "setting": degradation.label,
            "degradation": degradation.describe(),
            "convention": convention.describe(),
            "per_image": per_image,
            "curves": restored.curves,
            "budget_vs_full": {k: {"used": v, "full": job.method.budget.get(k)} for k, v in job.spec.budget.items()},
        },
    }


def _metric_info(where: str) -> dict:
    """What each of the protocol's metrics means; ``where``: the convention and the images scored."""
    conventions = {
        "psnr": where,
        "ssim": where,
        "seconds_per_image": "mean wall seconds of method.restore per image, synchronized, after a "
        "warm-up call, host monitoring excluded",
        "iterations_per_s": "iterations counted by ctx.step over the synchronized seconds of "
        "the methods' ctx.iterations loops (monitoring excluded), all images",
        "input_psnr": f"the degraded input itself (clipped, rounded), {where}",
    }
    return {name: METRICS[name].info(convention) for name, convention in conventions.items()}


def _warmup_image(item: RestorationImage, degradation: Degradation, whole: bool = False) -> RestorationImage:
    """The warm-up's image: a small crop of the first image, or (``whole``: a compiled run, or on
    CUDA, where cuDNN autotunes each new shape) the whole first image, so that its timed call
    neither recompiles nor autotunes."""
    if whole:
        return RestorationImage(f"{item.name}-warmup", item.image, item.mask)
    side = WARMUP_CROP * (degradation.scale if degradation.task == "sr" else 1)
    h, w = item.image.shape[1:]
    crop = item.image[:, : min(h, side), : min(w, side)].contiguous()
    mask = item.mask[:, : crop.shape[1], : crop.shape[2]].contiguous() if item.mask is not None else None
    return RestorationImage(f"{item.name}-warmup", crop, mask)


def _save_image_outputs(
    folder: Path, degraded, restored: torch.Tensor, curve: list[dict], method: str, entry: dict
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    write_image(folder / "clean.png", degraded.clean)
    write_image(folder / "restored.png", restored)
    if degraded.task == "denoise":
        np.save(folder / "degraded.npy", degraded.observed.numpy())  # exact float32 noisy input
        write_image(folder / "degraded.png", to_uint8(degraded.observed))  # clipped, rounded: to look at
    elif degraded.task == "sr":
        write_image(folder / "degraded.png", to_uint8(degraded.observed))  # exact: the uint8 LR image
    else:
        write_image(folder / "degraded.png", to_uint8(degraded.observed))  # exact: uint8 image x mask
        write_image(folder / "mask.png", degraded.mask * 255)
    (folder / "scores.json").write_text(json.dumps({"method": method, **entry}, indent=1))
    if curve:
        (folder / "curve.json").write_text(json.dumps(curve))
        _plot_curve(folder / "psnr_curve.png", curve, method, entry)


def _plot_curve(path: Path, curve: list[dict], method: str, entry: dict) -> None:
    try:
        import matplotlib
    except ImportError:  # a machine without it (a lent GPU's own environment): curve.json has the numbers
        return

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series: dict[str, list[tuple[int, float]]] = {}
    for point in curve:
        for key, value in point.items():
            if key.startswith("psnr") and isinstance(value, (int, float)):
                series.setdefault(key, []).append((point["iteration"], value))
    if not series:
        return
    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=100)
    for key, points in series.items():
        xs, ys = zip(*points)
        ax.plot(xs, ys, label={"psnr": "output", "psnr_avg": "averaged output"}.get(key, key))
    if "input_psnr" in entry:
        ax.axhline(entry["input_psnr"], color="gray", linestyle="--", label="degraded input")
    ax.set_xlabel("iteration")
    ax.set_ylabel("PSNR (dB)")
    ax.set_title(f"{method} on {entry['image']}: final {entry['psnr']:.2f} dB")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
