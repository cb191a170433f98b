"""Fine-tune: which parameters are decayed, layer-wise LR decay, drop path, the named recipes
(resolved, recorded, overridden), mixing and erasing, SGD, the input_size resize, on a small ViT
and MNIST-shaped blobs."""

import json
import math
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

import repr_toy
from bench import identity, registry
from bench.data.loader import mix_batch, random_erase
from bench.data.store import DataStore
from bench.progress import Progress
from bench.protocols import PROTOCOLS, named_setting
from bench.protocols.finetune import Finetuned, lr_factor, param_groups
from bench.protocols.representation import apply_setting, pretrain_identity
from bench.records import ResultStore
from bench.runner import run_specs
from bench.suite import SuiteError, load_suite
from bench_plugins.methods.vit import ViTEncoder


def vit(depth=3):
    torch.manual_seed(0)
    return ViTEncoder((1, 8, 8), 4, 16, depth, 2)


def defaults(**given):
    return {**{k: getattr(v, "default", v) for k, v in PROTOCOLS["finetune"].options.items()}, **given}


@pytest.fixture(scope="module")
def methods():
    return registry.load().methods


def resolve_recipe(options: dict, method) -> tuple[dict, dict, list[str]]:
    """(the options a fine-tune of ``method`` uses, the overrides, what its recipe lacks)."""
    resolved, overrides, recipe = apply_setting(options, "finetune", method)
    return resolved, overrides, list(recipe.missing)


def test_weight_decay_skips_biases_norms_and_the_class_token():
    """One AdamW step with zero gradients moves only what weight decay reaches."""
    model = Finetuned(vit(), 16, 3)
    before = {n: q.detach().clone() for n, q in model.named_parameters()}
    optimizer = torch.optim.AdamW(param_groups(model, 0.1, 0.5), lr=0.1)
    (0 * model(torch.randn(2, 1, 8, 8)).sum()).backward()
    optimizer.step()
    moved = {n for n, q in model.named_parameters() if not torch.equal(q, before[n])}
    matrices = {n for n, q in model.named_parameters() if q.ndim > 1 and n != "encoder.cls_token"}
    assert moved == matrices
    assert {"encoder.cls_token", "encoder.norm.weight", "encoder.blocks.0.attn.qkv.bias", "head.bias"}.isdisjoint(moved)
    # decay_all (the reimplementation's plain AdamW) decays every parameter that is not zero already.
    model = Finetuned(vit(), 16, 3)
    groups = param_groups(model, 0.1, 0.5, decay_all=True)
    assert all(g["weight_decay"] == 0.5 for g in groups)


def test_layer_decay_scales_each_depth_as_maes_lr_decay():
    model = Finetuned(vit(depth=3), 16, 3)
    groups = param_groups(model, 1.0, 0.05, layer_decay=0.5)
    scale = {id(q): g["lr"] for g in groups for q in g["params"]}
    enc = model.encoder
    # num_layers = depth + 1 = 4: embeddings 0.5^4, block i 0.5^(3 - i), final norm and head 1.
    assert scale[id(enc.patch_embed.weight)] == scale[id(enc.cls_token)] == 0.5**4
    assert [scale[id(b.mlp[0].weight)] for b in enc.blocks] == [0.5**3, 0.5**2, 0.5]
    assert scale[id(enc.norm.weight)] == scale[id(model.head.weight)] == 1.0
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))


def test_layer_decay_without_the_interface_is_a_clear_error():
    model = Finetuned(torch.nn.Flatten(), 64, 3)
    with pytest.raises(ValueError, match="needs the encoder to expose layer_groups"):
        param_groups(model, 1.0, 0.05, layer_decay=0.65)


def test_drop_path_rises_over_the_blocks_and_acts_in_training_only():
    enc = vit(depth=3)
    enc.set_drop_path(0.2)
    assert [b.drop_path for b in enc.blocks] == pytest.approx([0.0, 0.1, 0.2])
    x = torch.randn(64, 1, 8, 8)
    enc.eval()
    assert torch.equal(enc(x), enc(x))
    enc.train()
    torch.manual_seed(1)
    a = enc(x)
    torch.manual_seed(2)
    assert not torch.allclose(a, enc(x))


