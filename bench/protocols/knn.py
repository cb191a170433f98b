"""k-NN: weighted vote of the k most cosine-similar training features (Wu et al. 2018; DINO).

Features are extracted once by the frozen encoder and L2-normalised. For each query the k
training features with the highest cosine similarity s vote for their labels with weight
exp(s / temperature); the class with the largest summed weight wins (ties: the lowest class index).
The memory bank is the training split without its held-out part; with ``holdout`` > 0 the held-out
part is scored too (``val_accuracy``), and a ``feature_sweep`` is chosen by that score.
"""

from __future__ import annotations

import time

import torch

from bench.protocols.representation import (
    accuracy_info,
    choose_features,
    common_sections,
    extract_splits,
    feature_throughput,
    prepare,
)

PROTOCOL = "knn"


@torch.no_grad()
def knn_predict(
    bank: torch.Tensor,
    bank_labels: torch.Tensor,
    queries: torch.Tensor,
    num_classes: int,
    *,
    k: int,
    temperature: float,
    chunk: int = 1024,
) -> torch.Tensor:
    """Predicted labels (Q,) for query features (Q, D) from bank features (N, D) and labels (N,)."""
    if k < 1 or temperature <= 0:
        raise ValueError(f"knn: k must be >= 1 and temperature > 0, got k={k}, temperature={temperature}")
    bank = torch.nn.functional.normalize(bank.float(), dim=1)
    k = min(k, bank.shape[0])
    out = []
    for q in queries.float().split(chunk):
        sim = torch.nn.functional.normalize(q, dim=1) @ bank.T  # (q, N) cosine similarity
        top, index = sim.topk(k, dim=1)  # (q, k)
        votes = torch.zeros(q.shape[0], num_classes, device=q.device)
        votes.scatter_add_(1, bank_labels[index], (top / temperature).exp())  # (q, C)
        out.append(votes.argmax(1))
    return torch.cat(out)


def run(spec, method, dataset, env) -> dict:
    options = spec.protocol_options
    vote = dict(k=options["k"], temperature=options["temperature"])
    n_classes = dataset.num_classes
    prepared = prepare(spec, method, dataset, env)

    def val_accuracy(bank, val_x, _ctx=None) -> float:
        assert prepared.val is not None, "read-outs are chosen on the held-out part"
        pred = knn_predict(bank, prepared.train.labels, val_x, n_classes, **vote)
        return 100.0 * (pred == prepared.val.labels).float().mean().item()

    choose_features(prepared, spec, method, env, val_accuracy)
    ctx, batch = prepared.ctx, options["eval_batch_size"]

    bank, val_x, test_x, features_seconds = extract_splits(prepared, batch)

    t_knn = time.perf_counter()
    pred = knn_predict(bank, prepared.train.labels, test_x, n_classes, **vote)
    metrics = {"test_accuracy": 100.0 * (pred == prepared.test.labels).float().mean().item()}
    if val_x is not None:
        metrics["val_accuracy"] = val_accuracy(bank, val_x)
    knn_seconds = time.perf_counter() - t_knn

    sections = common_sections(prepared, PROTOCOL, options)
    sections["throughput"]["feature_images_per_s"] = feature_throughput(prepared.encoder, prepared.test, ctx, batch)
    sections["timings"].update(features_seconds=round(features_seconds, 3), knn_seconds=round(knn_seconds, 3))
    sections["details"].update(
        feature_dim=int(bank.shape[1]),
        knn={**vote, "bank": len(bank), "similarity": "cosine", "weights": "exp(similarity / temperature)"},
    )
    what = (
        f"weighted {options['k']}-NN vote, cosine similarity, temperature {options['temperature']:g}, frozen features"
    )
    return {"metrics": metrics, "metric_info": accuracy_info(PROTOCOL, what, prepared, options), **sections}
