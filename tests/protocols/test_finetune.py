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
from PIL import Image

import repr_toy
from bench import RepresentationLearner, Setting, hookimpl, identity, registry
from bench.data.loader import Normalize, mix_batch, random_erase
from bench.data.store import DataStore
from bench.progress import Progress
from bench.protocols import PROTOCOLS, check_setting, named_setting
from bench.protocols.finetune import Finetuned, lr_factor, param_groups
from bench.protocols.input_size import resize_images, resize_inputs
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


def test_every_registered_setting_sets_options_its_protocol_declares_with_allowed_values(methods):
    """What the host's tables were checked for: now every method's registered recipes and probes."""
    found = {}
    for method in methods.values():
        for protocol, option, field in (("finetune", "recipe", "recipes"), ("linear-probe", "probe", "probes")):
            for name in getattr(method, field, {}):
                found[method.name, name] = check_setting(protocol, method, {option: name})
    assert {("mae", "mae-official"), ("mae", "mae-cifar-reimpl"), ("onepfrac", "onepfrac-official")} <= set(found)
    assert {("mae", "ddae-official"), ("ddae", "ddae-official"), ("ddae", "mae-official")} <= set(found)
    assert not any(found.values()), found
    # and a plugin's mistakes are named, with the method and the setting
    bad = RepresentationLearner(
        "bad",
        build_sized,
        pretrain_sized,
        recipes={"fast": Setting({"epochs": 0, "nope": 1, "recipe": "x"}), "bench": Setting()},
    )
    assert check_setting("finetune", bad, {"recipe": "fast"}) == [
        "method 'bad' registers recipe 'bench', the host's own: rename it"
    ]
    bad = replace(bad, recipes={"fast": Setting({"epochs": 0, "nope": 1, "recipe": "x"})})
    problems = check_setting("finetune", bad, {"recipe": "fast"})
    assert problems[0].startswith("method 'bad', recipe 'fast' sets epochs: ") and len(problems) == 3
    assert "sets 'nope', which is not an option of protocol 'finetune'" in problems[1]
    assert check_setting("finetune", bad, {"recipe": "bench"}) == [] and check_setting("knn", bad, {}) == []
    with pytest.raises(ValueError, match="field 'recipes': 'fast' must be a bench.Setting"):
        replace(bad, recipes={"fast": {"epochs": 1}})
    with pytest.raises(ValueError, match="recipe name 'Fast one' is not valid"):
        replace(bad, recipes={"Fast one": Setting()})
    with pytest.raises(ValueError, match="missing must be a tuple of lines"):
        Setting({}, missing="one line")


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


# -- input_size: the encoder built, pre-trained and fed at another size ------------------------------

SEEN: list[tuple] = []  # the input shapes the toy encoder below was fed
PRETRAINED: list[tuple] = []  # the image shapes its pre-training got


class SizedEncoder(torch.nn.Module):
    """A linear map of the flattened image: it takes only the shape it was built for."""

    def __init__(self, shape):
        super().__init__()
        self.proj = torch.nn.Linear(math.prod(shape), 8)

    def forward(self, x):
        SEEN.append(tuple(x.shape[1:]))
        return self.proj(x.flatten(1))


def build_sized(image_shape, ctx):
    return SizedEncoder(image_shape)


def pretrain_sized(data, ctx):
    PRETRAINED.append(tuple(data.images.shape[1:]))
    for _ in ctx.epochs(1):
        ctx.step(n=len(data))
    return build_sized(data.image_shape, ctx)


class SizedPlugin:
    @hookimpl
    def bench_register_methods(self, register):
        register(RepresentationLearner("sized", build_sized, pretrain_sized, budget={"epochs": 1}))


def test_input_size_builds_pretrains_and_feeds_the_encoder_at_that_size(tmp_path):
    reg = registry.load(extra_plugins=[("repr_toy", repr_toy), ("sized", SizedPlugin())])
    path = tmp_path / "suite.yaml"
    path.write_text("""
runs:
  - datasets: blobs
    methods: sized
    protocol: {name: finetune, input_size: 10, crop_pct: 0.8, epochs: 2, resized_crop: [0.5, 1.0]}
  - {datasets: blobs, methods: sized, protocol: {name: linear-probe, input_size: 10, epochs: 2}}
  - {datasets: blobs, methods: sized, protocol: {name: finetune, input_size: 10, epochs: 1, weights: random}}
  - {datasets: blobs, methods: sized, protocol: {name: finetune, epochs: 1}}
""")
    suite = load_suite(path, reg)
    SEEN.clear()
    PRETRAINED.clear()
    store = ResultStore(tmp_path / "results")
    run_specs(suite.runs[:3], reg, store, DataStore(tmp_path / "data"), Progress(quiet=True))
    records = [store.read(spec) for spec in suite.runs[:3]]
    for r in records:
        assert r.status == "ok", r.error
        assert r.details["input"]["image_shape"] == [1, 10, 10]
        assert r.details["input"]["resize"] == "bicubic from 6x6 on the device, after augmentation"
    assert [r.details["input"]["crop_pct"] for r in records] == [0.8, 1.0, 1.0]
    # One pre-training at 10 x 10, shared by the fine-tune and the probe; training (augmented) and
    # evaluation batches (the fine-tune's: the centre 10 of 12) all reached the encoder at 10 x 10,
    # though the images are 6 x 6.
    assert PRETRAINED == [(1, 10, 10)]
    assert SEEN and set(SEEN) == {(1, 10, 10)}
    assert records[0].details["pretrain"]["identity"]["input_size"] == 10
    assert "resized to 10 px" in records[0].metric_info["test_accuracy"]["convention"]
    # Without the option: the images' own size, and the pre-training keyed as before the option.
    SEEN.clear()
    run_specs(suite.runs[3:], reg, store, DataStore(tmp_path / "data"), Progress(quiet=True))
    plain = store.read(suite.runs[3])
    assert plain.status == "ok" and plain.details["input"] == {
        "image_shape": [1, 6, 6],
        "resize": "none",
        "crop_pct": 1.0,
    }
    assert PRETRAINED == [(1, 10, 10), (1, 6, 6)] and set(SEEN) == {(1, 6, 6)}
    assert "input_size" not in plain.details["pretrain"]["identity"]


