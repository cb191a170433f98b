"""Deep Image Prior: each case runs its official notebook's configuration, and the record says which."""

import numpy as np
import pytest
import torch

import restoration_toy
from bench import RestoreContext, registry
from bench.data.store import DataStore
from bench.progress import Progress
from bench.records import ResultStore
from bench.restoration.degrade import Degradation, make_problem
from bench.restoration.images import RestorationImage
from bench.runner import run_specs
from bench.specs import Budget
from bench.suite import load_suite
from bench_plugins.methods import dip

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def method():
    return registry.load().methods["dip"]


def defaults(method, **changes) -> dict:
    params = {k: (v.default if hasattr(v, "default") else v) for k, v in method.params.items()}
    return {**params, **changes}


def inpaint_problem(name: str, mask: str, size=(20, 24)) -> "dip.Problem":
    image = torch.randint(0, 256, (3, *size), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    known = torch.ones(1, *size, dtype=torch.uint8)
    known[:, 5:9, 3:15] = 0
    degraded = Degradation("inpaint", mask=mask).apply(RestorationImage(name, image, known))
    return make_problem(degraded, CPU, name=name)


def test_the_host_tells_the_method_how_the_mask_was_made():
    assert inpaint_problem("x", "random").mask_kind == "random"
    assert inpaint_problem("x", "dataset").mask_kind == "dataset"


def test_random_pixel_masks_run_restoration_ipynb(method):
    config = dip.configuration(inpaint_problem("barbara", "random"), defaults(method))
    assert config.name == "random-pixel"
    assert (config.lr, method.budget[config.iterations]) == (0.001, 11000)
    assert (config.skip, config.upsample, config.input_depth, config.reg_noise) == (4, "bilinear", 32, 0.03)
    assert config.backtrack is not None and config.backtrack(50) and not config.backtrack(51)


def test_dataset_masks_run_the_notebook_named_after_the_image(method):
    p = defaults(method)
    vase = dip.configuration(inpaint_problem("vase", "dataset"), p)
    assert (vase.input, vase.input_depth, vase.skip, vase.upsample) == ("meshgrid", 2, 0, "nearest")
    assert (vase.lr, method.budget[vase.iterations], vase.reg_noise) == (0.01, 5001, 0.03)
    library = dip.configuration(inpaint_problem("library", "dataset"), p)
    assert library.channels == (16, 32, 64, 128, 128, 128) and library.skip == 0
    assert (library.filter_down, library.filter_up, library.need1x1_up) == (5, 3, False)
    assert (library.input_depth, library.reg_noise, library.param_noise) == (1, 0.0, 1 / 50)
    assert method.budget[library.iterations] == 3001
    for name in ("kate", "peppers"):  # kate's for any other image
        kate = dip.configuration(inpaint_problem(name, "dataset"), p)
        assert (kate.name, kate.skip, kate.upsample, kate.lr) == ("kate", 128, "nearest", 0.01)
        assert method.budget[kate.iterations] == 6001 and kate.backtrack is None
    # chosen by hand, and the params still override the configuration's values
    chosen = dip.configuration(inpaint_problem("vase", "dataset"), {**p, "inpaint_setting": "library", "lr": 0.5})
    assert (chosen.name, chosen.lr, len(chosen.channels)) == ("library", 0.5, 6)


def test_denoising_and_sr_keep_their_notebook_values(method):
    p = defaults(method)
    image = RestorationImage("x", torch.full((1, 32, 32), 100, dtype=torch.uint8))
    for degradation, name, reg_noise in (
        (Degradation("denoise", sigma=25.0), "denoise", 1 / 30),
        (Degradation("denoise", sigma=50.0), "denoise-sigma50", 1 / 20),
        (Degradation("sr", scale=4), "sr", 0.03),
    ):
        config = dip.configuration(make_problem(degradation.apply(image), CPU, name="x"), p)
        assert (config.name, config.reg_noise, config.lr, config.skip, config.channels) == (
            name,
            reg_noise,
            0.01,
            4,
            (128,) * 5,
        )


def test_the_meshgrid_is_the_notebooks_and_extends_over_the_canvas():
    h, w = 5, 7
    x, y = np.meshgrid(np.arange(0, w) / float(w - 1), np.arange(0, h) / float(h - 1))  # get_noise('meshgrid')
    grid = dip.meshgrid_input(h, w, (h, w), (0, 0))
    assert grid.shape == (1, 2, h, w)
    np.testing.assert_allclose(grid[0].numpy(), np.stack([x, y]), rtol=0, atol=1e-7)
    canvas = dip.meshgrid_input(h, w, (8, 8), (1, 0))
    assert torch.equal(canvas[..., 1 : 1 + h, :w], grid)  # the image's pixels keep 0..1
    assert canvas[0, 1, 0, 0] == pytest.approx(-1 / (h - 1)) and canvas[0, 0, 0, 7] == pytest.approx(7 / (w - 1))


def test_library_net_is_the_depth6_skip_net_without_1x1_up_convs():
    config = dip.CONFIGURATIONS["library"]
    net = dip.Skip(
        1,
        3,
        channels=config.channels,
        skip=config.skip,
        upsample=config.upsample,
        filter_down=config.filter_down,
        filter_up=config.filter_up,
        need1x1_up=config.need1x1_up,
    )
    assert net.divisor == 64 and net(torch.rand(1, 1, 192, 256)).shape == (1, 3, 192, 256)
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [m.kernel_size for m in convs].count((1, 1)) == 1  # the head only: no skip, no 1x1 up
    assert [m.kernel_size for m in convs].count((5, 5)) == 12  # two down convs per scale
    # parameters of models/skip.py's skip(1, 3, [16, 32, 64, 128, 128, 128] x2, [0] * 6, 5, 3,
    # need1x1_up=False): conv weights + biases, BatchNorm scales + shifts, counted by hand
    down, expected, cin = config.channels, 0, 1
    for i, d in enumerate(down):
        k = down[i + 1] if i + 1 < len(down) else d
        expected += cin * d * 25 + d + 2 * d + d * d * 25 + d + 2 * d  # two down convs + BNs
        expected += 2 * k + k * d * 9 + d + 2 * d  # merge BN, up conv + BN
        cin = d
    expected += down[0] * 3 + 3  # head
    assert sum(p.numel() for p in net.parameters()) == expected


def test_parameter_noise_moves_conv_weights_by_a_fiftieth_of_their_std():
    torch.manual_seed(0)
    net = dip.Skip(1, 3, channels=(8, 8), skip=0)
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    dip.add_param_noise(net, 1 / 50, torch.Generator().manual_seed(1))
    for name, p in net.named_parameters():
        delta = p.detach() - before[name]
        if p.dim() == 4:
            assert delta.std() / before[name].std() == pytest.approx(1 / 50, rel=0.3)
        else:  # biases and BatchNorm are left alone, as in the notebook's loop over 4-D tensors
            assert torch.equal(delta, torch.zeros_like(delta))


TINY = {"channels": 4, "scales": 2, "input_depth": 2, "skip_channels": 2, "inpaint_skip_channels": -1}


def restore(method, problem, **params):
    ctx = RestoreContext(
        device=CPU, seed=0, budget=Budget({k: 3 for k in method.budget}), params=defaults(method, **TINY, **params)
    )
    return dip.restore_dip(problem, ctx)


def test_the_problem_carries_what_ran(method):
    for name, expected in (("vase", "vase"), ("library", "library"), ("other", "kate")):
        problem = inpaint_problem(name, "dataset")
        out = restore(method, problem)
        assert out.shape == (3, 20, 24)
        info = problem.info
        assert info["configuration"] == expected and info["source"].startswith("inpainting.ipynb")
        assert info["iterations_key"] == dip.CONFIGURATIONS[expected].iterations
    assert problem.info["channels"] == [4, 4]  # the params' overrides, as they ran
    library = inpaint_problem("library", "dataset")
    restore(method, library, param_noise=0.0)
    assert library.info["param_noise"] == 0.0  # the notebook's code as written (a no-op)


def test_the_record_says_which_configuration_ran_per_image(tmp_path):
    reg = registry.load(extra_plugins=[("restoration_toy", restoration_toy)])
    path = tmp_path / "suite.yaml"
    path.write_text(
        """
name: tiny
seeds: [0]
runs:
  - datasets: tiny-restore
    methods: [{name: dip, params: {channels: 4, scales: 2}, budget: {inpaint_iterations: 2, inpaint_kate_iterations: 2}}]
    protocol: {name: restore, task: inpaint, mask: random, warmup: false}
"""
    )
    suite = load_suite(path, reg)
    store = ResultStore(tmp_path / "results")
    outcome = run_specs(suite.runs, reg, store, DataStore(tmp_path / "data"), Progress(quiet=True))
    record = store.read(suite.runs[0])
    assert outcome.exit_code == 0, record.error
    ran = {e["image"]: e["method_info"] for e in record.details["per_image"]}
    assert {name: info["configuration"] for name, info in ran.items()} == {
        "gray": "random-pixel",
        "rgb": "random-pixel",
    }
    assert ran["gray"]["lr"] == 0.001 and ran["gray"]["iterations_key"] == "inpaint_iterations"
    assert record.details["per_image"][0]["iterations"] == 2


def test_published_sr_numbers_sit_beside_sr_x4_only(method):
    by_set = {(p.dataset, p.setting): p.value for p in method.published}
    assert by_set == {("set5", "sr x4"): 29.90, ("set14", "sr x4"): 27.00}
    for p in method.published:  # the paper's evaluation crop and ours, said beside the number
        assert p.protocol == "restore" and "32-divisible" in p.note and "whole modcropped" in p.note


@pytest.mark.slow  # 120 iterations per configuration: 12-25 s of CPU each
@pytest.mark.parametrize("name, mask", [("barbara", "random"), ("library", "dataset"), ("vase", "dataset")])
def test_the_inpainting_loops_never_wait_for_the_host(method, name, mask):
    """Random-pixel backtracking (every 50th iteration) and library's parameter noise stay on the
    device: no read-back per iteration."""
    from bench.syncs import SyncCounter

    ctx = RestoreContext(
        device=CPU, seed=0, budget=Budget({k: 120 for k in method.budget}), params=defaults(method, **TINY)
    )
    with SyncCounter(CPU, warmup=2) as syncs:
        dip.restore_dip(inpaint_problem(name, mask), ctx)
    assert syncs.intervals >= 3 and syncs.per_step() == 0, syncs.report()


def test_dip_skip_net_shapes_and_canvas_crop():
    net = dip.Skip(4, 3, channels=8, skip=2, scales=3)
    out = net(torch.rand(1, 4, 16, 24))
    assert out.shape == (1, 3, 16, 24) and 0 < out.min() and out.max() < 1
    n_skip = sum(1 for m in net.modules() if isinstance(m, torch.nn.Conv2d) and m.kernel_size == (1, 1))
    assert n_skip == 3 * 2 + 1  # per scale: skip 1x1 and up 1x1; plus the 1x1 head