def test_recipes_set_their_options_and_a_non_default_option_overrides(methods):
    mae = methods["mae"]
    options, overrides, missing = resolve_recipe(defaults(recipe="mae-official"), mae)
    assert options["layer_decay"] == 0.65 and options["drop_path"] == 0.1 and options["mixup"] == 0.8
    assert options["lr"] == pytest.approx(2e-3) and options["head"] == "layernorm" and options["head_init_std"] == 2e-5
    assert options["rand_augment"] == "rand-m9-mstd0.5-inc1" and options["resized_crop"] == [0.08, 1.0]
    assert overrides == {} and not any("RandAugment" in m for m in missing)
    options, overrides, _ = resolve_recipe(
        defaults(recipe="mae-cifar-reimpl", overrides={"epochs": 3, "flip": True}), mae
    )
    assert options["epochs"] == 3 and options["flip"] and overrides == {"epochs": 3, "flip": True}
    with pytest.raises(
        ValueError,
        match=r"option epochs is set by recipe mae-cifar-reimpl \(to 100\); to change it "
        r"under this recipe write overrides: \{epochs: 3\}",
    ):
        resolve_recipe(defaults(recipe="mae-cifar-reimpl", epochs=3), mae)
    with pytest.raises(ValueError, match="overrides.nope is not an option the recipe sets"):
        resolve_recipe(defaults(recipe="mae-official", overrides={"nope": 1}), mae)
    assert options["decay_all"] and options["holdout"] == 0.0 and options["lr"] == 5e-4 and options["head"] == "linear"
    assert resolve_recipe(defaults(), mae)[0] == defaults()  # bench: the options as given
    with pytest.raises(
        ValueError, match="method 'mae' has no recipe 'nope'; its recipes: bench, mae-official, mae-cifar"
    ):
        resolve_recipe(defaults(recipe="nope"), mae)
    with pytest.raises(ValueError, match="method 'onepfrac' has no recipe 'mae-official'"):  # another method's
        resolve_recipe(defaults(recipe="mae-official"), methods["onepfrac"])


def test_a_suite_naming_a_recipe_its_method_lacks_is_a_one_line_error(tmp_path, methods):
    path = tmp_path / "suite.yaml"
    path.write_text("""
runs:
  - {datasets: mnist, methods: onepfrac, protocol: {name: finetune, recipe: mae-official}}
  - {datasets: mnist, methods: mae, protocol: {name: linear-probe, probe: mae-official}}
  - {datasets: mnist, methods: ddae, protocol: {name: linear-probe, probe: nope}}
""")
    with pytest.raises(SuiteError) as raised:
        load_suite(path, registry.load())
    assert raised.value.problems == [
        f"{path}: runs[0].protocol: method 'onepfrac' has no recipe 'mae-official'; its recipes: bench, onepfrac-official",
        f"{path}: runs[2].protocol: method 'ddae' has no probe 'nope'; its probes: cached, ddae-official, mae-official",
    ]


def test_editing_a_recipe_changes_the_identity_of_its_methods_runs_only(tmp_path):
    """A recipe lives in its method's plugin module, which that method's code identity hashes: a
    changed value makes that method's records stale (and its encoders re-made), no other method's
    nor the host's. A shared probe (official_probes) is part of both methods that register it."""
    root = tmp_path / "plugins"
    shutil.copytree(Path(__file__).parents[2] / "plugins", root)
    names = ("mae", "onepfrac", "ddae", "airbench", "dip")

    def identities():
        return {
            n: identity._identity(identity.follow([root], [f"bench_plugins.methods.{n}"], frozenset())) for n in names
        }

    def edit(module, old, new):
        path = root / "methods" / f"{module}.py"
        text = path.read_text()
        assert text.count(old) == 1
        path.write_text(text.replace(old, new))

    before = identities()
    edit("mae", '"layer_decay": 0.65,', '"layer_decay": 0.7,')
    after = identities()
    assert [n for n in names if after[n]["source"] != before[n]["source"]] == ["mae"]
    edit("onepfrac", '"epochs": 1000,', '"epochs": 999,')
    assert [n for n in names if identities()[n]["source"] != after[n]["source"]] == ["onepfrac"]
    after = identities()
    edit("official_probes", '"epochs": 15,', '"epochs": 16,')
    assert [n for n in names if identities()[n]["source"] != after[n]["source"]] == ["mae", "ddae"]
    host = identity.host("finetune")
    assert "bench_plugins.methods.mae" not in host["modules"] and host == identity.host("finetune")


