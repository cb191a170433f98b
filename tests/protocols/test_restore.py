"""bench.protocols.restore: the restoration track end to end (the restore protocol with tables and
figures, DIP, ZSSR and bicubic at tiny budgets), the tasks a restorer declares, the restored
image's shape. The host's operators have their own files (tests/restoration/: resize, degrade,
metrics, images); the sets' sources are in tests/plugins/test_restoration.py."""

import numpy as np
import pytest
import torch

import restoration_toy
from bench import cli, registry
from bench.data.store import DataStore
from bench.progress import Progress
from bench.records import ResultStore
from bench.report import leaderboard, load_groups, render
from bench.restoration.degrade import Degradation
from bench.runner import run_specs
from bench.suite import SuiteError, load_suite
from runs import run_suite


@pytest.fixture
def reg():
    return registry.load(extra_plugins=[("restoration_toy", restoration_toy)])


TINY_DIP = "{channels: 8, scales: 2, input_depth: 4, inpaint_skip_channels: 4}"
TINY_ZSSR = "{width: 8, depth: 3, crop_size: 16, back_projection_iters: 2, run_test_every: 2}"


@pytest.mark.slow  # DIP, ZSSR and bicubic on three tasks, figures: ~13 s of CPU
def test_restore_protocol_end_to_end_with_tables_and_figures(tmp_path, reg, capsys):
    suite, store, outcome = run_suite(
        tmp_path,
        reg,
        f"""
name: tiny
seeds: [0]
runs:
  - datasets: tiny-restore
    methods: [bicubic, {{name: zssr, params: {TINY_ZSSR}, budget: {{iterations: 4}}}},
              {{name: dip, params: {TINY_DIP}, budget: {{sr_iterations: 3}}}}]
    protocol: {{name: restore, task: sr, scale: 2, monitor_every: 2}}
  - datasets: tiny-restore
    methods: [degraded-input, {{name: dip, params: {TINY_DIP}, budget: {{denoise_iterations: 3}}}}]
    protocol: {{name: restore, task: denoise, sigma: 25.0, monitor_every: 1}}
  - datasets: tiny-restore
    methods: [degraded-input, {{name: dip, params: {TINY_DIP}, budget: {{inpaint_kate_iterations: 2}}}}]
    protocol: {{name: restore, task: inpaint, mask: dataset, images: [rgb]}}
""",
    )
    assert outcome.exit_code == 0, [store.read(s).error for s in suite.runs]
    records = {(s.method, s.protocol_options["task"]): store.read(s) for s in suite.runs}
    bic = records["bicubic", "sr"]
    assert [e["image"] for e in bic.details["per_image"]] == ["gray", "rgb"]
    assert bic.details["per_image"][0]["shape"] == [1, 26, 22]  # modcropped, gray kept gray
    assert bic.metrics["psnr"] == pytest.approx(np.mean([e["psnr"] for e in bic.details["per_image"]]))
    assert "Y channel" in bic.metric_info["psnr"]["convention"]
    zssr = records["zssr", "sr"]
    assert zssr.throughput["iterations_per_s"]["iterations"] == 8 and zssr.metrics["iterations_per_s"] > 0
    assert zssr.throughput["iterations_per_s"]["loop_only"]  # ZSSR's ensemble is not in its it/s
    for e in zssr.details["per_image"]:
        assert 0 < e["loop_seconds"] < e["seconds"]
    dip = records["dip", "denoise"]
    assert dip.details["budget_vs_full"]["denoise_iterations"] == {"used": 3, "full": 3000}
    curve = dip.details["curves"]["gray"]
    assert [p["iteration"] for p in curve if "psnr" in p] == [0, 1, 2] and any("psnr_avg" in p for p in curve)
    noisy = records["degraded-input", "denoise"]
    for e in noisy.details["per_image"]:
        assert e["psnr"] == pytest.approx(e["input_psnr"])
    inpaint = records["degraded-input", "inpaint"].details["per_image"]
    assert [e["image"] for e in inpaint] == ["rgb"]
    art = store.path_for(suite.runs[0]).with_suffix("") / "gray"
    assert {p.name for p in art.iterdir()} >= {"clean.png", "degraded.png", "restored.png", "scores.json"}
    dip_art = store.path_for(
        [s for s in suite.runs if s.method == "dip" and s.protocol_options["task"] == "denoise"][0]
    )
    assert (dip_art.with_suffix("") / "gray" / "degraded.npy").exists()
    assert (dip_art.with_suffix("") / "gray" / "psnr_curve.png").exists()
    np.testing.assert_array_equal(
        np.load(dip_art.with_suffix("") / "gray" / "degraded.npy"),
        Degradation("denoise", sigma=25.0).apply(restoration_toy.load_tiny("test", None).images[0]).observed.numpy(),
    )

    text = render(leaderboard(load_groups(tmp_path / "results")), "text")
    assert "tiny · tiny-restore · restore · sr x2" in text and "restore · denoise sigma 25" in text
    assert "restore · inpaint masks, images rgb" in text
    sr_table = text.split("restore · sr x2")[1].split("\n\n")[1]
    assert all(m in sr_table for m in ("bicubic", "zssr", "dip")) and "PSNR dB" in sr_table and "s/image" in sr_table

    assert cli.main(["figures", str(tmp_path / "results"), "--out", str(tmp_path / "fig")]) == 0
    picture = tmp_path / "fig" / "tiny" / "tiny-restore" / "sr_x2" / "gray.png"
    from PIL import Image

    assert Image.open(picture).size[0] == 5 * 22 + 4 * 4  # clean, LR, bicubic, zssr, dip


