"""The sites the tests of bench.html look at, each built once per session (building one runs tiny
suites and draws every plot): ``site`` from real (tiny) classify and restoration runs, ``planted_site``
from planted Set12 denoising records, ``label_site`` from label budgets; and one headless Chromium."""

import numpy as np
import pytest

import browser
import report_toy
import restoration_toy
import toy
from bench import registry
from bench.data.store import DataStore
from bench.html import build
from bench.progress import Progress
from bench.records import ResultStore, key_of, write_json_atomic
from bench.runner import run_specs
from bench.suite import load_suite
from runs import run_label_budgets

TINY_DIP = "{channels: 8, scales: 2, input_depth: 4}"


TINY_ZSSR = "{width: 8, depth: 3, crop_size: 16, back_projection_iters: 2, run_test_every: 2}"


SUITES = {
    # Three seeds of two classifiers (one declares a published number and saves pictures) and one
    # that always fails: mean ± std, a Pareto front, a failed row, pictures of a declared kind.
    "board": """
name: board
seeds: [0, 1, 2]
runs:
  - datasets: toy
    methods: [toy-linear, toy-painter, toy-crash]
    protocol: classify
    budget: {epochs: 2}
""",
    # Restoration: a floor and two learned restorers, with PSNR-by-iteration curves and pictures.
    "restore": f"""
name: restore
seeds: [0]
runs:
  - datasets: tiny-restore
    methods: [bicubic, {{name: zssr, params: {TINY_ZSSR}, budget: {{iterations: 4}}}}]
    protocol: {{name: restore, task: sr, scale: 2}}
  - datasets: tiny-restore
    methods: [degraded-input, {{name: dip, params: {TINY_DIP}, budget: {{denoise_iterations: 4}}}}]
    protocol: {{name: restore, task: denoise, sigma: 25.0, monitor_every: 1}}
""",
}


@pytest.fixture(scope="session")
def results(tmp_path_factory):
    root = tmp_path_factory.mktemp("report") / "results"
    reg = registry.load(extra_plugins=[("toy", toy), ("report_toy", report_toy), ("restoration_toy", restoration_toy)])
    for name, text in SUITES.items():
        path = root.parent / f"{name}.yaml"
        path.write_text(text)
        suite = load_suite(path, reg)
        run_specs(suite.runs, reg, ResultStore(root), DataStore(root.parent / "data"), Progress(quiet=True))
    return root


@pytest.fixture(scope="session")
def site(results):
    return build(results, results.parent / "site")


#: Per-image PSNR offsets of three methods on 12 images: "good" beats "fair" on every image, "fair"
#: beats "floor"; two noise levels, each its own leaderboard.
METHODS = {"good": 4.0, "fair": 2.0, "floor": 0.0}
SIGMAS = (25.0, 50.0)


def _png(path, array):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array.astype(np.uint8)).save(path)


def planted_restoration(root, images=12):
    rng = np.random.default_rng(0)
    clean = {f"{i:02d}": rng.integers(0, 255, (24, 24)).astype(np.float64) for i in range(1, images + 1)}
    for sigma in SIGMAS:
        for method, offset in METHODS.items():
            key = f"{method}-{sigma:g}"
            spec = {
                "suite": "planted",
                "dataset": "set12",
                "method": method,
                "protocol": "restore",
                "protocol_options": {"task": "denoise", "sigma": sigma},
                "params": {},
                "budget": {},
                "seed": 0,
            }
            per_image = []
            for n, (name, image) in enumerate(clean.items()):
                noisy = image + rng.normal(0, sigma, image.shape)
                restored = image + rng.normal(0, sigma / (1 + offset), image.shape)
                folder = root / f"{key}" / name
                _png(folder / "clean.png", image)
                _png(folder / "degraded.png", np.clip(noisy, 0, 255))
                _png(folder / "restored.png", np.clip(restored, 0, 255))
                psnr = 20.0 + offset + 0.1 * n - sigma / 25
                per_image.append({"image": name, "psnr": psnr, "ssim": psnr / 40, "input_sha256": f"{sigma}-{name}"})
            write_json_atomic(
                root / f"{key}.json",
                {
                    "schema_version": 1,
                    "key": key_of(spec),
                    "spec": spec,
                    "status": "ok",
                    "ended_at": "2026-01-01T00:00:00",
                    "metrics": {"psnr": sum(e["psnr"] for e in per_image) / images, "ssim": 0.5},
                    "throughput": {"restore_images_per_s": {"items_per_s": 10.0 / (1 + offset)}},
                    "timings": {"wall_seconds": 1.0 + offset},
                    "memory": {"bytes": (100 + 10 * offset) * 2**20, "kind": "cpu_peak_rss_increase"},
                    "environment": {"device": {"name": "cpu"}},
                    "details": {"setting": f"denoise sigma {sigma:g}", "per_image": per_image},
                },
            )
    return root


@pytest.fixture(scope="session")
def planted_site(tmp_path_factory):
    root = planted_restoration(tmp_path_factory.mktemp("planted") / "results")
    return build(root, root.parent / "site")


@pytest.fixture(scope="session")
def label_results(tmp_path_factory):
    return run_label_budgets(tmp_path_factory.mktemp("labels") / "results")


@pytest.fixture(scope="session")
def label_site(label_results):
    return build(label_results, label_results.parent / "site")


@pytest.fixture(scope="session")
def chromium():
    browser.require_browser()
    with browser.open_chromium() as driver:
        yield driver
