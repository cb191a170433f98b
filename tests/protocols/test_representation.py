"""bench.protocols.representation: the representation track's protocol (encoders pre-trained,
loaded or random; feature sweeps chosen on held-out images), saved encoders, the random-weight
control, and published numbers beside runs of their setting and weights. The probes have their own
files (test_linear_probe, test_knn, test_finetune); MAE's and DDAE's pieces are in tests/plugins/."""

import dataclasses
from pathlib import Path

import pytest

from bench import MethodSpec, registry
from bench.data.store import DataStore
from bench.html import build
from bench.progress import Progress
from bench.records import ResultStore
from bench.report import leaderboard, load_groups, render
from bench.runner import run_specs
from bench.suite import SuiteError, load_suite
from repr_runs import load_registry, run_suite


@pytest.fixture
def reg():
    return load_registry()


def test_feature_sweep_is_chosen_on_held_out_images_and_scored_as_a_fixed_run(tmp_path, reg):
    """The host picks the read-out on the held-out part; the chosen one is then evaluated exactly as
    a run fixed to it, and the table says what was chosen."""
    for protocol in ("knn", "linear-probe"):
        options = (
            f"name: {protocol}, holdout: 0.2, lrs: [0.05], weight_decays: [0.001], epochs: 20"
            if protocol == "linear-probe"
            else f"name: {protocol}, holdout: 0.2"
        )
        _, _, _, (swept, fixed) = run_suite(
            tmp_path,
            reg,
            f"""
runs:
  - {{datasets: blobs, methods: raw-pixels, protocol: {{{options}, feature_sweep: {{pixels: [1, 36, 2]}}}}}}
  - {{datasets: blobs, methods: {{name: raw-pixels, params: {{pixels: 36}}}}, protocol: {{{options}}}}}
""",
            results=protocol,
        )
        features = swept.details["features"]
        assert [q["pixels"] for q in features["points"]] == [1, 36, 2]
        assert features["chosen"] == {"pixels": 36}
        assert max(q["val_accuracy"] for q in features["points"]) == features["points"][1]["val_accuracy"]
        assert swept.details["feature_dim"] == 36
        assert swept.metrics == fixed.metrics
        text = render(leaderboard(load_groups(tmp_path / protocol)))
        assert "features (chosen)" in text and "pixels=36" in text
    build(tmp_path / "knn", tmp_path / "site")
    assert "pixels=36</small>" in (tmp_path / "site" / "index.html").read_text()


def test_a_bad_feature_sweep_is_refused_with_its_key(tmp_path, reg):
    path = tmp_path / "suite.yaml"
    path.write_text(
        "runs:\n"
        "  - {datasets: blobs, methods: raw-pixels, protocol: {name: knn, feature_sweep: {pixels: [1]}}}\n"
        "  - {datasets: blobs, methods: raw-pixels, protocol: {name: linear-probe, feature_sweep: {unused: [1], pixels: [one]}}}\n"
    )
    with pytest.raises(SuiteError) as err:
        load_suite(path, reg)
    text = str(err.value)
    assert "runs[0].protocol.feature_sweep: needs holdout > 0" in text
    assert "'unused' is not a feature parameter of method 'raw-pixels' (its feature parameters: pixels)" in text
    assert "runs[1].protocol.feature_sweep.pixels: expected an integer, got str 'one'" in text


def test_representation_specs_need_build_and_known_feature_params():
    with pytest.raises(ValueError, match="build"):
        MethodSpec(name="x", kind="representation", fit=lambda d, c: None)
    with pytest.raises(ValueError, match="feature_params"):
        MethodSpec(
            name="x",
            kind="representation",
            fit=lambda d, c: None,
            build=lambda s, c: None,
            params={"a": 1},
            feature_params=("b",),
        )


def test_suite_grid_expands_params_and_checks_them(tmp_path, reg):
    path = tmp_path / "suite.yaml"
    path.write_text(
        "runs: [{datasets: mnist, methods: [{name: ddae, grid: {timestep: [1, 11, 21], block: [out_3, out_6]}}], "
        "protocol: linear-probe}]\n"
    )
    suite = load_suite(path, reg)
    assert sorted((s.params["timestep"], s.params["block"]) for s in suite.runs) == [
        (t, b) for t in (1, 11, 21) for b in ("out_3", "out_6")
    ]
    path.write_text(
        "runs: [{datasets: mnist, methods: [{name: ddae, grid: {timestep: [1.5], nope: [1]}}], protocol: knn}]\n"
    )
    with pytest.raises(SuiteError) as err:
        load_suite(path, reg)
    assert "grid.timestep" in str(err.value) and "grid.nope" in str(err.value)


# -- the whole track through the runner, on CIFAR-10 files in the true format ----------------------

