"""The host's label budget (bench.labels): class-balanced, drawn by the split seed alone, hashed
into the record, and the only labels a method can reach; the unlabelled pool and multi-view batches."""

import pytest
import torch

import toy
from bench import registry
from bench.context import RunContext
from bench.data.images import LabelledImages
from bench.data.loader import Augment, Normalize, random_cutout
from bench.data.store import DataStore
from bench.labels import apply_budget, draw_labelled, indices_sha256, parse_budget
from bench.progress import Progress
from bench.records import ResultStore, read_record
from bench.runner import run_specs
from bench.specs import Budget
from bench.suite import SuiteError, load_suite

#: 10 classes of uneven size, as real splits are.
LABELS = torch.cat([torch.full((50 + 7 * c,), c) for c in range(10)])[
    torch.randperm(815, generator=torch.Generator().manual_seed(5))
]


def chosen(per_class):
    return torch.cat(per_class).sort().values


def test_a_budget_is_class_balanced_and_depends_only_on_the_split_seed():
    budget = parse_budget(4)
    a = draw_labelled(LABELS, 10, budget, split_seed=0)
    assert [len(idx) for idx in a] == [4] * 10
    assert all((LABELS[idx] == c).all() for c, idx in enumerate(a))
    assert torch.equal(chosen(a), chosen(draw_labelled(LABELS, 10, budget, split_seed=0)))
    assert not torch.equal(chosen(a), chosen(draw_labelled(LABELS, 10, budget, split_seed=1)))
    # A larger budget at one split seed holds the smaller one (each class's first n in one order).
    larger = set(chosen(draw_labelled(LABELS, 10, parse_budget(25), split_seed=0)).tolist())
    assert set(chosen(a).tolist()) <= larger


def test_a_fraction_is_made_class_balanced_and_bad_budgets_fail_with_the_forms():
    per_class = draw_labelled(LABELS, 10, parse_budget(0.1), split_seed=0)
    assert [len(idx) for idx in per_class] == [round(0.1 * 815 / 10)] * 10
    assert parse_budget(None) is None and parse_budget("all") is None
    for bad in (0, -3, 1.0, 1.5, "ten", True):
        with pytest.raises(ValueError, match="labels"):
            parse_budget(bad)
    with pytest.raises(ValueError, match="class 0, which has 50"):
        draw_labelled(LABELS, 10, parse_budget(51), split_seed=0)


def test_the_hash_names_the_exact_labelled_set():
    index = chosen(draw_labelled(LABELS, 10, parse_budget(4), split_seed=0))
    moved = index.clone()
    moved[3] += 1
    assert indices_sha256(index) == indices_sha256(index.flip(0))  # order does not matter
    assert indices_sha256(moved) != indices_sha256(index)


def test_validation_is_carved_from_the_budget_and_the_pool_holds_images_only():
    data = LabelledImages(torch.randint(0, 255, (815, 1, 4, 4), dtype=torch.uint8), LABELS, tuple("abcdefghij"))
    part = apply_budget(data, 10, holdout=0.2, split_seed=3)
    assert (len(part.train), len(part.val)) == (80, 20)  # 2 of each class's 10 held out, none extra
    assert part.record["labelled"] == 100 and part.record["counts"] == [10] * 10
    assert isinstance(part.unlabelled, torch.Tensor) and part.unlabelled.dtype == torch.uint8
    assert len(part.unlabelled) == 815 - 20  # the validation images are not in the pool
    assert apply_budget(data, 4, holdout=0.2, split_seed=3).val is None  # floor(0.8) = 0 per class


def test_a_bad_budget_fails_when_the_suite_loads(tmp_path):
    path = tmp_path / "suite.yaml"
    path.write_text("runs: [{datasets: toy, methods: toy-linear, protocol: {name: classify, labels: 2.5}}]\n")
    with pytest.raises(SuiteError, match=r"runs\[0\]\.protocol\.labels: labels: a fraction must be in \(0, 1\)"):
        load_suite(path, registry.load(extra_plugins=[("toy", toy)]))


# -- the unlabelled pool's views ---------------------------------------------------------------------


def context(seed: int) -> RunContext:
    images = torch.zeros(2, 1, 2, 2, dtype=torch.uint8)
    return RunContext(
        device=torch.device("cpu"),
        seed=seed,
        budget=Budget({"iterations": 1}),
        params={},
        normalize=Normalize.fit(images),
        artifacts_dir=None,
        progress=Progress(quiet=True),
    )


