"""bench.protocols.classify: the split the host carves (holdout by the split seed, or under a label
budget only the budgeted labels and an unlabelled pool), and what a classify record holds: test and
validation accuracy, the training and inference rates, the split and the curves."""

import pytest
import torch

import toy
from bench import Classifier, hookimpl, registry
from runs import run_suite


def test_a_classify_record_holds_both_accuracies_both_rates_the_split_and_the_curves(tmp_path, reg):
    suite, store, outcome = run_suite(
        tmp_path, reg, "seeds: [3]\nruns: [{datasets: toy, methods: toy-linear, protocol: classify}]\n"
    )
    record = store.read(suite.runs[0])
    assert record.metrics["test_accuracy"] > 90 and "val_accuracy" in record.metrics
    assert record.metric_info["test_accuracy"]["convention"].startswith("top-1 accuracy")
    assert record.throughput["train_images_per_s"]["items_per_s"] > 0
    assert record.throughput["train_images_per_s"]["warm"] is True  # first epoch excluded
    assert record.throughput["inference_images_per_s"]["repeats"] == 5
    assert record.details["split"] == {"train": 360, "val": 40, "test": 200, "holdout": 0.1, "split_seed": 0}
    assert [c["epoch"] for c in record.details["curves"] if "loss" in c] == [1, 2, 3, 4]
    assert record.timings["train_seconds"] > 0


# -- under a label budget ----------------------------------------------------------------------------

SEEN: list[dict] = []


def spy_train(data, ctx):
    """A classifier that records every label it can reach through what the host gave it."""
    reachable = [data.train.labels] + ([data.val.labels] if data.val is not None else [])
    SEEN.append(
        {
            "labels": sum(len(x) for x in reachable),
            "train_images": data.train.images.clone(),
            "pool": data.unlabelled,
            "seed": ctx.seed,
        }
    )
    with pytest.raises(AttributeError):
        data.unlabelled.labels  # noqa: B018 - a tensor of images has no labels to read
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, data.num_classes))


class Spy:
    @hookimpl
    def bench_register_methods(self, register):
        register(Classifier("spy", spy_train, budget={"epochs": 1}))
        register(Classifier("spy-two", spy_train, budget={"epochs": 1}))


def run(tmp_path, text):
    reg = registry.load(extra_plugins=[("toy", toy), ("spy", Spy())])
    suite, store, outcome = run_suite(tmp_path, reg, text)
    assert outcome.exit_code == 0
    return suite, [store.read(spec) for spec in suite.runs]


def test_a_method_holds_only_the_budgeted_labels_the_same_for_every_method_and_run_seed(tmp_path):
    SEEN.clear()
    suite, records = run(
        tmp_path,
        "seeds: [0, 1]\nruns:\n"
        "  - {datasets: toy, methods: [spy, spy-two], protocol: {name: classify, labels: 3, holdout: 0.4}}\n"
        "  - {datasets: toy, methods: spy, protocol: {name: classify, labels: 3, holdout: 0.4, split_seed: 9}}\n",
    )
    assert all(seen["labels"] == 4 * 3 for seen in SEEN)  # 4 classes x 3: train 2 + val 1 per class
    assert all(len(seen["pool"]) == 400 - 4 for seen in SEEN)  # every image but the validation ones
    first = [r.details["labels"] for r in records[:4]]  # split seed 0: two methods x two run seeds
    assert {d["indices_sha256"] for d in first} == {first[0]["indices_sha256"]}
    assert first[0]["counts"] == [3, 3, 3, 3] and first[0]["budget"] == "3 per class"
    assert all(torch.equal(SEEN[0]["train_images"], seen["train_images"]) for seen in SEEN[:4])
    assert records[4].details["labels"]["indices_sha256"] != first[0]["indices_sha256"]
    assert records[0].details["split"]["train"] == 8


def test_without_a_budget_run_keys_and_splits_are_those_before_budgets(tmp_path):
    # Keys computed by the code before the option existed (main at ec730f5): a default that is
    # written out (labels: all) must not move them either.
    SEEN.clear()
    suite, records = run(
        tmp_path,
        "name: keys\nseeds: [0]\nruns:\n  - {datasets: toy, methods: toy-linear, protocol: classify}\n"
        "  - {datasets: toy, methods: toy-linear, protocol: {name: classify, holdout: 0.2, labels: all}}\n",
    )
    assert [s.key for s in suite.runs] == ["a271d80556b95b01", "1812003ca173b498"]
    assert all("labels" not in s.protocol_options for s in suite.runs)
    assert "labels" not in records[0].details
    assert records[0].details["split"] == {"train": 360, "val": 40, "test": 200, "holdout": 0.1, "split_seed": 0}