def test_schedules():
    step = lr_factor("step", steps=100, warmup=10, steps_per_epoch=10, epochs=10, warmup_epochs=1, min_ratio=0.01)
    assert step(0) == 0.1 and step(9) == 1.0 and step(10) == 1.0 and step(100) == pytest.approx(0.01)
    epoch = lr_factor("epoch", steps=100, warmup=0, steps_per_epoch=10, epochs=10, warmup_epochs=5)
    # Constant within an epoch; min((e + 1) / 5, cosine(e / 10)) as the reimplementation's LambdaLR.
    assert epoch(0) == epoch(9) == pytest.approx(0.2) and epoch(20) == pytest.approx(0.6)
    assert epoch(40) == pytest.approx(0.5 * (math.cos(0.4 * math.pi) + 1))  # the cosine is below 1 already
    assert epoch(90) == pytest.approx(0.5 * (math.cos(0.9 * math.pi) + 1))


def test_mixup_and_cutmix_targets_sum_to_one_and_match_the_pasted_area():
    images = torch.arange(4.0)[:, None, None, None].expand(4, 1, 10, 10).contiguous()
    labels = torch.tensor([0, 1, 2, 3])
    mixed, targets = mix_batch(images, labels, 4, np.random.default_rng(0), mixup=0.0, cutmix=1.0, smoothing=0.0)
    lam = targets[0, 0].item()
    assert torch.allclose(targets.sum(1), torch.ones(4))
    assert (mixed[0] == 0).float().mean().item() == pytest.approx(lam)  # image 0 keeps lam of its area
    assert targets[0, 3].item() == pytest.approx(1 - lam)  # the rest is image 3 (reversed batch)
    mixed, targets = mix_batch(images, labels, 4, np.random.default_rng(0), mixup=0.8, cutmix=0.0, smoothing=0.1)
    lam = (targets[0, 0].item() - 0.025) / 0.9
    assert torch.allclose(mixed[0], images[0] * lam + images[3] * (1 - lam))
    assert torch.allclose(targets.sum(1), torch.ones(4))


def test_random_erasing_fills_one_box_with_noise_at_its_rate():
    images = torch.zeros(2000, 1, 16, 16)
    out = random_erase(images, 0.25, torch.Generator().manual_seed(0))
    erased = (out != 0).flatten(1).any(1).float()
    assert 0.21 < erased.mean().item() < 0.29
    area = (out != 0).flatten(1).float().mean(1)[erased.bool()]
    assert area.min() >= 0.02 * 0.5 and area.max() <= 1 / 3 + 0.05


def test_a_recipe_runs_and_its_settings_are_recorded(tmp_path):
    reg = registry.load(extra_plugins=[("repr_toy", repr_toy)])
    path = tmp_path / "suite.yaml"
    mae = (
        "{name: mae, params: {patch_size: 2, dim: 16, depth: 2, heads: 2, decoder_dim: 8, decoder_depth: 1, "
        "decoder_heads: 2, batch_size: 100, pool: mean}, budget: {epochs: 1}}"
    )
    path.write_text(f"""
runs:
  - datasets: blobs
    methods: [{mae}]
    protocol: {{name: finetune, recipe: mae-official, overrides: {{epochs: 2, batch_size: 50}}}}
  - datasets: blobs
    methods: [{mae}]
    protocol: {{name: finetune, recipe: mae-cifar-reimpl, overrides: {{epochs: 2}}}}
""")
    suite = load_suite(path, reg)
    store = ResultStore(tmp_path / "results")
    run_specs(suite.runs, reg, store, DataStore(tmp_path / "data"), Progress(quiet=True))
    official, reimpl = [store.read(spec) for spec in suite.runs]
    for r in (official, reimpl):
        assert r.status == "ok", r.error
    fine = official.details["finetune"]
    assert fine["recipe"] == "mae-official" and fine["overrides"] == {"epochs": 2, "batch_size": 50}
    assert fine["layer_decay"] == 0.65 and fine["mixup"] == 0.8 and fine["head"].startswith("LayerNorm")
    assert official.details["split"]["val"] > 0
    fine = reimpl.details["finetune"]
    assert fine["recipe"] == "mae-cifar-reimpl" and fine["head"] == "Linear" and fine["lr_schedule"] == "epoch"
    assert reimpl.details["split"]["val"] == 0  # all the training images, as the reimplementation
    assert "mae-cifar-reimpl" in reimpl.metric_info["test_accuracy"]["convention"]