def test_view_batches_are_seeded_whole_batches_of_every_view():
    pool = torch.randint(0, 255, (20, 1, 8, 8), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    views = (Augment(crop_padding=2), Augment(crop_padding=2, cutout=4))
    a = list(context(0).view_batches(pool, 8, views))
    b = list(context(0).view_batches(pool, 8, views))
    c = list(context(1).view_batches(pool, 8, views))
    assert len(a) == 2 and all(len(batch) == 2 for batch in a)  # drop_last: 20 // 8 batches of (weak, strong)
    assert all(v.shape == (8, 1, 8, 8) and v.dtype == torch.float32 and v.device == pool.device for x in a for v in x)
    assert all(torch.equal(u, v) for x, y in zip(a, b) for u, v in zip(x, y))
    assert not all(torch.equal(u, v) for x, y in zip(a, c) for u, v in zip(x, y))
    assert not torch.equal(a[0][0], a[0][1])  # each view augments on its own


def test_endless_batches_are_full_and_visit_every_image_once_per_pass():
    data = LabelledImages(torch.arange(5, dtype=torch.uint8).view(5, 1, 1, 1), torch.arange(5), tuple("abcde"))
    stream = context(0).endless_batches(data, 4)
    labels = torch.cat([next(stream)[1] for _ in range(5)])  # 20 = four passes over 5 images
    assert all(sorted(labels[i : i + 5].tolist()) == [0, 1, 2, 3, 4] for i in range(0, 20, 5))


def test_cutout_fills_the_clipped_square_around_a_uniform_centre():
    images = torch.zeros(64, 1, 10, 10, dtype=torch.uint8)
    out = random_cutout(images, 4, torch.Generator().manual_seed(0), fill=127)
    filled = (out == 127).sum((1, 2, 3))
    assert filled.max() == 16 and filled.min() >= 4  # 4x4 inside, clipped at a border (centre at 0: 2x2 .. )
    assert set(out.unique().tolist()) == {0, 127}


# -- an outsider's semi-supervised plugin, written from docs/plugins.md ------------------------------


def test_a_pseudo_labelling_plugin_from_the_docs_passes_check_and_runs_under_a_budget(monkeypatch, tmp_path, capsys):
    import re
    from pathlib import Path

    from bench import cli
    from fakedist import install_distribution

    page = (Path(__file__).parents[1] / "docs" / "plugins.md").read_text()
    (source,) = [b for b in re.findall(r"```python\n(.*?)```", page, flags=re.S) if b.startswith("# bench_pseudo.py")]
    toy_source = (Path(__file__).parent / "toy.py").read_text()
    install_distribution(
        monkeypatch,
        tmp_path,
        "bench-pseudo",
        "0.1.0",
        {"bench_pseudo": source, "bench_toy": toy_source},
        {"pseudo": "bench_pseudo", "toy": "bench_toy"},
    )
    monkeypatch.setenv("BENCH_PLUGINS", "pseudo,toy")
    assert cli.main(["check", "pseudo"]) == 0  # includes the label-budget rule
    assert "1 methods checked, 0 rules broken" in capsys.readouterr().out
    suite = tmp_path / "semi.yaml"
    suite.write_text(
        "name: semi\nseeds: [0]\nruns:\n"
        "  - {datasets: toy, methods: pseudo, protocol: {name: classify, labels: 5, holdout: 0.0}}\n"
    )
    # In this process: a forked child of a pytest process that has trained with torch's thread pool
    # can hang in it (the check above has); the suite's own isolation is tested elsewhere.
    run = ["run", str(suite), "--results-dir", str(tmp_path / "results"), "--quiet", "-X", "isolate=false"]
    assert cli.main(run) == 0
    (record,) = [read_record(p) for p in (tmp_path / "results").rglob("seed*.json")]
    assert record.status == "ok" and record.details["labels"]["counts"] == [5, 5, 5, 5]
    assert record.metrics["test_accuracy"] > 50  # 20 labels and the pool: the toy quadrants are easy


def test_the_representation_protocols_probe_only_the_budgeted_labels(tmp_path):
    import repr_toy

    reg = registry.load(extra_plugins=[("repr_toy", repr_toy)])
    path = tmp_path / "suite.yaml"
    path.write_text(
        "runs:\n"
        "  - {datasets: blobs, methods: raw-pixels, protocol: {name: knn, labels: 5}}\n"
        "  - {datasets: blobs, methods: raw-pixels, protocol: {name: linear-probe, labels: 5, holdout: 0.2, epochs: 2}}\n"
        "  - {datasets: blobs, methods: raw-pixels, protocol: {name: knn, labels: 5, labelled_images: 50}}\n"
    )
    suite = load_suite(path, reg)
    store = ResultStore(tmp_path / "results")
    run_specs(suite.runs, reg, store, DataStore(tmp_path / "data"), Progress(quiet=True))
    knn, probe, both = (store.read(spec) for spec in suite.runs)
    classes = repr_toy.CLASSES
    assert knn.details["knn"]["bank"] == 5 * classes  # the vote's bank: the budgeted images only
    assert probe.details["split"]["train"] == 4 * classes and probe.details["split"]["val"] == classes
    assert knn.details["labels"]["indices_sha256"] == probe.details["labels"]["indices_sha256"]
    assert both.status == "failed" and "labels and labelled_images exclude each other" in both.error.message


def test_plugins_and_protocols_show_the_budget_and_its_forms(capsys):
    from bench import cli
    from bench.labels import FORMS

    assert cli.main(["plugins", "fixmatch"]) == 0
    page = capsys.readouterr().out
    assert f"label budget (the host's; protocol option labels of classify): {FORMS}" in page
    for protocol in ("classify", "knn", "linear-probe", "finetune"):
        assert cli.main(["protocols", protocol]) == 0
        line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("labels "))
        assert "'all'" in line and "labels per class" in line and "fraction" in line