def pil_resize(images: torch.Tensor, side: int) -> torch.Tensor:
    """What timm's bicubic resize gives: PIL's, per channel of uint8 images (N, C, H, W)."""
    resized = [[np.array(Image.fromarray(c.numpy()).resize((side, side), Image.BICUBIC)) for c in i] for i in images]
    return torch.from_numpy(np.array(resized))


def test_the_resize_is_pils_bicubic_as_timms_transforms():
    """uint8 images resized as PIL's bicubic (timm's) to within one level, and the encoder's inputs
    as their normalised values (to within the 1.5 levels PIL's rounding after each pass makes),
    saturated where PIL saturates;
    with crop_pct, in eval mode, the centre of a larger resize (timm's eval transform)."""
    images = torch.randint(0, 256, (2, 3, 8, 6), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    stored, pil = resize_images(images, 20), pil_resize(images, 20)
    assert stored.dtype == torch.uint8 and stored.shape == (2, 3, 20, 20)
    assert (stored.int() - pil.int()).abs().max() <= 1 and (stored != pil).float().mean() < 0.01
    assert resize_images(images, 0) is images

    normalize = Normalize([0.5, 0.4, 0.3], [0.25, 0.2, 0.1], torch.device("cpu"))
    level = 1.5 / 255 / torch.tensor(normalize.std)[None, :, None, None]

    def near(x, uint8):  # within 1.5 levels of the normalised uint8 picture
        return x.shape == uint8.shape and ((x - normalize(uint8)).abs() <= level).all()

    seen = []
    encoder = resize_inputs(torch.nn.Identity(), 20, normalize)
    encoder.register_forward_hook(lambda m, args, out: seen.append(args[0]))
    x = encoder(normalize(images))
    assert near(x, pil)
    assert torch.allclose(x.amax((0, 2, 3)), normalize(torch.full((1, 3, 1, 1), 255, dtype=torch.uint8)).flatten())
    assert torch.equal(encoder(seen[0]), seen[0])  # already at the size: untouched
    assert resize_inputs(encoder, 0, normalize) is encoder

    cropping = resize_inputs(torch.nn.Identity(), 14, normalize, crop_pct=0.875).eval()  # 16, its centre 14
    assert near(cropping(normalize(images)), pil_resize(images, 16)[..., 1:15, 1:15])
    assert near(cropping.train()(normalize(images)), pil_resize(images, 14))  # training batches: the whole image
    with pytest.raises(ValueError, match="crop_pct 0.875 needs input_size"):
        resize_inputs(torch.nn.Identity(), 0, normalize, crop_pct=0.875)

    class ManyReadOuts(torch.nn.Identity):  # read_outs bypasses forward (DDAE's one pass for many)
        def read_outs(self, images, choices):
            return [images for _ in choices]

    outs = resize_inputs(ManyReadOuts(), 20, normalize).read_outs(normalize(images), [{}, {}])
    assert len(outs) == 2 and near(outs[0], pil)


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


def test_bench_plugins_lists_a_methods_recipes_and_probes(capsys):
    from bench import cli

    assert cli.main(["plugins", "mae"]) == 0
    page = capsys.readouterr().out
    assert "recipes (protocol finetune, recipe: NAME" in page and "probes (protocol linear-probe" in page
    assert "  mae-official: facebookresearch/mae main_finetune.py" in page and "layer_decay=0.65" in page
    assert "    lacks: the official run reports the best epoch's test accuracy; ours is the last epoch's" in page
    assert cli.main(["plugins", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)["plugins"]}
    assert set(rows["mae"]["recipes"]) == {"mae-official", "mae-cifar-reimpl"}
    assert rows["onepfrac"]["recipes"]["onepfrac-official"]["options"]["input_size"] == 224
    assert set(rows["ddae"]["probes"]) == {"ddae-official", "mae-official"} and rows["ddae"]["recipes"] == {}
