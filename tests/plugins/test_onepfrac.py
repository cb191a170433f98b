"""1p-frac: IFS sampling, the batched chaos-game renderer, local perturbations, LPCE batches, and a
tiny run through the host (fine-tune and linear probe) that records the renderer's rate and the picture."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from bench import registry
from bench.context import PretrainData, RunContext
from bench.data.loader import Normalize
from bench.data.store import DataStore
from bench.progress import Progress
from bench.records import ResultStore
from bench.runner import run_specs
from bench.specs import Budget
from bench.suite import load_suite
from bench_plugins.methods import fractal, onepfrac

SUITES = Path(__file__).resolve().parents[2] / "suites"


def system(seed: int, sigma: float = 3.5):
    maps, drawn = fractal.sample_system(2, sigma, torch.Generator().manual_seed(seed))
    return maps, fractal.map_probabilities(maps), drawn


def near(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Fraction of a's set pixels within 2 px of one of b's (per image)."""
    around = torch.nn.functional.max_pool2d((b > 0).float(), 5, 1, 2)
    return ((a > 0).float() * around).sum((1, 2, 3)) / (a > 0).float().sum((1, 2, 3))


# -- the IFS ------------------------------------------------------------------------------------------


# -- the perturbations -----------------------------------------------------------------------------------


def test_delta_zero_copies_share_the_points_of_the_base_fractal_but_not_its_texture():
    """The official renderer draws a patch mask per point and per picture: at delta 0 the copies'
    points are the base fractal's, their pictures are not pixel-identical."""
    maps, probs, _ = system(2)
    g = torch.Generator().manual_seed(0)
    render = dict(size=64, points=6000)
    base = fractal.render(maps[None], probs[None], **render)
    same = fractal.perturb(maps, 5, 0.0, g)
    assert torch.equal(same, maps.expand(5, -1, -1, -1))
    copies = fractal.render(same, probs.expand(5, -1), **render)
    assert torch.equal(
        fractal.chaos_game(same, probs.expand(5, -1), 6000),
        fractal.chaos_game(maps[None], probs[None], 6000).expand(5, -1, -1),
    )
    assert all(not torch.equal(copies[i], copies[j]) for i in range(5) for j in range(i))
    assert near(copies, base).min() > 0.97 and near(base.expand(5, -1, -1, -1), copies).min() > 0.97
    lone = fractal.rasterize(
        torch.tensor([[[0.0, 0.0], [1.0, 1.0]]]).expand(4000, -1, -1),
        torch.randint(1, 512, (4000, 2), generator=g),
        size=16,
        pad=4,
    )
    assert abs((lone > 0).float().sum((1, 2, 3)).mean().item() - 2 * 9 * 256 / 511) < 0.1  # masks uniform in 1..511
    assert torch.equal(copies, fractal.render(same, probs.expand(5, -1), **render))  # seeded: reproducible
    other = fractal.render(same, probs.expand(5, -1), **render, mask_generator=torch.Generator().manual_seed(1))
    assert not torch.equal(copies, other)

    small = fractal.perturb(maps, 8, 0.01, g)
    ratio = small / maps
    assert ((ratio - 1).abs() <= 0.01 + 1e-12).all() and not torch.equal(small[0], small[1])
    close = fractal.render(small, probs.expand(8, -1), **render)
    assert all(not torch.equal(image, base[0]) for image in close)  # every copy differs ...
    assert near(close, base).min() > 0.9  # ... but stays where the fractal is
    other, other_probs, _ = system(12)
    assert near(fractal.render(other[None], other_probs[None], **render), base).item() < near(close, base).mean() - 0.2
    far = fractal.render(fractal.perturb(maps, 8, 0.2, g), probs.expand(8, -1), **render)
    assert near(far, base).mean() < near(close, base).mean()  # larger delta, larger changes


def test_make_fractals_redraws_thin_copies_and_class_i_is_copy_i():
    p = {**onepfrac.PARAMS, "copies": 12, "render_size": 48, "points": 3000, "delta": 0.2, "fill_threshold": 0.06}
    data = onepfrac.make_fractals(p, seed=0, device=torch.device("cpu"))
    assert data["images"].shape == (12, 1, 48, 48)
    assert (fractal.fill_rate(data["images"]) >= 0.06).all()
    points = fractal.chaos_game(data["copies"], data["probs"].expand(12, -1), 3000)
    footprint = fractal.rasterize(points, torch.full((12, 3000), 511), 48, 6) > 0  # every cell of every patch
    inside = torch.stack([((data["images"] > 0) & ~f).flatten(1).sum(1) == 0 for f in footprint])  # (copy i, picture j)
    assert inside.diagonal().all() and inside.float().mean() < 0.3  # picture i is drawn from copy i
    with pytest.raises(RuntimeError, match="fill"):
        onepfrac.make_fractals({**p, "fill_threshold": 0.9}, seed=0, device=torch.device("cpu"))


