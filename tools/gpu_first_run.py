"""The first thing to run on a lent GPU: ``make gpu-first-run OUT=DIR`` (docs/ci.md, "The first
GPU minutes"). Offline, with the machine's own torch (``tools/offline_setup.py``), in steps that
each write ``first-run.json`` under ``--out`` as they finish, so a run cut short keeps what it
measured:

1. ``environment``: torch, CUDA, cuDNN, driver, the GPU and its compute capability, the precision
   ``auto`` picks there and the TF32 switches as a run sets them;
2. ``sync_control``: the sync counter's positive control: a loop with ``.item()`` must count a
   sync per iteration, the same loop without it none;
3. ``timing``: a matmul timed with CUDA events (``bench.timing.measure``) against synchronized
   wall time, and the time the host takes to queue it (should be far less: launches are async);
4. ``dip_512``: Deep Image Prior denoising at 512x512 through bench's runner, NCHW and
   channels-last, in fp32 and bf16 (iterations/s, peak memory), into ``dip-512/``;
5. ``device_check``: the eager device check (``bench gpu-check``), into ``device-check/``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
import traceback
from pathlib import Path

import torch

DIP_VARIANTS = [("fp32", False), ("fp32", True), ("bf16", False), ("bf16", True)]


def environment(device: torch.device, args) -> dict:
    from bench import accel, devicecheck
    from bench.records import code_version

    env = devicecheck.environment(device)
    env["auto_precision"] = accel.default_precision(device)
    env["switches"] = accel.configure(device)
    env["bench"] = code_version()
    return env


def _total(counter) -> int:
    return sum(sum(kinds.values()) for kinds in counter.counts.values())


def sync_control(device: torch.device, args) -> dict:
    from bench.syncs import SyncCounter

    x = torch.ones(1024, device=device)
    with SyncCounter(device) as reading:
        for _ in range(10):
            (x * 2).sum().item()
    with SyncCounter(device) as quiet:
        for _ in range(10):
            x = x * 1.0001
    found, clean = _total(reading), _total(quiet)
    return {
        "with_item": reading.report()["counts"],
        "without": quiet.report()["counts"],
        "positive_control_ok": found >= 10 and clean == 0,
    }


def timing_control(device: torch.device, args) -> dict:
    from bench.timing import measure, synchronize

    n = 4096 if device.type == "cuda" else 256
    out = {"size": n}
    for dtype in (torch.float32, torch.bfloat16):
        a, b = (torch.randn(n, n, device=device, dtype=dtype) for _ in range(2))
        events = measure(lambda a=a, b=b: a @ b, device, warmup=3, repeats=20)
        synchronize(device)
        start = time.perf_counter()
        for _ in range(20):
            a @ b
            synchronize(device)
        wall = (time.perf_counter() - start) / 20
        start = time.perf_counter()
        a @ b  # queued, not waited for
        queued = time.perf_counter() - start
        synchronize(device)
        out[str(dtype).removeprefix("torch.")] = {
            "event_median_s": events["median_s"],
            "synchronized_wall_s": wall,
            "events_over_wall": events["median_s"] / wall,
            "host_queue_s": queued,
            "tflops": 2 * n**3 / events["median_s"] / 1e12,
        }
    return out


def dip_suite(image: str, iterations: int, precision: str, channels_last: bool) -> str:
    """One suite per variant: precision and memory format are not part of a run's key, so one
    suite would hold the four as one run."""
    layout = "channels-last" if channels_last else "nchw"
    return (
        f"name: first-run-dip-{precision}-{layout}\nseeds: [0]\n"
        f"precision: {precision}\nchannels_last: {str(channels_last).lower()}\nruns:\n"
        f"  - {{datasets: [check-images], methods: [{{name: dip, budget: {{denoise_iterations: {iterations}}}}}], "
        f"protocol: {{name: restore, task: denoise, sigma: 25.0, images: [{image}]}}}}\n"
    )


def dip_512(device: torch.device, args) -> dict:
    """DIP denoising in each variant, through bench's runner (``<out>/dip-<variant>/``)."""
    from bench import devicecheck

    out = {}
    for precision, channels_last in DIP_VARIANTS:
        variant = f"{precision}-{'channels-last' if channels_last else 'nchw'}"
        suite = args.out / f"dip-{variant}.yaml"
        suite.write_text(dip_suite(args.dip_image, args.dip_iterations, precision, channels_last))
        result = devicecheck.check(
            str(device), args.out / f"dip-{variant}", suite=suite, data_dir=args.data_dir, quiet=True
        )
        (row,) = result["runs"]
        out[variant] = {
            "status": row["status"],
            "error": row["error"],
            "ran_as": row["accel"],
            "iterations_per_s": row["throughput"].get("iterations_per_s", {}).get("items_per_s"),
            "peak_memory_mib": row["peak_memory_mib"],
            "wall_seconds": row["wall_seconds"],
        }
    return out


def device_check(device: torch.device, args) -> dict:
    from bench import devicecheck

    result = devicecheck.check(
        str(device), args.out / "device-check", tiny=args.tiny, data_dir=args.data_dir, quiet=True, only=args.only
    )
    return {
        "complete": result["complete"],
        "statuses": {row["label"]: row["status"] for row in result["runs"]},
        "seconds": result["seconds"],
    }


STEPS = {
    "environment": environment,
    "sync_control": sync_control,
    "timing": timing_control,
    "dip_512": dip_512,
    "device_check": device_check,
}


def main(argv: list[str] | None = None) -> int:
    from bench.records import write_json_atomic
    from bench.runner import Interrupted, stop_on_signals

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for first-run.json and the steps' outputs")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--data-dir", default=None, help="data folder (CIFAR subset; never downloads)")
    parser.add_argument("--dip-image", default="rgb-512", help="the check image DIP restores")
    parser.add_argument("--dip-iterations", type=int, default=200)
    parser.add_argument("--tiny", action="store_true", help="the tiny device check (CI)")
    parser.add_argument("--only", action="append", help="device check: only runs whose label contains this")
    parser.add_argument("--steps", default=",".join(STEPS), help="comma-separated steps to run")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    from bench.context import pick_device

    device = pick_device(args.device)
    report = {"started_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "steps": {}}
    report["complete"] = False
    path = args.out / "first-run.json"
    write_json_atomic(path, report)
    code = 0
    try:
        with stop_on_signals():
            for name in args.steps.split(","):
                start = time.perf_counter()
                try:
                    step = {"status": "ok", **STEPS[name](device, args)}
                except (Interrupted, KeyboardInterrupt):
                    raise
                except Exception as exc:
                    code = 1
                    step = {"status": "error", "error": f"{type(exc).__name__}: {exc}"[:500]}
                    step["traceback"] = traceback.format_exc()[-2000:]
                step["seconds"] = round(time.perf_counter() - start, 1)
                report["steps"][name] = step
                write_json_atomic(path, report)
                print(f"first run: {name} {step['status']} in {step['seconds']} s", flush=True)
            report["complete"] = True
    except Interrupted as exc:
        report["stopped"] = str(exc)
        code = exc.exit_code
    write_json_atomic(path, report)
    return code


if __name__ == "__main__":
    sys.exit(main())