def test_suites_refuse_a_restorer_for_a_task_it_does_not_do(tmp_path, reg):
    path = tmp_path / "s.yaml"
    path.write_text(
        "runs: [{datasets: tiny-restore, methods: [bicubic, bm3d], protocol: {name: restore, task: inpaint}}]\n"
    )
    with pytest.raises(SuiteError) as err:
        load_suite(path, reg)
    text = str(err.value)
    assert "method 'bicubic' restores sr, not 'inpaint'" in text and "method 'bm3d' restores denoise" in text


def test_restored_images_must_have_the_clean_shape(tmp_path, reg):
    from bench import Restorer, hookimpl

    class Bad:
        @hookimpl
        def bench_register_methods(self, register):
            register(Restorer(name="bad-sr", restore=lambda problem, ctx: problem.observed, restorations=("sr",)))

    reg2 = registry.load(extra_plugins=[("restoration_toy", restoration_toy), ("bad", Bad())])
    suite, store, outcome = run_suite(
        tmp_path,
        reg2,
        "runs: [{datasets: tiny-restore, methods: bad-sr, protocol: {name: restore, task: sr, scale: 2}}]\n",
    )
    assert outcome.exit_code == 1
    assert "expected a tensor of shape (1, 26, 22)" in store.read(suite.runs[0]).error.message


def test_the_restore_protocol_seeds_torch_before_every_call(tmp_path):
    """One way to seed: the host seeds torch before the warm-up and each image, so a restorer that
    initialises a network from torch's global RNG starts the same way on every image."""
    import restoration_toy
    from bench import Restorer, hookimpl, registry
    from bench.suite import load_suite

    draws = []

    def restore(problem, ctx):
        draws.append(torch.rand(1).item())
        torch.rand(5)  # work that moves the global RNG on
        return torch.nn.functional.interpolate(problem.observed[None], scale_factor=2)[0].clamp(0, 1)

    class Plugin:
        @hookimpl
        def bench_register_methods(self, register):
            register(Restorer("draw", restore, ("sr",)))

    reg = registry.load(extra_plugins=[("restoration_toy", restoration_toy), ("draw", Plugin())])
    path = tmp_path / "suite.yaml"
    path.write_text(
        "seeds: [5]\nruns: [{datasets: tiny-restore, methods: draw, protocol: {name: restore, task: sr, scale: 2}}]\n"
    )
    suite = load_suite(path, reg)
    outcome = run_specs(suite.runs, reg, ResultStore(tmp_path / "r"), DataStore(tmp_path / "d"), Progress(quiet=True))
    assert outcome.exit_code == 0
    assert len(draws) == 3 and len(set(draws)) == 1, draws  # warm-up, gray, rgb
    assert draws[0] == torch.rand(1, generator=torch.Generator().manual_seed(5)).item()
