"""A throw-away plugin for host tests: a synthetic dataset (no files) and tiny methods.

Its source is also installed as a third-party distribution in test_registry.py, so keep it a
self-contained module that imports only from `bench`.
"""

import time

import torch

from bench import Classifier, DatasetSpec, LabelledImages, Restorer, hookimpl

FAIL_FLAG = {"crash": False}


def load_toy(split, store):
    """4 classes of 1x8x8 images: a bright quadrant per class plus noise; learnable in seconds."""
    n = {"train": 400, "test": 200}[split]
    g = torch.Generator().manual_seed(0 if split == "train" else 1)
    labels = torch.arange(n) % 4
    images = torch.randint(0, 60, (n, 1, 8, 8), generator=g)
    for c in range(4):
        r, q = divmod(c, 2)
        images[labels == c, :, 4 * r : 4 * r + 4, 4 * q : 4 * q + 4] += 150
    return LabelledImages(images.clamp(0, 255).to(torch.uint8), labels, ("a", "b", "c", "d"))


def fit_linear(data, ctx):
    pixels = data.train.images[0].numel()
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(pixels, data.num_classes)).to(ctx.device)
    opt = torch.optim.SGD(model.parameters(), lr=ctx.params["lr"])
    for _ in ctx.epochs(ctx.budget.epochs):
        for x, y in ctx.batches(data.train, 50):
            start = time.perf_counter()
            loss = torch.nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            ctx.step(loss, n=len(x))
            if ctx.params["sleep"]:
                time.sleep(ctx.params["sleep"])
            if ctx.params["slowdown"]:  # a step (1 + slowdown) times slower, however loaded the machine is
                time.sleep(ctx.params["slowdown"] * (time.perf_counter() - start))
    return model


def fit_crash(data, ctx):
    raise RuntimeError("toy-crash always fails")


def fit_flaky(data, ctx):
    if FAIL_FLAG["crash"]:
        raise RuntimeError("flaky failure")
    return fit_linear(data, ctx)


@hookimpl
def bench_register_datasets(register):
    register(
        DatasetSpec(
            name="toy",
            task="classification",
            load=load_toy,
            num_classes=4,
            image_shape=(1, 8, 8),
            description="synthetic quadrants",
        )
    )


@hookimpl
def bench_register_methods(register):
    params = {"lr": 0.5, "sleep": 0.0, "slowdown": 0.0}
    register(Classifier("toy-linear", fit_linear, budget={"epochs": 4}, params=params))
    register(Classifier("toy-crash", fit_crash, budget={"epochs": 1}))
    register(Classifier("toy-flaky", fit_flaky, budget={"epochs": 2}, params=params))
    register(Restorer("toy-restorer", fit_restorer, ("denoise",)))


def fit_restorer(data, ctx):
    raise AssertionError("never called: a restorer cannot run the classify protocol")


@hookimpl
def bench_run_finished(record):
    """Append each finished run's key to $TOY_RUN_LOG: tests count how often a spec ran."""
    import os

    path = os.environ.get("TOY_RUN_LOG")
    if path:
        with open(path, "a") as f:
            f.write(f"{record['key']} {record['status']}\n")
