"""airbench94 side by side: the PyPI package ``airbench``'s ``train94`` (Keller Jordan's code, fp16)
and bench's ``airbench94`` plugin (fp32 weights under bf16 autocast, the host's precision policy),
on the same GPU and the same CIFAR-10 tensors, n runs each, accuracy with TTA level 2 and training
time. Made for a GPU machine without network access:

    # where there is network (once): the package and the data
    pip download airbench==0.1.8 --no-deps -d wheels/
    mkdir -p /data/cifar-10 && curl -L -o /data/cifar-10/cifar-10-python.tar.gz \
        https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz      # bench's offline error names the file
    # on the GPU machine
    pip install --no-deps wheels/airbench-0.1.8.tar.gz     # (torchvision optional, see below)
    BENCH_DATA_DIR=/data python tools/airbench_side_by_side.py --runs 5 --out side_by_side.json

The CIFAR-10 split comes from bench's data store (offline: the staged files only) and is written
once as ``<work-dir>/train.pt`` and ``test.pt``, the files ``airbench.CifarLoader`` reads before it
would download anything; its top-level torchvision import (only for that download) is stood in for
by an empty module where torchvision is not installed. Each side gets one untimed warm-up run.
Timing: wall clock around training, CUDA-synchronised, evaluation excluded for both.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import time
import types
from pathlib import Path

import torch


def cifar10(offline: bool = True):
    from bench import registry
    from bench.data.store import DataStore

    spec = registry.load().dataset("cifar10")
    store = DataStore(None, offline=True if offline else None)  # $BENCH_DATA_DIR, files staged
    return spec.load("train", store), spec.load("test", store)


def stage_for_airbench(train, test, work_dir: Path) -> None:
    """train.pt / test.pt as CifarLoader expects: uint8 (N, H, W, C) images, labels, classes."""
    work_dir.mkdir(parents=True, exist_ok=True)
    for name, split in (("train", train), ("test", test)):
        torch.save(
            {
                "images": split.images.permute(0, 2, 3, 1).contiguous().cpu(),
                "labels": split.labels.cpu(),
                "classes": list(split.classes),
            },
            work_dir / f"{name}.pt",
        )


def import_airbench():
    if importlib.util.find_spec("torchvision") is None:
        fake = types.ModuleType("torchvision")
        fake.transforms = types.ModuleType("torchvision.transforms")
        fake.transforms.Normalize = _Normalize
        sys.modules["torchvision"], sys.modules["torchvision.transforms"] = fake, fake.transforms
    import airbench

    return airbench


class _Normalize:
    """torchvision.transforms.Normalize on a (B, C, H, W) tensor, for CifarLoader without torchvision."""

    def __init__(self, mean, std):
        self.mean, self.std = torch.as_tensor(mean), torch.as_tensor(std)

    def __call__(self, x):
        return (x - self.mean.to(x)[:, None, None]) / self.std.to(x)[:, None, None]


def run_official(airbench, work_dir: Path, runs: int) -> list[dict]:
    from airbench import lib_airbench94

    def loaders():
        train = airbench.CifarLoader(
            str(work_dir),
            train=True,
            batch_size=lib_airbench94.hyp["opt"]["batch_size"],
            aug=lib_airbench94.hyp["aug"],
            altflip=True,
        )
        return train, airbench.CifarLoader(str(work_dir), train=False, batch_size=2000)

    airbench.warmup94(train_loader=loaders()[0], verbose=False)
    out = []
    for run in range(runs):
        train, test = loaders()
        torch.cuda.synchronize()
        start = time.perf_counter()
        model = airbench.train94(train_loader=train, run=run, verbose=False)
        torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        accuracy = 100 * airbench.evaluate(model, test, tta_level=lib_airbench94.hyp["net"]["tta_level"])
        out.append({"run": run, "test_accuracy": accuracy, "train_seconds": seconds})
        print(f"official airbench94 run {run}: {accuracy:.2f}% in {seconds:.2f} s", flush=True)
    return out


def run_ours(train, test, runs: int, device: torch.device) -> list[dict]:
    from bench import TrainData
    from bench.accel import Switches
    from bench.context import RunContext
    from bench.data.loader import Normalize
    from bench.progress import Progress
    from bench.specs import Budget
    from bench_plugins.methods.airbench import PARAMS, fit_airbench94

    data = TrainData(train=train, val=None, num_classes=train.num_classes)

    normalize = Normalize.fit(train.images)  # once: the same statistics every run

    def context(seed: int) -> RunContext:
        return RunContext(
            device=device,
            seed=seed,
            budget=Budget({"epochs": 9.9}),
            params=dict(PARAMS),
            normalize=normalize,
            artifacts_dir=Path("/tmp"),
            progress=Progress(quiet=True),
            switches=Switches("bf16", True),
        )

    fit_airbench94(data, context(10_000))  # warm-up
    out = []
    for run in range(runs):
        ctx = context(run)  # outside the clock, as the official side's loaders are
        torch.cuda.synchronize()
        start = time.perf_counter()
        model = fit_airbench94(data, ctx)
        torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        with torch.no_grad(), ctx.autocast():
            accuracy = ctx.accuracy(model, test)
        out.append({"run": run, "test_accuracy": accuracy, "train_seconds": seconds})
        print(f"bench airbench94 run {run}: {accuracy:.2f}% in {seconds:.2f} s", flush=True)
    return out


def summary(rows: list[dict]) -> dict:
    acc = [r["test_accuracy"] for r in rows]
    sec = [r["train_seconds"] for r in rows]

    def sd(v: list[float]) -> float:
        return statistics.stdev(v) if len(v) > 1 else 0.0

    return {
        "n": len(rows),
        "accuracy_mean": statistics.mean(acc),
        "accuracy_std": sd(acc),
        "seconds_mean": statistics.mean(sec),
        "seconds_std": sd(sec),
        "runs": rows,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--work-dir", type=Path, default=Path("airbench_side_by_side"), help="where train.pt/test.pt go"
    )
    parser.add_argument("--out", type=Path, default=None, help="write the summary here as JSON")
    parser.add_argument("--only", choices=["official", "ours"], default=None)
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print("airbench_side_by_side: needs a CUDA GPU (the official airbench94 runs in fp16 on CUDA)", file=sys.stderr)
        return 2
    device = torch.device("cuda")
    train, test = cifar10()
    train.images, train.labels = train.images.to(device), train.labels.to(device)
    test.images, test.labels = test.images.to(device), test.labels.to(device)
    result = {"device": torch.cuda.get_device_name(), "torch": torch.__version__}
    if args.only in (None, "official"):
        stage_for_airbench(train, test, args.work_dir)
        airbench = import_airbench()
        result["official"] = summary(run_official(airbench, args.work_dir, args.runs))
        result["official"]["package"] = getattr(airbench, "__version__", "airbench (PyPI)")
    if args.only in (None, "ours"):
        result["bench"] = summary(run_ours(train, test, args.runs, device))
    for side in ("official", "bench"):
        if side in result:
            s = result[side]
            print(
                f"{side}: {s['accuracy_mean']:.2f} +- {s['accuracy_std']:.2f} % (n = {s['n']}), "
                f"{s['seconds_mean']:.2f} +- {s['seconds_std']:.2f} s"
            )
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
