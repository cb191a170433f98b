"""ZSSR's gradual SR as the official code runs it (github.com/assafshocher/ZSSR: configs.py
``X2_GRADUAL_IDEAL_CONF``, ZSSR.py ``run``/``train``, utils.py ``random_augment``), one jump kept
as an option, the schedule in the record; and the paper's Table 1 declared."""

import numpy as np
import pytest
import torch

import restoration_toy
from bench import Problem, param_defaults, registry
from bench.context import bookkeeping
from bench.data.store import DataStore
from bench.progress import Progress
from bench.records import ResultStore
from bench.restoration.context import RestoreContext
from bench.restoration.resize import imresize
from bench.runner import run_specs
from bench.specs import Budget
from bench.suite import load_suite
from bench_plugins.methods import zssr

#: configs.py:77-78, copied from the official file (not from our module).
OFFICIAL_X2_SCALES = [[1.0, 1.5], [1.5, 1.0], [1.5, 1.5], [1.5, 2.0], [2.0, 1.5], [2.0, 2.0]]
OFFICIAL_X2_BACK_PROJECTION = [6, 6, 8, 10, 10, 12]


def params(**over):
    spec = registry.load().method("zssr")
    tiny = {"width": 8, "depth": 3, "crop_size": 16, "run_test_every": 2}
    return {**param_defaults(spec.params), **tiny, **over}


def sr_problem(scale, size=(3, 20, 17)):
    lr = torch.rand(size, generator=torch.Generator().manual_seed(0))
    return Problem(task="sr", observed=lr, output_shape=(size[0], size[1] * scale, size[2] * scale), scale=scale)


def restore_ctx(p, iterations):
    return RestoreContext(device=torch.device("cpu"), seed=0, budget=Budget({"iterations": iterations}), params=p)


def test_the_default_schedule_is_the_official_gradual_x2_and_x4_keeps_its_shape():
    assert registry.load().method("zssr").params["schedule"].default == "gradual"
    x2 = zssr.schedule(2.0, params())
    assert [list(s) for s, _ in x2] == OFFICIAL_X2_SCALES
    assert [bp for _, bp in x2] == OFFICIAL_X2_BACK_PROJECTION
    x4 = zssr.schedule(4.0, params())
    assert [s for s, _ in x4] == [(1.0, 2.5), (2.5, 1.0), (2.5, 2.5), (2.5, 4.0), (4.0, 2.5), (4.0, 4.0)]
    assert zssr.schedule(4.0, params(schedule="one-jump")) == [((4.0, 4.0), 10)]
    with pytest.raises(ValueError, match="'gradual_back_projection_iters' needs 6 values"):
        zssr.schedule(2.0, params(gradual_back_projection_iters=[6, 6]))


class Scripted:
    """A numpy Generator stand-in returning scripted uniforms (normals 0: no shear, no anisotropy)."""

    def __init__(self, uniforms):
        self.uniforms = list(uniforms)

    def random(self):
        return self.uniforms.pop(0)

    def standard_normal(self):
        return 0.0

    def integers(self, n):
        return 0


def test_augmentation_crops_the_smallest_source_above_the_drawn_scale_at_its_own_scale():
    p = params(augment_leave_as_is_probability=0.05, augment_no_interpolate_probability=0.45)
    shapes, scales = [(20, 17), (30, 26)], [1.0, 1.5]  # the LR image, a 1.5x output
    # no interpolation (0.3), scale 0.9 * (1.5 - 0.5) + 0.5 = 1.4 > 1: the 1.5x output, unscaled
    source, m = zssr.random_augment(Scripted([0.3, 0.9, 0.0, 0.0]), shapes, scales, p)
    assert source == 1 and abs(np.linalg.det(m[:2, :2])) == pytest.approx(1.0)
    # scale 0.3 * 1 + 0.5 = 0.8 <= 1: the LR image
    source, _ = zssr.random_augment(Scripted([0.3, 0.3, 0.0, 0.0]), shapes, scales, p)
    assert source == 0
    # affine (0.99), scale 1.5: the 1.5x output at 1.5 / 1.5 = 1 (utils.py:77), not 1.5
    source, m = zssr.random_augment(Scripted([0.99, 1.0, 0.0, 0.0, 0.0]), shapes, scales, p)
    assert source == 1 and abs(np.linalg.det(m[:2, :2])) == pytest.approx(1.0)
    # leave as is: always the LR image, and a one-source pool never draws above 1
    assert zssr.random_augment(Scripted([0.01, 0.0, 0.0]), shapes, scales, p)[0] == 0
    assert zssr.random_augment(Scripted([0.3, 1.0, 0.0, 0.0]), shapes[:1], scales[:1], p)[0] == 0