# -- LPCE batches ---------------------------------------------------------------------------------------------


def ctx_for(tmp_path, params, shape=(1, 8, 8)):
    images = torch.randint(0, 256, (10, *shape), dtype=torch.uint8)
    return RunContext(
        device=torch.device("cpu"),
        seed=0,
        budget=Budget({"epochs": 1}),
        params=params,
        normalize=Normalize.fit(images),
        artifacts_dir=tmp_path,
        progress=Progress(quiet=True),
    )


def test_full_scale_crop_is_an_antialiased_resize():
    images = torch.randint(0, 256, (3, 1, 32, 32), dtype=torch.uint8)
    out = onepfrac.random_resized_crop(images, (8, 8), (1.0, 1.0), (1.0, 1.0), False, False, torch.Generator())
    assert torch.allclose(out, torch.nn.functional.avg_pool2d(images.float(), 4), atol=1e-3)
    flipped = onepfrac.random_resized_crop(
        images, (8, 8), (1.0, 1.0), (1.0, 1.0), True, True, torch.Generator().manual_seed(3)
    )
    assert all(
        torch.allclose(f, o)
        or torch.allclose(f, o.flip(-1))
        or torch.allclose(f, o.flip(-2))
        or torch.allclose(f, o.flip(-1, -2))
        for f, o in zip(flipped, out)
    )


def test_lpce_batches_label_each_picture_with_its_copy(tmp_path):
    """Without augmentation, input i is picture labels[i] and its target is one-hot at labels[i];
    with label smoothing and mixup the targets stay distributions over the L copies."""
    plain = {
        **onepfrac.PARAMS,
        "crop_scale_min": 1.0,
        "crop_ratio_max": 1.0,
        "hflip": False,
        "vflip": False,
        "erase_prob": 0.0,
        "mixup_alpha": 0.0,
        "cutmix_alpha": 0.0,
        "label_smoothing": 0.0,
        "randaugment_layers": 0,
    }
    ctx = ctx_for(tmp_path, plain, shape=(3, 8, 8))
    images = torch.randint(0, 256, (6, 1, 16, 16), dtype=torch.uint8)
    labels = torch.tensor([4, 0, 4, 2])
    rng = np.random.default_rng(0)
    x, targets = onepfrac.training_batch(images, labels, (3, 8, 8), plain, ctx, rng)
    assert x.shape == (4, 3, 8, 8) and targets.shape == (4, 6)
    expected = ctx.normalize(torch.nn.functional.avg_pool2d(images[labels].float(), 2).expand(-1, 3, -1, -1))
    assert torch.allclose(x, expected, atol=1e-4)
    assert torch.equal(targets, torch.nn.functional.one_hot(labels, 6).float())
    loss = -(targets * torch.log_softmax(torch.zeros(4, 6), 1)).sum(1).mean()
    assert loss.item() == pytest.approx(math.log(6))  # chance level of L = 6 classes

    recipe = {**onepfrac.PARAMS}
    x, targets = onepfrac.training_batch(images, labels, (3, 8, 8), recipe, ctx, rng)
    assert torch.allclose(targets.sum(1), torch.ones(4)) and (targets > 0).all()  # smoothing 0.1 / 6 off-target
    assert set(targets.argmax(1).tolist()) <= set(labels.tolist())


# -- the optimiser and the crop sources ------------------------------------------------------------------------

TINY_PARAMS = {**onepfrac.PARAMS, **onepfrac.CHECK_PARAMS}  # the tiny model bench check runs


def test_pretraining_scales_the_lr_with_the_batch_and_spares_the_class_token_weight_decay(tmp_path, monkeypatch):
    assert onepfrac.scaled_lr(1e-3, 256) == 5e-4 and onepfrac.scaled_lr(1e-3, 512) == 1e-3  # DeiT: x batch / 512
    made = []

    class Recording(torch.optim.AdamW):
        def __init__(self, groups, **kwargs):
            super().__init__(groups, **kwargs)
            made.append(self)

    monkeypatch.setattr(torch.optim, "AdamW", Recording)
    ctx = ctx_for(tmp_path, TINY_PARAMS)
    ctx.budget = Budget({"epochs": 1})
    encoder = onepfrac.fit_onepfrac(PretrainData(torch.zeros(4, 1, 8, 8, dtype=torch.uint8)), ctx)
    (optimizer,) = made
    assert all(g["initial_lr"] == pytest.approx(1e-3 * 4 / 512) for g in optimizer.param_groups)
    no_decay = {id(q) for g in optimizer.param_groups if g["weight_decay"] == 0 for q in g["params"]}
    assert id(encoder.cls_token) in no_decay
    assert id(encoder.patch_embed.weight) not in no_decay  # matrices keep their weight decay


