"""One training step of each method's network, and the metrics, on typical batch shapes."""

import pytest
import torch
from torchmetrics.classification import MulticlassAccuracy

from conftest import DEVICE


def step_of(model: torch.nn.Module, shape: tuple[int, ...], num_classes: int = 10):
    model = model.to(DEVICE)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(shape, generator=g).to(DEVICE)
    y = torch.randint(0, num_classes, (shape[0],), generator=g).to(DEVICE)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step():
        loss = torch.nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def test_small_cnn_step(run):
    from bench_plugins.methods.supervised import small_cnn

    run(step_of(small_cnn(1, 10, 16, (28, 28)), (256, 1, 28, 28)), rounds=10, batch_size=256)


def test_mlp_step(run):
    from bench_plugins.methods.supervised import mlp

    run(step_of(mlp(784, 10, 512), (256, 1, 28, 28)), rounds=10, batch_size=256)


@pytest.mark.parametrize("n", [10_000])
def test_accuracy_metric(run, n):
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(n, 10, generator=g).to(DEVICE)
    labels = torch.randint(0, 10, (n,), generator=g).to(DEVICE)

    def score():
        metric = MulticlassAccuracy(num_classes=10, average="micro").to(DEVICE)
        metric.update(logits, labels)
        return metric.compute()

    run(score, rounds=20, items=n)