@pytest.mark.slow  # six x4 stages, each with its 8-view ensemble: ~18 s of CPU
def test_each_gradual_stage_trains_on_the_pool_of_earlier_outputs_and_ends_with_its_own_ensemble(monkeypatch):
    calls, finals, crops = [], [], []
    real_augment, real_final, real_warp = zssr.random_augment, zssr.final_test, zssr.warp

    def augment(rng, shapes, scales, p):
        calls.append((list(shapes), list(scales)))
        return real_augment(rng, shapes, scales, p)

    def final_test(model, lr_image, sf, bp_steps, p, ctx):
        out = real_final(model, lr_image, sf, bp_steps, p, ctx)
        finals.append((lr_image, sf, bp_steps, out))
        return out

    def warp(image, matrix, size):
        crops.append(image)
        return real_warp(image, matrix, size)

    monkeypatch.setattr(zssr, "random_augment", augment)
    monkeypatch.setattr(zssr, "final_test", final_test)
    monkeypatch.setattr(zssr, "warp", warp)
    problem = sr_problem(4)
    p = params(augment_leave_as_is_probability=0.0)  # every crop draws its scale
    ctx = restore_ctx(p, 6 * 30)  # the budget counts all stages: 30 each
    out = zssr.restore_zssr(problem, ctx)

    stages = [(1.0, 2.5), (2.5, 1.0), (2.5, 2.5), (2.5, 4.0), (4.0, 2.5), (4.0, 4.0)]
    assert [f[1] for f in finals] == stages and [f[2] for f in finals] == OFFICIAL_X2_BACK_PROJECTION
    assert bookkeeping(ctx).steps == 6 * 30
    for k, (shapes, scales) in enumerate(calls[::30]):
        # stage k's pool: the LR image and the outputs of stages 0..k-1, each at its smaller axis' scale
        assert len(shapes) == k + 1 and scales == [1.0] + [min(s) for s in stages[:k]]
        assert shapes[1:] == [tuple(f[3].shape[-2:]) for f in finals[:k]]
    # the pool holds the very outputs (not copies), and later stages crop from them
    assert any(c is finals[2][3] for c in crops[3 * 30 :])
    assert all(f[0] is problem.observed for f in finals)  # the network always upscales the LR image
    assert out is finals[-1][3] and out.shape == problem.output_shape
    logged = [c for c in bookkeeping(ctx).curves if "scale_h" in c]
    assert [(c["scale_h"], c["scale_w"]) for c in logged] == stages


def test_anisotropic_stages_ensemble_over_the_180_degree_views_only(monkeypatch):
    seen = []
    real = zssr.upscale_and_refine
    monkeypatch.setattr(
        zssr,
        "upscale_and_refine",
        lambda net, image, sf, shape, ctx: seen.append(shape) or real(net, image, sf, shape, ctx),
    )
    net = zssr.ZSSRNet(3, 4, 2)
    lr = torch.rand(3, 10, 7, generator=torch.Generator().manual_seed(0))
    ctx = restore_ctx(params(), 1)
    assert zssr.final_test(net, lr, (1.0, 1.5), 0, params(), ctx).shape == (3, 10, 11)
    assert seen == [(10, 11)] * 4  # k = 0, 2, 4, 6 (ZSSR.py:341)
    seen.clear()
    zssr.final_test(net, lr, (2.0, 2.0), 0, params(), ctx)
    assert len(seen) == 8 and seen[1] == (14, 20)


