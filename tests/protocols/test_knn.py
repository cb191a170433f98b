"""bench.protocols.knn: the k-NN read-out against an independent numpy vote, weighted by similarity."""

import numpy as np
import pytest
import torch

import repr_toy
from bench.protocols.knn import knn_predict
from repr_runs import blobs_arrays, load_registry, run_suite


@pytest.fixture
def reg():
    return load_registry()


def test_knn_matches_an_independent_numpy_vote(tmp_path, reg):
    k, temperature = 7, 0.1
    _, _, _, (record,) = run_suite(
        tmp_path,
        reg,
        f"""
runs:
  - datasets: blobs
    methods: raw-pixels
    protocol: {{name: knn, k: {k}, temperature: {temperature}}}
""",
    )
    (x, y), (xt, yt) = blobs_arrays()
    mean, std = x.mean(), x.std()  # the host's normalisation (one channel), then cosine similarity
    x, xt = (x - mean) / std, (xt - mean) / std
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    xt /= np.linalg.norm(xt, axis=1, keepdims=True)
    correct = 0
    for q, label in zip(xt, yt):
        sim = x @ q
        nearest = np.argsort(-sim)[:k]
        votes = np.zeros(repr_toy.CLASSES)
        for i in nearest:
            votes[y[i]] += np.exp(sim[i] / temperature)
        correct += votes.argmax() == label
    expected = 100.0 * correct / len(yt)
    assert 40 < expected < 98
    assert record.metrics["test_accuracy"] == pytest.approx(expected, abs=1e-4)  # float32 mean
    assert record.details["knn"]["bank"] == 300 and record.metric_info["test_accuracy"]["protocol"] == "knn"


def test_knn_votes_are_weighted_by_similarity():
    bank = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 1.0], [0.2, 1.0]])
    labels = torch.tensor([0, 0, 1, 1, 1])
    query = torch.tensor([[1.0, 0.05]])
    # k = 5: three class-1 neighbours outvote two class-0 ones only when weights are flat.
    assert knn_predict(bank, labels, query, 2, k=5, temperature=0.05).item() == 0
    assert knn_predict(bank, labels, query, 2, k=5, temperature=100.0).item() == 1