def test_the_training_time_is_read_once_the_device_has_finished_its_queued_steps(tmp_path, monkeypatch):
    """On CUDA the steps are queued: a clock read without a synchronize after the last one (no
    held-out part to score, so nothing else waits) would time the launches, not the training."""
    import bench.protocols.finetune as finetune

    events = []
    monkeypatch.setattr(finetune, "synchronize", lambda device: events.append("sync"))
    clock = finetune.time.perf_counter
    monkeypatch.setattr(
        finetune, "time", type("Clock", (), {"perf_counter": lambda: events.append("clock") or clock()})
    )
    reg = registry.load(extra_plugins=[("repr_toy", repr_toy)])
    path = tmp_path / "suite.yaml"
    path.write_text("""
runs:
  - datasets: blobs
    methods: [{name: mae, params: {patch_size: 2, dim: 16, depth: 1, heads: 2, decoder_dim: 8, decoder_depth: 1,
               decoder_heads: 2, batch_size: 100, pool: mean}, budget: {epochs: 1}}]
    protocol: {name: finetune, recipe: mae-cifar-reimpl, overrides: {epochs: 1}}
""")
    suite = load_suite(path, reg)
    store = ResultStore(tmp_path / "results")
    run_specs(suite.runs, reg, store, DataStore(tmp_path / "data"), Progress(quiet=True))
    assert store.read(suite.runs[0]).status == "ok"
    assert events == ["clock", "sync", "clock"]


