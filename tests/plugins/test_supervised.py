"""small-cnn and mlp (bench_plugins.methods.supervised): through the host's classify protocol they
learn the toy set (four separable classes of 8x8 pictures) within their epoch budget, logging their
validation accuracy each epoch; the CNN maps any (H, W) divisible by 4 to logits."""

import pytest
import torch

from bench_plugins.methods.supervised import small_cnn
from runs import run_suite


@pytest.mark.parametrize("method", ["small-cnn", "mlp"])
def test_learns_the_toy_set_through_the_classify_protocol(tmp_path, reg, method):
    text = f"seeds: [0]\nruns: [{{datasets: toy, methods: {method}, protocol: classify, budget: {{epochs: 3}}}}]\n"
    suite, store, outcome = run_suite(tmp_path, reg, text)
    assert outcome.exit_code == 0
    record = store.read(suite.runs[0])
    assert record.metrics["test_accuracy"] > 90, record.metrics
    assert [c["epoch"] for c in record.details["curves"] if "val_accuracy" in c] == [1, 2, 3]
    assert record.plugins["method"]["plugin"] != "toy"  # the built-in, not a test double


def test_the_small_cnn_maps_a_non_square_batch_to_logits():
    model = small_cnn(in_channels=3, num_classes=7, width=4, size=(12, 20))
    assert model(torch.zeros(2, 3, 12, 20)).shape == (2, 7)