def test_one_jump_still_runs_and_the_record_says_which_schedule_ran(tmp_path):
    reg = registry.load(extra_plugins=[("restoration_toy", restoration_toy)])
    tiny = (
        "width: 8, depth: 3, crop_size: 16, back_projection_iters: 2, gradual_back_projection_iters: [1, 1, 1, 1, 1, 1]"
    )
    (tmp_path / "suite.yaml").write_text(
        f"""
name: tiny
seeds: [0]
runs:
  - datasets: tiny-restore
    methods: [{{name: zssr, params: {{{tiny}}}, budget: {{iterations: 18}}}},
              {{name: zssr, params: {{{tiny}, schedule: one-jump}}, budget: {{iterations: 3}}}}]
    protocol: {{name: restore, task: sr, scale: 2, images: [rgb]}}
"""
    )
    suite = load_suite(tmp_path / "suite.yaml", reg)
    store = ResultStore(tmp_path / "results")
    outcome = run_specs(suite.runs, reg, store, DataStore(tmp_path / "data"), Progress(quiet=True))
    assert outcome.exit_code == 0, [store.read(s).error for s in suite.runs]
    gradual, jump = (store.read(s) for s in suite.runs)
    assert gradual.spec["params"]["schedule"] == "gradual" and jump.spec["params"]["schedule"] == "one-jump"
    assert gradual.details["per_image"][0]["iterations"] == 18  # 3 per stage
    assert jump.details["per_image"][0]["iterations"] == 3
    stages = [(c["scale_h"], c["scale_w"]) for c in gradual.details["curves"]["rgb"] if "scale_h" in c]
    assert stages == [tuple(s) for s in OFFICIAL_X2_SCALES]
    assert jump.details["budget_vs_full"]["iterations"] == {"used": 3, "full": 6 * 3000}


def test_the_budget_is_shared_evenly_by_the_stages_each_at_most_max_iters(monkeypatch):
    shares = []
    real = zssr.train_stage
    monkeypatch.setattr(zssr, "train_stage", lambda *a: shares.append(a[8]) or real(*a))
    zssr.restore_zssr(sr_problem(2), restore_ctx(params(), 8))
    assert shares == [1, 1, 2, 1, 1, 2]  # 8 over 6 stages: never more than the budget in all
    shares.clear()
    zssr.restore_zssr(sr_problem(2), restore_ctx(params(max_iters=2), 60))
    assert shares == [2] * 6  # configs.py's max_iters caps every stage
    shares.clear()
    zssr.restore_zssr(sr_problem(2), restore_ctx(params(schedule="one-jump", max_iters=5), 60))
    assert shares == [5]


def test_progress_counts_the_stages_together():
    import io
    import re

    stream = io.StringIO()
    ctx = RestoreContext(
        device=torch.device("cpu"),
        seed=0,
        budget=Budget({"iterations": 12}),
        params=params(),
        progress=Progress(stream, interval=0),
    )
    zssr.restore_zssr(sr_problem(2), ctx)
    shown = [(int(a), int(b)) for a, b in re.findall(r"iter (\d+)/(\d+)", stream.getvalue())]
    assert shown and all(a <= b <= 12 for a, b in shown) and shown[-1] == (12, 12), shown


def test_zssr_augmentation_without_interpolation_is_an_exact_rotated_crop():
    """ZSSR's no-interpolation mode: a 90-degree rotation / mirror and an integer crop, exact
    values (rotating about the rounded centre may bring in a zero row or column, as in ZSSR)."""
    params = {
        "augment_leave_as_is_probability": 0.0,
        "augment_no_interpolate_probability": 1.0,
        "augment_min_scale": 0.5,
        "augment_scale_diff_sigma": 0.25,
        "augment_shear_sigma": 0.1,
        "crop_size": 8,
    }
    image = 0.1 + 0.9 * torch.rand(1, 24, 24, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    rng = np.random.default_rng(0)
    candidates = [torch.rot90(image[0], k, (0, 1)) for k in range(4)]
    candidates = [
        torch.nn.functional.pad(c, (2, 2, 2, 2)) for c in candidates + [torch.flip(c, (1,)) for c in candidates]
    ]
    for _ in range(12):
        crop = zssr.warp(image, zssr.augment_matrix(rng, 24, 24, params), 8)[0]
        assert (crop > 0).float().mean() > 0.7
        found = any(
            torch.allclose(crop, c[i : i + 8, j : j + 8], atol=1e-9)
            for c in candidates
            for i in range(c.shape[0] - 7)
            for j in range(c.shape[1] - 7)
        )
        assert found


def test_zssr_back_projection_makes_the_downscaled_output_match_the_lr_image():
    lr = restoration_toy.smooth_image(1, 12, 12, 3).double() / 255
    sr = torch.full((1, 24, 24), 0.5, dtype=torch.float64)
    before = (imresize(sr, 0.5, (12, 12)) - lr).abs().mean()
    for _ in range(10):
        sr = zssr.back_projection(sr, lr, 2.0)
    assert (imresize(sr, 0.5, (12, 12)) - lr).abs().mean() < 0.1 * before
