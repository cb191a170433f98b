"""The classification protocol: host-owned split, training call, scoring and timing.

1. The official training split is divided into train/val by a fixed split seed (the same split
   for every method and seed); the test split is never shown to the method. Under a label budget
   (``labels``, ``bench.labels``) train and val are the budgeted labels only, and the method also
   gets the unlabelled pool (the split's images but val's).
2. All splits move to the device once, as uint8; the normalisation is fitted on the images the
   method gets (the train part; under a budget the unlabelled pool).
3. ``method.train(TrainData, ctx)`` trains; the host times it (wall) and its epochs (throughput).
4. Top-1 accuracy on the official test split (and on val) through torchmetrics.
5. Inference throughput: warm, synchronized, median over repeats, on a fixed test batch.
"""

from __future__ import annotations

import time

import torch
from torchmetrics.classification import MulticlassAccuracy

from bench.context import RunContext, TrainData, bookkeeping, preserved_random_state, run_context
from bench.data.images import LabelledImages
from bench.data.loader import Normalize
from bench.labels import OPTION, apply_budget, parse_budget
from bench.metric_table import METRICS
from bench.timing import measure, synchronize

ACCURACY_CONVENTION = "top-1 accuracy in %, torchmetrics MulticlassAccuracy(average='micro')"


def split_holdout(data: LabelledImages, fraction: float, seed: int) -> tuple[LabelledImages, LabelledImages | None]:
    """A seeded random train/val split; the permutation depends only on ``seed`` and the size."""
    if not 0 <= fraction < 1:
        raise ValueError(f"holdout must be in [0, 1), got {fraction}")
    n_val = int(round(len(data) * fraction))
    if n_val == 0:
        return data, None
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))
    return data.subset(order[n_val:]), data.subset(order[:n_val])


def _splits(full_train: LabelledImages, options: dict):
    """(train, val or None, the unlabelled pool, the record's labels section or None): the holdout
    split of every label, or under the ``labels`` budget the budgeted labels (``bench.labels``)."""
    if parse_budget(options.get(OPTION)) is None:  # all labels: the split every record before budgets used
        train, val = split_holdout(full_train, options["holdout"], options["split_seed"])
        return train, val, train.images, None
    part = apply_budget(full_train, options[OPTION], options["holdout"], options["split_seed"])
    return part.train, part.val, part.unlabelled, part.record


@torch.inference_mode()
def accuracy(model: torch.nn.Module, data: LabelledImages, ctx: RunContext, batch_size: int) -> float:
    metric = MulticlassAccuracy(num_classes=data.num_classes, average="micro", top_k=1).to(ctx.device)
    for images, labels in ctx.batches(data, batch_size, shuffle=False):
        with ctx.autocast():
            logits = model(images)
        metric.update(logits.float(), labels)
    return 100.0 * metric.compute().item()


@torch.inference_mode()
def check_logits(model, data: LabelledImages, ctx: RunContext, method: str, dataset, batch_size: int) -> None:
    """The model's output on one test batch is (B, num_classes) logits, or a ValueError naming the
    method and both shapes (before the metric library fails on it without naming either)."""
    images, _ = next(ctx.batches(data, batch_size, shuffle=False))
    with ctx.autocast(), preserved_random_state(ctx.device, ctx.generator):  # the scores that follow unchanged
        logits = model(images)
    expected = (len(images), dataset.num_classes)
    shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
    if shape != expected:
        raise ValueError(
            f"method {method!r}: the model train() returned maps a batch of shape {tuple(images.shape)} to "
            f"{shape}, expected logits of shape {expected} ({dataset.num_classes} classes of {dataset.name!r})"
        )


def run(spec, method, dataset, env) -> dict:
    options = spec.protocol_options
    t_load = time.perf_counter()
    full_train = env.data.load(dataset, "train")
    test = env.data.load(dataset, "test")
    train, val, unlabelled, labels = _splits(full_train, options)
    train, test = train.to(env.device), test.to(env.device)
    val = val.to(env.device) if val is not None else None
    unlabelled = train.images if labels is None else unlabelled.to(env.device)
    normalize = Normalize.fit(unlabelled)  # the images the method may see (without a budget: train's)
    synchronize(env.device)
    load_seconds = time.perf_counter() - t_load

    ctx = run_context(spec, env, normalize)
    t_fit = time.perf_counter()
    model = method.train(TrainData(train, val, dataset.num_classes, unlabelled), ctx)
    synchronize(env.device)
    train_seconds = time.perf_counter() - t_fit
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"method {method.name!r}: train() returned {type(model).__name__}, expected a torch.nn.Module")
    model.eval()
    batch_size = options["eval_batch_size"]
    check_logits(model, test, ctx, method.name, dataset, batch_size)

    t_eval = time.perf_counter()
    metrics = {"test_accuracy": accuracy(model, test, ctx, batch_size)}
    if val is not None:
        metrics["val_accuracy"] = accuracy(model, val, ctx, batch_size)
    eval_seconds = time.perf_counter() - t_eval

    inference = _inference_throughput(model, test, ctx, batch_size)
    book = bookkeeping(ctx)
    train_rate = book.train_throughput()
    throughput = {"inference_images_per_s": inference}
    if train_rate is not None:
        throughput["train_images_per_s"] = train_rate
    throughput.update(book.throughputs)  # rates the method measured itself (ctx.measure)
    return {
        "metrics": metrics,
        "metric_info": {
            "test_accuracy": METRICS["test_accuracy"].info(
                f"{ACCURACY_CONVENTION}, official test split ({len(test)} images)"
            ),
            "val_accuracy": METRICS["val_accuracy"].info(f"{ACCURACY_CONVENTION}, held-out part of the training split"),
        },
        "throughput": throughput,
        "timings": {
            "load_seconds": round(load_seconds, 3),
            "train_seconds": round(train_seconds, 3),
            "eval_seconds": round(eval_seconds, 3),
        },
        "details": {
            "split": {
                "train": len(train),
                "val": len(val) if val is not None else 0,
                "test": len(test),
                "holdout": options["holdout"],
                "split_seed": options["split_seed"],
            },
            **({"labels": labels} if labels else {}),
            "normalization": normalize.as_dict(),
            "curves": book.curves,
        },
    }


def _inference_throughput(model, test: LabelledImages, ctx: RunContext, batch_size: int) -> dict:
    images = ctx.normalize(test.images[:batch_size])

    @torch.inference_mode()
    def forward():
        with ctx.autocast():
            model(images)

    result = measure(forward, ctx.device, items=len(images), warmup=2, repeats=5)
    result["batch_size"] = len(images)
    result["precision"] = ctx.precision
    return result