MAE_CIFAR = (
    "{name: mae, params: {patch_size: 8, dim: 32, depth: 1, heads: 2, decoder_dim: 16, decoder_depth: 1, "
    "decoder_heads: 2, batch_size: 100, base_lr: 1.0e-2}, grid: {pool: [cls, mean]}, budget: {epochs: 1}}"
)
DDAE_CIFAR = (
    "{name: ddae, params: {n_channels: 32, ch_mults: [1, 2], n_blocks: 1, batch_size: 100, block: out_2}, "
    "budget: {epochs: 0.2}}"
)


@pytest.mark.slow
def test_cifar10_track_saves_encoders_and_keeps_protocols_and_controls_apart(tmp_path, monkeypatch, reg):
    from fakedata import use_fake_cifar

    data = tmp_path / "data"
    use_fake_cifar(monkeypatch, data, per_batch=60, n_test=100)
    monkeypatch.setenv("BENCH_DATA_DIR", str(data))
    sizes = "labelled_images: 120, test_images: 60, eval_batch_size: 60"
    suite, store, outcome, records = run_suite(
        tmp_path,
        reg,
        f"""
name: track
runs:
  - {{datasets: cifar10, methods: [{MAE_CIFAR}, {DDAE_CIFAR}], protocol: {{name: linear-probe, {sizes}, epochs: 5}}}}
  - {{datasets: cifar10, methods: [{MAE_CIFAR}], protocol: {{name: knn, {sizes}}}}}
  - {{datasets: cifar10, methods: [{MAE_CIFAR}], protocol: {{name: knn, {sizes}, weights: random}}}}
  - {{datasets: cifar10, methods: [{MAE_CIFAR}], protocol: {{name: finetune, {sizes}, epochs: 1, batch_size: 50}}}}
  - {{datasets: cifar10, methods: [{DDAE_CIFAR}], protocol: {{name: knn, {sizes}, holdout: 0.25, feature_sweep: {{block: [out_1, out_3], timestep: [11, 101]}}}}}}
""",
    )
    assert len(records) == 10 and not outcome.failed  # mae x 2 read-outs x 4 groups + ddae x 2
    by = {
        (
            r.spec["method"],
            r.spec["protocol"],
            r.spec["params"].get("pool"),
            r.spec["protocol_options"]["weights"],
        ): r
        for r in records
    }
    first = by["mae", "linear-probe", "cls", "pretrained"]
    # One pre-training per method: every other protocol and read-out loads the saved encoder.
    assert first.details["pretrain"]["source"] == "trained"
    assert first.throughput["pretrain_images_per_s"]["items_per_s"] > 0
    for key in [
        ("mae", "linear-probe", "mean", "pretrained"),
        ("mae", "knn", "cls", "pretrained"),
        ("mae", "finetune", "mean", "pretrained"),
    ]:
        assert by[key].details["pretrain"]["source"] == "artifact"
        assert by[key].details["pretrain"]["artifact"] == first.details["pretrain"]["artifact"]
    assert len(list((tmp_path / "results" / "track" / "cifar10").rglob("*.pt"))) == 2  # mae, ddae
    control = by["mae", "knn", "cls", "random"]
    assert control.details["pretrain"] == {"weights": "random", "source": "build"}
    assert "pretrain_images_per_s" not in control.throughput
    assert by["ddae", "linear-probe", None, "pretrained"].details["feature_dim"] == 64
    fine = by["mae", "finetune", "cls", "pretrained"]
    assert {"train_images_per_s", "inference_images_per_s"} <= set(fine.throughput)
    for r in records:
        assert r.metric_info["test_accuracy"]["protocol"] == r.spec["protocol"]
        assert r.details["split"]["test"] == 60

    text = render(leaderboard(load_groups(tmp_path / "results")))
    assert (
        "track · cifar10 · knn" in text
        and "track · cifar10 · linear-probe" in text
        and "track · cifar10 · finetune" in text
    )
    assert "mae (random weights) pool=cls" in text and "mae pool=mean" in text and "pretrain img/s" in text

    # Re-running the pre-trained runs elsewhere from the saved encoder gives the same numbers.
    again = ResultStore(tmp_path / "results")
    spec = next(
        s for s in suite.runs if s.protocol == "linear-probe" and s.method == "mae" and s.params["pool"] == "cls"
    )
    path = again.path_for(spec)
    path.unlink()
    run_specs([spec], reg, again, DataStore(data), Progress(quiet=True))
    rerun = again.read(spec)
    assert rerun.details["pretrain"]["source"] == "artifact"
    assert rerun.metrics == first.metrics

    # DDAE's read-out chosen on held-out images: the same saved weights under every choice, and the
    # chosen one scores as a run fixed to it.
    swept = next(r for r in records if r.spec["method"] == "ddae" and r.spec["protocol"] == "knn")
    assert swept.details["pretrain"]["source"] == "artifact"
    assert len(swept.details["features"]["points"]) == 4
    chosen = swept.details["features"]["chosen"]
    spec = next(s for s in suite.runs if s.method == "ddae" and s.protocol == "knn")
    fixed = dataclasses.replace(
        spec, params={**spec.params, **chosen}, protocol_options={**spec.protocol_options, "feature_sweep": {}}
    )
    run_specs([fixed], reg, again, DataStore(data), Progress(quiet=True))
    assert again.read(fixed).metrics == swept.metrics


