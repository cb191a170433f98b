"""Fine-tune: which parameters are decayed, layer-wise LR decay, drop path, the named recipes
(resolved, recorded, overridden), mixing and erasing, on a small ViT and MNIST-shaped blobs."""

import math

import numpy as np
import pytest
import torch

import repr_toy
from bench import registry
from bench.data.loader import mix_batch, random_erase
from bench.data.store import DataStore
from bench.progress import Progress
from bench.protocols import PROTOCOLS
from bench.protocols.finetune import RECIPES, Finetuned, lr_factor, param_groups, resolve_recipe
from bench.records import ResultStore
from bench.runner import run_specs
from bench.suite import load_suite
from bench_plugins.methods.vit import ViTEncoder


def vit(depth=3):
    torch.manual_seed(0)
    return ViTEncoder((1, 8, 8), 4, 16, depth, 2)


def defaults(**given):
    return {**{k: getattr(v, "default", v) for k, v in PROTOCOLS["finetune"].options.items()}, **given}


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


def test_recipes_set_their_options_and_a_non_default_option_overrides():
    options, overrides, missing = resolve_recipe(defaults(recipe="mae-official"))
    assert options["layer_decay"] == 0.65 and options["drop_path"] == 0.1 and options["mixup"] == 0.8
    assert options["lr"] == pytest.approx(2e-3) and options["head"] == "layernorm" and options["head_init_std"] == 2e-5
    assert options["rand_augment"] == "rand-m9-mstd0.5-inc1" and options["resized_crop"] == [0.08, 1.0]
    assert overrides == {} and not any("RandAugment" in m for m in missing)
    options, overrides, _ = resolve_recipe(defaults(recipe="mae-cifar-reimpl", overrides={"epochs": 3, "flip": True}))
    assert options["epochs"] == 3 and options["flip"] and overrides == {"epochs": 3, "flip": True}
    with pytest.raises(
        ValueError,
        match=r"option epochs is set by recipe mae-cifar-reimpl \(to 100\); to change it "
        r"under this recipe write overrides: \{epochs: 3\}",
    ):
        resolve_recipe(defaults(recipe="mae-cifar-reimpl", epochs=3))
    with pytest.raises(ValueError, match="overrides.nope is not an option the recipe sets"):
        resolve_recipe(defaults(recipe="mae-official", overrides={"nope": 1}))
    assert options["decay_all"] and options["holdout"] == 0.0 and options["lr"] == 5e-4 and options["head"] == "linear"
    assert resolve_recipe(defaults())[0] == defaults()  # bench: the options as given
    with pytest.raises(ValueError, match="unknown recipe 'nope'; known: bench, mae-official, mae-cifar-reimpl"):
        resolve_recipe(defaults(recipe="nope"))
    for recipe in RECIPES.values():
        assert set(recipe["options"]) <= set(PROTOCOLS["finetune"].options)


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
        assert r["status"] == "ok", r.get("error", {}).get("traceback")
    fine = official["details"]["finetune"]
    assert fine["recipe"] == "mae-official" and fine["overrides"] == {"epochs": 2, "batch_size": 50}
    assert fine["layer_decay"] == 0.65 and fine["mixup"] == 0.8 and fine["head"].startswith("LayerNorm")
    assert official["details"]["split"]["val"] > 0
    fine = reimpl["details"]["finetune"]
    assert fine["recipe"] == "mae-cifar-reimpl" and fine["head"] == "Linear" and fine["lr_schedule"] == "epoch"
    assert reimpl["details"]["split"]["val"] == 0  # all the training images, as the reimplementation
    assert "mae-cifar-reimpl" in reimpl["metric_info"]["test_accuracy"]["convention"]
