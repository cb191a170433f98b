"""Published reference numbers and saved pictures travel from the method plugin into the record."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

import report_toy
import toy
from bench import MethodSpec, Published, registry, save_image
from bench.artifacts import list_images
from bench.data.store import DataStore
from bench.progress import Progress
from bench.records import ResultStore
from bench.runner import run_specs
from bench.suite import load_suite


def test_published_numbers_are_checked():
    with pytest.raises(ValueError, match="finite number"):
        Published("set5", "psnr", float("nan"))
    with pytest.raises(ValueError, match="bench.Published"):
        MethodSpec(name="m", kind="classifier", fit=lambda d, c: None, published=({"value": 1},))


def test_save_image_writes_pngs_with_captions_and_lists_them(tmp_path):
    save_image(tmp_path, "grid", "b", torch.full((1, 4, 5), 0.5))  # float in [0, 1]
    save_image(tmp_path, "grid", "a", np.zeros((4, 5, 3), np.uint8), caption="zeros")
    save_image(tmp_path, "fractal", "x", torch.zeros(3, 6, 6, dtype=torch.uint8))
    assert Image.open(tmp_path / "images" / "grid" / "b.png").getpixel((0, 0)) == 128
    assert list_images(tmp_path) == [
        {"kind": "fractal", "path": "images/fractal/x.png", "caption": ""},
        {"kind": "grid", "path": "images/grid/a.png", "caption": "zeros"},
        {"kind": "grid", "path": "images/grid/b.png", "caption": ""},
    ]
    with pytest.raises(ValueError, match="kind '../x' is not valid"):
        save_image(tmp_path, "../x", "a", torch.zeros(1, 2, 2, dtype=torch.uint8))
    assert list_images(tmp_path / "none") == []


def test_the_record_holds_the_methods_published_numbers_for_its_dataset_and_its_pictures(tmp_path):
    reg = registry.load(extra_plugins=[("toy", toy), ("report_toy", report_toy)])
    path = tmp_path / "suite.yaml"
    path.write_text("seeds: [0]\nruns: [{datasets: toy, methods: [toy-painter, toy-linear], protocol: classify}]\n")
    suite = load_suite(path, reg)
    store = ResultStore(tmp_path / "results")
    outcome = run_specs(suite.runs, reg, store, DataStore(tmp_path / "data"), Progress(quiet=True))
    assert outcome.exit_code == 0
    painter, linear = (store.read(s) for s in suite.runs)
    assert painter.published == [
        {
            "dataset": "toy",
            "metric": "test_accuracy",
            "value": 99.5,
            "setting": "",
            "protocol": "",
            "source": "Toy et al. 2024",
            "note": "full budget",
            "epoch": None,
            "weights": "",
        }
    ]
    assert linear.published == [] and not linear.artifacts
    assert [a["caption"] for a in painter.artifacts] == [
        "the pattern",
        "perturbation 1",
        "perturbation 2",
        "perturbation 3",
    ]
    folder = store.path_for(suite.runs[0]).with_suffix("")
    assert all((folder / a["path"]).is_file() and a["kind"] == "fractal" for a in painter.artifacts)
    json.dumps(painter.to_dict())


def test_builtin_plugins_declare_the_reference_tables():
    reg = registry.load()
    bicubic = {(p.dataset, p.setting, p.metric): p.value for p in reg.method("bicubic").published}
    assert bicubic["set5", "sr x2", "psnr"] == 33.66 and bicubic["urban100", "sr x4", "ssim"] == 0.6577
    assert {(p.setting, p.metric): p.value for p in reg.method("zssr").published}["sr x4", "psnr"] == 31.13