def test_crops_come_from_renders_resampled_once_at_the_official_render_to_input_ratio():
    images = torch.randint(0, 256, (3, 1, 512, 512), dtype=torch.uint8)
    small = onepfrac.crop_sources(images, (32, 32))
    assert small.dtype == torch.uint8 and small.shape == (3, 1, 74, 74)  # 32 * 512 / 224 = 73.1
    expected = torch.nn.functional.interpolate(images.float(), size=(74, 74), mode="bilinear", antialias=True)
    assert (small.float() - expected).abs().max() <= 0.5
    assert onepfrac.crop_sources(images, (224, 224)) is images  # the paper's setting: as rendered
    assert onepfrac.crop_sources(images[..., :64, :64], (28, 28)).shape[-1] == 64  # never upsampled
    # A full-picture crop from the resampled render is the antialiased resize of the render.
    full = onepfrac.random_resized_crop(small, (32, 32), (1.0, 1.0), (1.0, 1.0), False, False, torch.Generator())
    direct = onepfrac.random_resized_crop(images, (32, 32), (1.0, 1.0), (1.0, 1.0), False, False, torch.Generator())
    assert (full - direct).abs().mean() < 8


# -- through the host ---------------------------------------------------------------------------------------------

TINY = f"{{name: onepfrac, params: {json.dumps(onepfrac.CHECK_PARAMS)}, grid: {{delta: [0.0, 0.1]}}, budget: {{epochs: 2}}}}"
ONE = f"{{name: onepfrac, params: {json.dumps({**onepfrac.CHECK_PARAMS, 'delta': 0.1})}, budget: {{epochs: 2}}}}"


def test_a_tiny_run_through_the_host_records_the_renderer_rate_and_the_picture(tmp_path, monkeypatch):
    from fakedata import use_fake_mnist

    data = tmp_path / "data"
    use_fake_mnist(monkeypatch, data, n_train=100, n_test=60)
    reg = registry.load()
    sizes = "labelled_images: 60, test_images: 40, eval_batch_size: 40"
    path = tmp_path / "suite.yaml"
    path.write_text(f"""
name: tiny
runs:
  - {{datasets: mnist, methods: [{TINY}], protocol: {{name: finetune, {sizes}, epochs: 1, batch_size: 20}}}}
  - {{datasets: mnist, methods: [{ONE}], protocol: {{name: linear-probe, {sizes}, epochs: 2}}}}
  - {{datasets: mnist, methods: [{ONE}], protocol: {{name: finetune, {sizes}, epochs: 1, batch_size: 20, weights: random}}}}
""")
    suite = load_suite(path, reg)
    store = ResultStore(tmp_path / "results")
    outcome = run_specs(suite.runs, reg, store, DataStore(data), Progress(quiet=True))
    records = [store.read(s) for s in suite.runs]
    assert not outcome.failed, [r.error.traceback for r in records if r.status != "ok"]
    pretrained = [r for r in records if r.spec["protocol_options"]["weights"] == "pretrained"]
    assert len(pretrained) == 3
    for r in pretrained:
        rate = r.throughput["render_images_per_s"]
        assert rate["items_per_s"] > 0 and rate["resolution"] == 32 and rate["points"] == 2000
        assert r.throughput["pretrain_images_per_s"]["items_per_s"] > 0
        (picture,) = (
            [a for a in r.artifacts if a["kind"] == "fractal"]
            if r.details["pretrain"]["source"] == "trained"
            else [None]
        )
        if picture:
            assert (
                store.path_for(next(s for s in suite.runs if s.key == r.key)).with_suffix("") / picture["path"]
            ).is_file()
            assert f"delta {r.spec['params']['delta']}" in picture["caption"]
    sources = sorted(r.details["pretrain"]["source"] for r in pretrained)
    assert sources == ["artifact", "trained", "trained"]  # one pre-training per delta
    loaded = [r for r in pretrained if r.details["pretrain"]["source"] == "artifact"]
    assert all(r.throughput["render_images_per_s"]["measured_when"] == "artifact" for r in loaded)
    control = next(r for r in records if r.spec["protocol_options"]["weights"] == "random")
    assert "render_images_per_s" not in control.throughput and not control.artifacts


@pytest.mark.parametrize("name", ["onepfrac-cifar10", "onepfrac-cifar100", "onepfrac-mnist-cpu"])
def test_the_suites_validate(name):
    suite = load_suite(SUITES / f"{name}.yaml", registry.load())
    methods = {s.method for s in suite.runs}
    assert methods == {"onepfrac"}
    weights = {s.protocol_options["weights"] for s in suite.runs}
    assert weights == {"pretrained", "random"}  # the random-weight control is there
    assert {s.protocol for s in suite.runs} >= {"finetune", "linear-probe"}
    assert {s.params["delta"] for s in suite.runs} >= {0.0, 0.1}
