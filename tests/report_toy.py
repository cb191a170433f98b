"""A throw-away plugin for report tests: a classifier that declares a published number and, like
1p-frac or ICN will, saves pictures for people with ``bench.save_image`` (a pattern and its
perturbations), plus a second classifier with another cost, so a leaderboard has a front."""

import torch

from bench import Classifier, Published, hookimpl, save_image


def pattern(seed: int, size: int = 24) -> torch.Tensor:
    """A uint8 (3, size, size) picture of a few random rings: stands in for a rendered fractal."""
    g = torch.Generator().manual_seed(seed)
    y, x = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij")
    planes = []
    for _ in range(3):
        cy, cx, f = (torch.rand(3, generator=g) * torch.tensor([1.0, 1.0, 12.0])).tolist()
        planes.append(0.5 + 0.5 * torch.cos(f * ((y - cy + 0.5) ** 2 + (x - cx + 0.5) ** 2).sqrt()))
    return (torch.stack(planes) * 255).round().to(torch.uint8)


def fit_painter(data, ctx):
    save_image(ctx.artifacts_dir, "fractal", "original", pattern(0), caption="the pattern")
    for i in range(1, 4):
        save_image(ctx.artifacts_dir, "fractal", f"perturbed-{i}", pattern(i), caption=f"perturbation {i}")
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, data.num_classes)).to(ctx.device)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    for _ in ctx.epochs(ctx.budget.epochs):
        for x, y in ctx.batches(data.train, 50):
            loss = torch.nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            ctx.step(loss, n=len(x))
        ctx.log(val_accuracy=ctx.accuracy(model, data.val))
    return model


@hookimpl
def bench_register_methods(register):
    register(
        Classifier(
            "toy-painter",
            fit_painter,
            budget={"epochs": 3},
            published=(
                Published("toy", "test_accuracy", 99.5, source="Toy et al. 2024", note="full budget"),
                Published("other-set", "test_accuracy", 12.0, source="elsewhere"),
            ),
        )
    )
