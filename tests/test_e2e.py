"""The whole path a researcher takes: a suite file, `bench run`, records, `bench table`, `bench compare`,
on files in the true dataset formats (and on the real MNIST when it is present)."""

import json
import re
import shutil

import pytest

import fakedata
from bench.cli import main
from bench.records import iter_records

#: airbench94 shrunk for a CPU test: same algorithm, narrower and on a few hundred images.
TINY_AIRBENCH = """
    methods:
      - name: airbench94
        params: {widths: [16, 32, 32], batch_size: 64, whiten_samples: 100, ema_start_epochs: 1, whiten_bias_epochs: 1}
        budget: {epochs: 2}
"""


@pytest.mark.slow  # an airbench94 training: ~19 s of CPU
def test_cifar10_through_airbench94_from_pickle_tarballs(monkeypatch, tmp_path, capsys):
    """CIFAR-100's fine labels are tests/plugins/test_cifar.py's, 100 classes tests/plugins/test_airbench.py's."""
    data = tmp_path / "data"
    fakedata.use_fake_cifar(monkeypatch, data, per_batch=60, n_test=100)
    suite = tmp_path / "cifar.yaml"
    suite.write_text(
        "name: cifar-smoke\nseeds: [0]\nruns:\n  - datasets: [cifar10]"
        + TINY_AIRBENCH
        + "    protocol: {name: classify, holdout: 0.0, eval_batch_size: 50}\n"
    )
    results = tmp_path / "results"
    assert main(["run", str(suite), "--results-dir", str(results), "--data-dir", str(data), "--quiet"]) == 0

    records = {r.spec["dataset"]: r for _, r in iter_records(results)}
    assert set(records) == {"cifar10"}
    for record in records.values():
        assert record.status == "ok", record.error
        assert record.details["split"] == {"train": 300, "val": 0, "test": 100, "holdout": 0.0, "split_seed": 0}
        assert 0 <= record.metrics["test_accuracy"] <= 100
        for figure in ("train_images_per_s", "inference_images_per_s"):
            assert record.throughput[figure]["items_per_s"] > 0
    files = records["cifar10"].data_files
    assert set(files) == {
        f"cifar-10/{m}" for m in ("batches.meta", "test_batch", *(f"data_batch_{i}" for i in range(1, 6)))
    }

    capsys.readouterr()
    assert main(["table", str(results), "--format", "markdown"]) == 0
    table = capsys.readouterr().out
    assert "cifar10" in table and "airbench94" in table


@pytest.mark.real_data
@pytest.mark.slow
def test_real_mnist_small_cnn_scores_like_a_cnn_and_compare_gates_on_it(shared_data, tmp_path, capsys):
    """One epoch of the quick suite's CNN on the real MNIST; then `bench compare` catches a
    record set whose accuracy fell and passes the same set against itself."""
    results = tmp_path / "results"
    args = [
        "run",
        "suites/quick.yaml",
        "--results-dir",
        str(results),
        "--data-dir",
        str(shared_data),
        "--offline",
        "--seeds",
        "0",
        "--only",
        "small-cnn",
        "--quiet",
        "--budget-scale",
        "0.33",
    ]
    assert main(args) == 0
    ((_, record),) = list(iter_records(results))
    assert record.spec["budget"] == {"epochs": 1}
    assert record.metrics["test_accuracy"] >= 97.0, record.metrics
    assert record.data_files["mnist/t10k-images-idx3-ubyte.gz"]["md5"] == "9fb629c4189551a2d022fa330f9573f3"

    worse = tmp_path / "worse"
    shutil.copytree(results, worse)
    (path,) = list(worse.rglob("seed0-*.json"))
    changed = json.loads(path.read_text())
    changed["metrics"]["test_accuracy"] -= 2.0
    path.write_text(json.dumps(changed))
    assert main(["compare", str(results), str(results)]) == 0
    assert main(["compare", str(results), str(worse)]) == 1
    assert "test_accuracy" in capsys.readouterr().out


def test_make_quick_prints_one_table():
    from pathlib import Path

    makefile = (Path(__file__).parents[1] / "Makefile").read_text()
    recipe = re.search(r"^quick:.*\n((?:\t.*\n)+)", makefile, re.M).group(1).splitlines()
    printing = [line for line in recipe if "bench table" in line or ("bench run" in line and "> /dev/null" not in line)]
    assert len(printing) == 1 and "--format markdown" in printing[0]