def test_the_random_weight_control_is_named_as_such_everywhere(monkeypatch, tmp_path, capsys):
    """Progress, --dry-run and --only tell the control from its pre-trained run; its row shows no
    pre-training budget (nothing was trained); an --only that selects nothing is an error."""
    from bench import cli
    from fakedist import install_distribution

    install_distribution(
        monkeypatch,
        tmp_path,
        "bench-repr-toy",
        "1.0",
        {"bench_repr_toy": (Path(__file__).parents[1] / "repr_toy.py").read_text()},
        {"repr-toy": "bench_repr_toy"},
    )
    suite = tmp_path / "control.yaml"
    suite.write_text(
        "name: control\nseeds: [0]\nruns:\n"
        "  - {datasets: blobs, methods: raw-pixels, protocol: {name: knn, k: 5}}\n"
        "  - {datasets: blobs, methods: raw-pixels, protocol: {name: knn, k: 5, weights: random}}\n"
    )
    results = str(tmp_path / "results")
    assert cli.main(["run", str(suite), "--results-dir", results, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "blobs / raw-pixels / knn / seed 0" in out and "blobs / raw-pixels (random weights) / knn / seed 0" in out
    assert cli.main(["run", str(suite), "--results-dir", results, "--dry-run", "--only", "random"]) == 0
    listed = [line for line in capsys.readouterr().out.splitlines() if "/ seed 0" in line]
    assert len(listed) == 1 and "(random weights)" in listed[0]
    assert cli.main(["run", str(suite), "--results-dir", results, "--only", "randm"]) == 2
    assert "matches none of the suite's 2 runs" in capsys.readouterr().err
    assert cli.main(["run", str(suite), "--results-dir", results, "--quiet"]) == 0
    capsys.readouterr()
    assert cli.main(["table", results, "--suite", "control"]) == 0
    rows = {  # each row starts with its rank
        line.split()[1] + (" control" if "random weights" in line else ""): line
        for line in capsys.readouterr().out.splitlines()
        if line.split()[1:2] == ["raw-pixels"]
    }
    assert "none (random weights)" in rows["raw-pixels control"] and "epochs=1" in rows["raw-pixels"]


# -- published numbers compare like with like ------------------------------------------------------


def test_published_numbers_carry_their_protocol_setting_and_epoch():
    from bench.protocols import named_setting

    reg = registry.load()
    found = {(name, p.value): p for name in ("mae", "ddae") for p in reg.method(name).published}
    assert set(found) == {("mae", 89.77), ("mae", 74.13), ("ddae", 90.05), ("ddae", 88.23)}  # no 95.9 (EDM/DDPM++)
    assert (found["ddae", 90.05].epoch, found["ddae", 88.23].epoch) == (800, 1999)
    assert "chosen among checkpoints on test accuracy" in found["ddae", 90.05].note
    for (name, _), p in found.items():
        # Never beside a run of the default settings: each names the setting it was measured under.
        assert p.setting == {"mae": "recipe mae-cifar-reimpl", "ddae": "probe ddae-official"}[name]
        assert p.protocol == {"mae": "finetune", "ddae": "linear-probe"}[name]
        assert p.to_dict()["epoch"] == p.epoch
    assert "best of the 100 epochs" in found["mae", 89.77].note and "weights: random" in found["mae", 74.13].note
    assert named_setting("finetune", {"recipe": "mae-cifar-reimpl"}) == "recipe mae-cifar-reimpl"
    assert named_setting("finetune", {"recipe": "bench"}) == "" and named_setting("knn", {}) == ""
    with pytest.raises(ValueError, match="epoch must be a non-negative integer"):
        dataclasses.replace(found["ddae", 90.05], epoch=-1)


def test_a_published_number_sits_only_beside_runs_of_its_weights():
    """MAE's from-scratch 74.13 belongs beside the random-weight control, its 89.77 beside the
    pre-trained run; neither beside the other (the runner copies only what applies to a run)."""
    reg = registry.load()
    found = {p.value: p for p in reg.method("mae").published}
    pretrained, control = {"recipe": "mae-cifar-reimpl"}, {"recipe": "mae-cifar-reimpl", "weights": "random"}
    assert found[89.77].applies_to("cifar10", "finetune", pretrained)
    assert not found[89.77].applies_to("cifar10", "finetune", control)
    assert found[74.13].applies_to("cifar10", "finetune", control)
    assert not found[74.13].applies_to("cifar10", "finetune", pretrained)
    assert not found[89.77].applies_to("mnist", "finetune", pretrained)
    assert found[89.77].applies_to("cifar10", "finetune", pretrained, setting=found[89.77].setting)
    assert not found[89.77].applies_to("cifar10", "finetune", pretrained, setting="another table's")
    assert all(p.weights == "pretrained" for p in reg.method("ddae").published)
    with pytest.raises(ValueError, match="weights must be"):
        dataclasses.replace(found[74.13], weights="randm")
