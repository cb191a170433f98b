"""No built-in method makes the GPU wait for the host inside its step loop (bench.syncs counts
it on the CPU), and the fixes that made it so: DIP's backtracking on the device, ZSSR's sampling
grid built on the device, the host's epochs read back only when needed, MAE's model prepared."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from bench import Problem, imresize
from bench.accel import Switches
from bench.context import PretrainData, RunContext, TrainData, bookkeeping
from bench.data.images import LabelledImages
from bench.data.loader import Normalize
from bench.progress import Progress
from bench.restoration.context import RestoreContext
from bench.specs import Budget
from bench.syncs import SyncCounter
from bench_plugins.methods import airbench, classical, ddae, dip, icn, mae, onepfrac, supervised, zssr

CPU = torch.device("cpu")


def images(n, shape, seed=0):
    return torch.randint(0, 256, (n, *shape), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


def run_ctx(params, data, epochs=1.0, tmp_path=None, progress=None, **switches):
    return RunContext(
        device=CPU,
        seed=0,
        budget=Budget({"epochs": epochs}),
        params=params,
        normalize=Normalize.fit(data),
        artifacts_dir=tmp_path,
        progress=progress or Progress(quiet=True),
        **switches,
    )


def train_data(n=64, shape=(1, 8, 8), classes=4):
    x = images(n, shape)
    return TrainData(LabelledImages(x, torch.arange(n) % classes, tuple("abcd"[:classes])), None, classes), x


def counted(fn, *args, warmup=0):
    with SyncCounter(CPU, warmup=warmup) as syncs:
        fn(*args)
    assert syncs.intervals >= 3, "the loop must run a few steps for the count to mean anything"
    return syncs


# -- the detector --------------------------------------------------------------------------------


def toy_fit(data, ctx, read_back=False):
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 4)).to(ctx.device)
    optimizer = torch.optim.Adam(model.parameters())
    for _ in ctx.epochs(2):
        for x, y in ctx.batches(data.train, 8):
            loss = F.cross_entropy(model(x), y)
            if read_back:
                loss.item()  # the mistake the detector exists for
            ctx.optimize(loss, optimizer, n=len(x))
    return model


def test_an_item_in_the_step_loop_is_counted_once_per_step(tmp_path):
    data, x = train_data()
    clean = counted(toy_fit, data, run_ctx({}, x, tmp_path=tmp_path))
    dirty = counted(lambda d, c: toy_fit(d, c, read_back=True), data, run_ctx({}, x, tmp_path=tmp_path))
    assert clean.per_step() == 0  # Adam's CPU step counter is torch's, not a sync
    assert dirty.per_step("readback") == 1 and dirty.per_step() == 1


def test_host_copies_and_mixed_devices_are_counted_even_on_the_cpu():
    with SyncCounter(CPU) as syncs:
        step = syncs._host_call("step", lambda: None)  # what wraps RunContext.step
        on_device = torch.zeros(4, device=CPU)
        for _ in range(4):
            grid = torch.tensor(np.arange(4.0))  # host data...
            on_device = on_device + grid.to(CPU)  # ...copied to the device: h2d
            _ = on_device + torch.arange(4.0)  # a host tensor in a device op: fails on CUDA
            _ = on_device * torch.tensor(2.0)  # a host scalar is fine on CUDA
            float(on_device.sum())  # a readback
            step()
    assert syncs.counts["loop"] == {"h2d": 3, "mixed": 3, "readback": 3}


# -- every built-in method: 0 syncs per step outside the host's progress and monitoring ------------


SUPERVISED = {
    "batch_size": 16,
    "lr": 1e-3,
    "weight_decay": 0.0,
    "label_smoothing": 0.0,
    "crop_padding": 1,
    "flip": True,
}


@pytest.mark.parametrize("fit, extra", [(supervised.fit_small_cnn, {"width": 4}), (supervised.fit_mlp, {"hidden": 16})])
def test_supervised_loops_never_wait(tmp_path, fit, extra):
    data, x = train_data()
    syncs = counted(fit, data, run_ctx({**SUPERVISED, **extra}, x, epochs=2, tmp_path=tmp_path))
    assert syncs.per_step() == 0, syncs.report()


def test_airbench_loop_never_waits(tmp_path):
    data, x = train_data(n=64, shape=(3, 16, 16))
    params = {
        **airbench.PARAMS,
        "batch_size": 16,
        "widths": (8, 8, 8),
        "whiten_samples": 64,
        "ema_start_epochs": 0,
        "ema_every_n_steps": 2,
        "tta_level": 0,
    }
    syncs = counted(airbench.fit_airbench94, data, run_ctx(params, x, epochs=2, tmp_path=tmp_path))
    assert syncs.per_step() == 0, syncs.report()


def test_icn_loop_reads_back_per_round_not_per_step(tmp_path):
    """ICN's rounds read back their diagnostics (two logged scalars, a picture per class): a
    fixed number per round, however many steps the round takes."""
    data, x = train_data(n=48)
    params = {
        **icn.PARAMS,
        "backbone": "small-cnn",
        "width": 4,
        "rounds": 2,
        "negatives_per_class": 2,
        "langevin_steps": 2,
        "batch_size": 16,
    }
    short = counted(icn.fit_icn, data, run_ctx(params, x, epochs=3, tmp_path=tmp_path))
    long = counted(icn.fit_icn, data, run_ctx(params, x, epochs=9, tmp_path=tmp_path))
    assert long.steps == 3 * short.steps and long.loop() == short.loop() <= 10, long.report()


MAE_TINY = {
    **mae.PARAMS,
    "patch_size": 4,
    "dim": 16,
    "depth": 1,
    "heads": 2,
    "decoder_dim": 16,
    "decoder_depth": 1,
    "decoder_heads": 2,
    "batch_size": 16,
    "flip": True,
}
DDAE_TINY = {
    **ddae.PARAMS,
    "n_channels": 32,
    "ch_mults": [1, 2],
    "attention_levels": [1],
    "n_blocks": 1,
    "batch_size": 16,
    "block": "out_2",
}
ONEPFRAC_TINY = {**onepfrac.PARAMS, **onepfrac.CHECK_PARAMS}


@pytest.mark.parametrize(
    "fit, params, epochs",
    [
        (mae.fit_mae, MAE_TINY, 3),
        pytest.param(ddae.fit_ddae, DDAE_TINY, 2, marks=pytest.mark.slow),  # a UNet: ~10 s of CPU
        (onepfrac.fit_onepfrac, ONEPFRAC_TINY, 3),
    ],
)
def test_pretraining_loops_never_wait(tmp_path, fit, params, epochs):
    x = images(64, (1, 8, 8))
    syncs = counted(fit, PretrainData(x), run_ctx(params, x, epochs=epochs, tmp_path=tmp_path))
    assert syncs.per_step() == 0, syncs.report()


def denoise_problem(size=(1, 32, 32), sigma=25.0):
    clean = torch.rand(size, generator=torch.Generator().manual_seed(0))
    noisy = clean + sigma / 255 * torch.randn(size, generator=torch.Generator().manual_seed(1))
    return Problem(task="denoise", observed=noisy, output_shape=size, sigma=sigma)


def restore_ctx(params, budget, **kw):
    return RestoreContext(device=CPU, seed=0, budget=Budget(budget), params=params, **kw)


DIP_TINY = {
    "lr": 0.01,
    "input_depth": 4,
    "input_scale": 0.1,
    "channels": 4,
    "scales": 2,
    "skip_channels": 2,
    "inpaint_skip_channels": 2,
    "inpaint_setting": "auto",
    "reg_noise_std": -1.0,
    "param_noise": -1.0,
    "average": "denoise",
    "ema": -1.0,
    "backtrack": True,
}


def test_dip_loop_never_waits_nor_clones_its_state():
    ctx = restore_ctx(
        DIP_TINY, {"denoise_iterations": 12, "sr_iterations": 12, "sr8_iterations": 12, "inpaint_iterations": 12}
    )
    syncs = counted(dip.restore_dip, denoise_problem(), ctx, warmup=2)  # the first check allocates its copies
    assert syncs.per_step() == 0, syncs.report()
    assert syncs.loop_calls["clone"] == 0  # a snapshot is copied into, not allocated, per iteration


def test_dip_backtracking_on_the_device_is_the_host_decision_exactly():
    """Fits collapsing now and then (a huge learning rate): the device version keeps the same
    weights and optimizer state as reading the fit back and branching on the host."""

    def make():
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.BatchNorm1d(8), torch.nn.Linear(8, 1))
        return net, torch.optim.Adam(net.parameters(), lr=3.0)

    inputs = torch.randn(40, 16, 3, generator=torch.Generator().manual_seed(2))

    def loss_of(net, i):
        return (net(inputs[i]) - 1).square().mean()

    host, host_opt = make()
    last_state, last_fit, host_collapses = None, -math.inf, []
    for i in range(40):
        host_opt.zero_grad()
        loss = loss_of(host, i)
        loss.backward()
        fit = -10 * math.log10(loss.item())
        if fit - last_fit < -5 and last_state is not None:
            host.load_state_dict(last_state)
            host_collapses.append(i)
            continue
        last_state, last_fit = {k: v.clone() for k, v in host.state_dict().items()}, fit
        host_opt.step()

    device, device_opt = make()
    backtrack, device_collapses = dip.Backtracking(device, device_opt), []
    for i in range(40):
        device_opt.zero_grad()
        loss = loss_of(device, i)
        loss.backward()
        collapsed = backtrack.check(loss)
        device_opt.step()
        backtrack.undo_if_collapsed()
        if collapsed:
            device_collapses.append(i)
    assert len(host_collapses) >= 2 and device_collapses == host_collapses
    for a, b in zip(host.state_dict().values(), device.state_dict().values()):
        assert torch.equal(a, b)
    for a, b in zip(host_opt.state.values(), device_opt.state.values()):
        assert all(torch.equal(a[k], b[k]) for k in a)


def zssr_params():
    from bench import param_defaults, registry

    spec = registry.load().method("zssr")
    return {
        **param_defaults(spec.params),
        "width": 8,
        "depth": 3,
        "crop_size": 16,
        "run_test_every": 5,
        "learning_rate_policy_check_every": 6,
        "min_iters": 0,
        "learning_rate_slope_range": 15,
        "back_projection_iters": 1,
        "output_flip": False,
        "schedule": "one-jump",  # one loop: each gradual stage runs the same one (train_stage)
    }


def sr_problem(scale=2, size=(1, 24, 24)):
    lr = torch.rand(size, generator=torch.Generator().manual_seed(0))
    return Problem(task="sr", observed=lr, output_shape=(size[0], size[1] * scale, size[2] * scale), scale=scale)


def test_zssr_loop_reads_back_only_when_its_learning_rate_policy_looks():
    p = zssr_params()
    # Warm-up: the first iterations fill the host's cache of resize matrices (one per size, on the device).
    syncs = counted(zssr.restore_zssr, sr_problem(), restore_ctx(p, {"iterations": 40}), warmup=10)
    assert syncs.loop("h2d") == syncs.loop("mixed") == 0, syncs.report()
    assert 0 < syncs.loop("readback") <= 30 // p["learning_rate_policy_check_every"], syncs.report()


def test_zssr_grid_on_the_device_samples_as_the_official_cpu_grid():
    image = torch.rand(3, 20, 17, generator=torch.Generator().manual_seed(0))
    rng = np.random.default_rng(0)
    for _ in range(6):
        matrix = zssr.augment_matrix(rng, 20, 17, zssr_params())
        inverse = torch.tensor(np.linalg.inv(matrix), dtype=torch.float64)  # the former CPU construction
        ys, xs = torch.meshgrid(
            torch.arange(16, dtype=torch.float64), torch.arange(16, dtype=torch.float64), indexing="ij"
        )
        points = torch.stack([xs, ys, torch.ones_like(xs)], dim=-1) @ inverse.T
        sx, sy = points[..., 0] / points[..., 2], points[..., 1] / points[..., 2]
        grid = torch.stack([2 * sx / 16 - 1, 2 * sy / 19 - 1], dim=-1).float()[None]
        expected = F.grid_sample(image[None], grid, mode="bicubic", padding_mode="zeros", align_corners=True)[0].clamp(
            0, 1
        )
        torch.testing.assert_close(zssr.warp(image, matrix, 16), expected, rtol=0, atol=1e-6)


def test_zssr_test_time_base_and_residual_sum_stay_float32_under_bf16():
    net = zssr.ZSSRNet(1, width=4, depth=2)
    torch.nn.init.zeros_(net.convs[-1].weight)  # residual 0: the output is the base
    image = torch.rand(1, 9, 11, generator=torch.Generator().manual_seed(0))
    ctx = restore_ctx({}, {"iterations": 1}, switches=Switches("bf16", False))
    out = zssr.upscale_and_refine(net, image, 2.0, (18, 22), ctx)
    assert out.dtype == torch.float32
    assert torch.equal(out, imresize(image, 2.0, (18, 22)).clamp(0, 1))


def test_classical_restorers_never_wait():
    problem = sr_problem()
    with SyncCounter(CPU) as syncs:
        classical.restore_bicubic(problem, restore_ctx({}, {}))
        classical.restore_identity(denoise_problem(), restore_ctx({}, {}))
    assert not syncs.counts, syncs.report()
    # BM3D runs on the CPU by design (the bm3d package): one copy there, one back, per image.
    with SyncCounter(CPU) as syncs:
        classical.restore_bm3d(denoise_problem((1, 16, 16)), restore_ctx({"stages": "hard"}, {}))
    assert sum(sum(c.values()) for c in syncs.counts.values()) <= 2, syncs.report()


# -- the host -----------------------------------------------------------------------------------------


def test_epoch_boundaries_neither_synchronize_nor_read_back_until_needed(tmp_path):
    data, x = train_data(n=32)
    stream = __import__("io").StringIO()
    ctx = run_ctx({}, x, tmp_path=tmp_path, progress=Progress(stream, interval=1e9))  # a log: lines when due
    model = torch.nn.Linear(64, 4)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with SyncCounter(CPU) as syncs:
        for _ in ctx.epochs(20):
            for images_, labels in ctx.batches(data.train, 16):
                ctx.optimize(F.cross_entropy(model(images_.flatten(1)), labels), optimizer, n=len(labels))
    host = syncs.counts["epochs"]
    assert host["synchronize"] == 0 and host["readback"] <= 2, syncs.report()  # the first and last lines
    book = bookkeeping(ctx)
    curves = book.curves
    assert [c["epoch"] for c in curves] == list(range(1, 21))
    assert all(c["loss"] > 0 and c["seconds"] >= 0 for c in curves)
    assert [e.images for e in book.epoch_log] == [32] * 20 and book.train_throughput()["items_per_s"] > 0
    assert "epoch 20/20" in stream.getvalue()


def test_compile_reaches_mae_pretraining_and_zssr(tmp_path, monkeypatch):
    compiled = []
    monkeypatch.setattr(torch, "compile", lambda module, **kw: compiled.append(type(module).__name__) or module)
    x = images(32, (1, 8, 8))
    mae.fit_mae(
        PretrainData(x), run_ctx(MAE_TINY, x, epochs=1, tmp_path=tmp_path, switches=Switches("fp32", False, True))
    )
    zssr.restore_zssr(
        sr_problem(), restore_ctx(zssr_params(), {"iterations": 2}, switches=Switches("fp32", False, True))
    )
    assert compiled == ["MAE", "ZSSRNet"]


# -- CPU threads (bench run --threads, OpenMP's passive wait by default) ----------------------------


def test_bench_sets_a_passive_openmp_wait_unless_told_and_run_takes_threads(monkeypatch):
    from bench import cli

    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    threads = []
    monkeypatch.setattr(torch, "set_num_threads", threads.append)
    assert cli.main(["run", "suites/quick.yaml", "--threads", "1", "--dry-run"]) == 0
    assert __import__("os").environ["OMP_WAIT_POLICY"] == "PASSIVE" and threads == [1]
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    assert cli.main(["run", "suites/quick.yaml", "--threads", "0", "--dry-run"]) == 2  # refused, one line
    assert __import__("os").environ["OMP_WAIT_POLICY"] == "ACTIVE" and threads == [1]


def test_a_restorers_own_timing_is_the_hosts_not_its_loops():
    def restore(_, ctx):
        x = torch.zeros(4)
        for _ in ctx.iterations(5):
            x = ctx.timed("work_per_s", lambda x=x: x + 1, items=1)  # synchronizes: the host's, not the loop's
            ctx.step()
        return x

    syncs = counted(restore, None, restore_ctx({}, {"iterations": 5}))
    assert syncs.per_step() == 0, syncs.report()
    assert syncs.counts["timed"]["synchronize"] == 10