def test_the_timm_schedule_is_timms_cosine_stepped_per_epoch():
    """1p-frac's main.py: CosineLRScheduler(t_initial=epochs, warmup_t, warmup_lr_init, lr_min), stepped per epoch."""
    lr, warmup_lr, min_lr = 0.015, 1.5e-6, 1.5e-5
    factor = lr_factor(
        "timm",
        steps=100,
        warmup=0,
        steps_per_epoch=10,
        epochs=10,
        warmup_epochs=2,
        min_ratio=min_lr / lr,
        warmup_ratio=warmup_lr / lr,
    )

    def timm(t):  # timm 0.4.12 cosine_lr.py _get_lr, one cycle, warmup_prefix False
        if t < 2:
            return warmup_lr + t * (lr - warmup_lr) / 2
        return min_lr + 0.5 * (lr - min_lr) * (1 + math.cos(math.pi * t / 10))

    for step in range(100):
        assert lr * factor(step) == pytest.approx(timm(step // 10))
    assert lr * factor(0) == pytest.approx(warmup_lr) and lr * factor(99) > min_lr


def test_the_onepfrac_recipe_is_the_official_fine_tune(methods):
    options, overrides, missing = resolve_recipe(defaults(recipe="onepfrac-official"), methods["onepfrac"])
    assert options["input_size"] == 224 and options["crop_pct"] == 0.875 and options["holdout"] == 0.0
    assert options["optimizer"] == "sgd" and options["lr"] == pytest.approx(0.015) and options["weight_decay"] == 1e-4
    assert options["epochs"] == 1000 and options["batch_size"] == 768 and options["lr_schedule"] == "timm"
    assert options["warmup_epochs"] == 10 and options["warmup_lr"] == pytest.approx(1.5e-6)
    assert options["min_lr"] == pytest.approx(1.5e-5) and options["drop_path"] == 0.1
    assert (options["mixup"], options["cutmix"], options["label_smoothing"]) == (0.8, 1.0, 0.1)
    assert options["random_erasing"] == 0.25 and options["rand_augment"] == "rand-m9-mstd0.5-inc1"
    assert options["head"] == "linear" and options["head_init_std"] == 0.02
    assert overrides == {} and any("best epoch" in m for m in missing)
    assert named_setting("finetune", options) == "recipe onepfrac-official"


def test_sgd_is_timms_nesterov_sgd_and_a_recipe_runs_at_224_style_upscale(tmp_path, monkeypatch):
    """The official recipe end to end on 1p-frac's tiny ViT, its inputs upscaled 6 -> 16 px."""
    made = []

    class SGD(torch.optim.SGD):
        def __init__(self, params, **kwargs):
            made.append(kwargs)
            super().__init__(params, **kwargs)

    monkeypatch.setattr(torch.optim, "SGD", SGD)
    reg = registry.load(extra_plugins=[("repr_toy", repr_toy)])
    path = tmp_path / "suite.yaml"
    frac = (
        "{name: onepfrac, params: {copies: 8, points: 2000, render_size: 32, patch_size: 4, dim: 16, depth: 1, "
        "heads: 2, batch_size: 4, warmup_epochs: 1.0}, budget: {epochs: 1}}"
    )
    path.write_text(f"""
runs:
  - datasets: blobs
    methods: [{frac}]
    protocol: {{name: finetune, recipe: onepfrac-official, overrides: {{epochs: 3, batch_size: 100, input_size: 16}}}}
""")
    suite = load_suite(path, reg)
    store = ResultStore(tmp_path / "results")
    run_specs(suite.runs, reg, store, DataStore(tmp_path / "data"), Progress(quiet=True))
    record = store.read(suite.runs[0])
    assert record.status == "ok", record.error
    assert made == [{"lr": pytest.approx(0.015), "momentum": 0.9, "nesterov": True}]
    fine = record.details["finetune"]
    assert fine["optimizer"] == "SGD, Nesterov momentum 0.9" and fine["lr_schedule"] == "timm"
    assert fine["recipe"] == "onepfrac-official" and fine["overrides"]["input_size"] == 16
    assert record.details["input"]["image_shape"] == [1, 16, 16] and record.details["split"]["val"] == 0
    assert 0 <= record.metrics["test_accuracy"] <= 100


def test_the_onepfrac_cifar_suites_run_the_papers_setting_beside_its_number():
    """The suites that carry the published 84.2 fine-tune by the official recipe at 224 px, on
    ViT-Tiny/16, and probe the same pre-trainings; 84.2 sits beside those rows only."""
    reg = registry.load()
    published = reg.methods["onepfrac"].published[0]
    assert published.value == 84.2 and published.setting == "recipe onepfrac-official"
    for name in ("onepfrac-cifar10", "onepfrac-cifar100"):
        runs = load_suite(Path(__file__).parents[2] / "suites" / f"{name}.yaml", reg).runs
        tuned = [s for s in runs if s.protocol == "finetune"]
        frac = reg.methods["onepfrac"]
        assert tuned and all(resolve_recipe(s.protocol_options, frac)[0]["input_size"] == 224 for s in tuned)
        assert all(named_setting("finetune", s.protocol_options) == published.setting for s in tuned)
        for s in runs:
            assert s.protocol_options["input_size"] == 224 or s.protocol == "finetune"
            assert (s.params["patch_size"], s.params["dim"], s.params["depth"], s.params["heads"]) == (16, 192, 12, 3)

        def key(spec, method=reg.methods["onepfrac"]):  # the pre-training a run uses (fine-tune: its recipe's)
            options = (
                resolve_recipe(spec.protocol_options, method)[0]
                if spec.protocol == "finetune"
                else spec.protocol_options
            )
            return json.dumps(pretrain_identity(replace(spec, protocol_options=options), method), sort_keys=True)

        pretrained = [s for s in runs if s.protocol_options["weights"] == "pretrained"]
        assert {key(s) for s in pretrained if s.protocol == "finetune"} == {
            key(s) for s in pretrained if s.protocol != "finetune"
        }  # one pre-training per delta, shared by the fine-tune and the probe
