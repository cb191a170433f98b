"""The representation track: host protocols (linear probe, k-NN, fine-tune) checked against
independent computations on a raw-pixel encoder; MAE and DDAE pieces; saved encoders; controls."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import scipy.optimize
import torch

import repr_toy
from bench import MethodSpec, PretrainData, registry
from bench.context import RunContext, bookkeeping
from bench.data.loader import Normalize
from bench.data.store import DataStore
from bench.html import build
from bench.progress import Progress
from bench.protocols.knn import knn_predict
from bench.records import ResultStore
from bench.report import leaderboard, load_groups, render
from bench.runner import run_specs
from bench.specs import Budget
from bench.suite import SuiteError, load_suite
from bench_plugins.methods import ddae, mae
from bench_plugins.methods.vit import patchify


@pytest.fixture
def reg():
    return registry.load(extra_plugins=[("repr_toy", repr_toy)])


def run_suite(tmp_path, reg, text, results="results"):
    path = tmp_path / "suite.yaml"
    path.write_text(text)
    suite = load_suite(path, reg)
    store = ResultStore(tmp_path / results)
    outcome = run_specs(suite.runs, reg, store, DataStore(tmp_path / "data"), Progress(quiet=True))
    records = [store.read(spec) for spec in suite.runs]
    for r in records:
        assert r.status == "ok", r.error
    return suite, store, outcome, records


def blobs_arrays():
    train, test = repr_toy.load_blobs("train", None), repr_toy.load_blobs("test", None)
    as_np = lambda d: (d.images.reshape(len(d), -1).numpy().astype(np.float64) / 255.0, d.labels.numpy())
    return as_np(train), as_np(test)


# -- the protocols against independent computations ---------------------------------------------


def test_linear_probe_matches_an_independent_lbfgs_solution(tmp_path, reg):
    """Raw pixels, one (lr, weight decay) point, no holdout: the protocol's Adam fit must reach the
    test accuracy of the exact minimiser of mean cross-entropy + wd/2 ||W||^2 on standardised pixels."""
    wd = 0.01
    _, _, _, (record,) = run_suite(
        tmp_path,
        reg,
        f"""
runs:
  - datasets: blobs
    methods: raw-pixels
    protocol: {{name: linear-probe, holdout: 0.0, lrs: [0.05], weight_decays: [{wd}], epochs: 300, batch_size: 300}}
""",
    )
    (x, y), (xt, yt) = blobs_arrays()
    mean, std = x.mean(0), x.std(0)
    x, xt = (x - mean) / (std + 1e-6), (xt - mean) / (std + 1e-6)
    n, d, c = x.shape[0], x.shape[1], repr_toy.CLASSES
    onehot = np.eye(c)[y]

    def objective(theta):
        w, b = theta[: d * c].reshape(c, d), theta[d * c :]
        logits = x @ w.T + b
        logits -= logits.max(1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(1, keepdims=True)
        loss = -np.log((p * onehot).sum(1)).mean() + wd / 2 * (w**2).sum()
        g = (p - onehot) / n
        return loss, np.concatenate([(g.T @ x + wd * w).ravel(), g.sum(0)])

    theta = scipy.optimize.minimize(
        objective, np.zeros(d * c + c), jac=True, method="L-BFGS-B", options={"maxiter": 2000, "gtol": 1e-10}
    ).x
    w, b = theta[: d * c].reshape(c, d), theta[d * c :]
    expected = 100.0 * ((xt @ w.T + b).argmax(1) == yt).mean()
    assert 40 < expected < 98, "the toy task should be neither trivial nor hopeless"
    assert record.metrics["test_accuracy"] == pytest.approx(expected, abs=100 / len(yt) + 1e-9)
    assert record.details["probe"]["chosen"] == {"lr": 0.05, "weight_decay": wd}
    assert record.metric_info["test_accuracy"]["protocol"] == "linear-probe"


def test_knn_matches_an_independent_numpy_vote(tmp_path, reg):
    k, temperature = 7, 0.1
    _, _, _, (record,) = run_suite(
        tmp_path,
        reg,
        f"""
runs:
  - datasets: blobs
    methods: raw-pixels
    protocol: {{name: knn, k: {k}, temperature: {temperature}}}
""",
    )
    (x, y), (xt, yt) = blobs_arrays()
    mean, std = x.mean(), x.std()  # the host's normalisation (one channel), then cosine similarity
    x, xt = (x - mean) / std, (xt - mean) / std
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    xt /= np.linalg.norm(xt, axis=1, keepdims=True)
    correct = 0
    for q, label in zip(xt, yt):
        sim = x @ q
        nearest = np.argsort(-sim)[:k]
        votes = np.zeros(repr_toy.CLASSES)
        for i in nearest:
            votes[y[i]] += np.exp(sim[i] / temperature)
        correct += votes.argmax() == label
    expected = 100.0 * correct / len(yt)
    assert 40 < expected < 98
    assert record.metrics["test_accuracy"] == pytest.approx(expected, abs=1e-4)  # float32 mean
    assert record.details["knn"]["bank"] == 300 and record.metric_info["test_accuracy"]["protocol"] == "knn"


def test_knn_votes_are_weighted_by_similarity():
    bank = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 1.0], [0.2, 1.0]])
    labels = torch.tensor([0, 0, 1, 1, 1])
    query = torch.tensor([[1.0, 0.05]])
    # k = 5: three class-1 neighbours outvote two class-0 ones only when weights are flat.
    assert knn_predict(bank, labels, query, 2, k=5, temperature=0.05).item() == 0
    assert knn_predict(bank, labels, query, 2, k=5, temperature=100.0).item() == 1


def test_linear_probe_sweep_is_chosen_on_held_out_training_images(tmp_path, reg):
    _, _, _, (record,) = run_suite(
        tmp_path,
        reg,
        """
runs:
  - datasets: blobs
    methods: raw-pixels
    protocol: {name: linear-probe, holdout: 0.2, lrs: [0.05], weight_decays: [0.001, 50.0], epochs: 20}
""",
    )
    sweep = record.details["probe"]["sweep"]
    assert [p["weight_decay"] for p in sweep] == [0.001, 50.0]
    assert record.details["probe"]["chosen"]["weight_decay"] == 0.001  # 50 crushes the weights
    assert record.metrics["val_accuracy"] == max(p["val_accuracy"] for p in sweep)
    assert record.details["split"]["val"] == 60 and record.throughput["feature_images_per_s"]["items_per_s"] > 0


def test_a_sweep_without_holdout_is_refused(tmp_path, reg):
    path = tmp_path / "suite.yaml"
    path.write_text("runs: [{datasets: blobs, methods: raw-pixels, protocol: {name: linear-probe, holdout: 0.0}}]\n")
    suite = load_suite(path, reg)
    store = ResultStore(tmp_path / "r")
    run_specs(suite.runs, reg, store, DataStore(tmp_path / "data"), Progress(quiet=True))
    record = store.read(suite.runs[0])
    assert record.status == "failed" and "held-out" in record.error.message


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


# -- MAE ------------------------------------------------------------------------------------------


def tiny_ctx(tmp_path, params, images, epochs=1.0):
    return RunContext(
        device=torch.device("cpu"),
        seed=0,
        budget=Budget({"epochs": epochs}),
        params=params,
        normalize=Normalize.fit(images),
        artifacts_dir=tmp_path,
        progress=Progress(quiet=True),
    )


MAE_TINY = {
    **mae.PARAMS,
    "patch_size": 4,
    "dim": 32,
    "depth": 1,
    "heads": 2,
    "decoder_dim": 16,
    "decoder_depth": 1,
    "decoder_heads": 2,
    "batch_size": 32,
    "base_lr": 1e-2,
    "flip": False,
}


def test_mae_masking_keeps_a_quarter_and_restores_patch_order():
    g = torch.Generator().manual_seed(0)
    keep_index, mask, restore = mae.random_masking(3, 16, 4, "cpu", g)
    assert keep_index.shape == (3, 4) and mask.shape == (3, 16)
    assert (mask.sum(1) == 12).all()  # 75% removed
    assert (mask.gather(1, keep_index) == 0).all()  # kept patches are 0 = keep
    assert not torch.equal(keep_index[0].sort().values, keep_index[1].sort().values)  # per image
    order = torch.cat([keep_index, torch.ones(3, 12, dtype=torch.long) * -1], 1)
    assert (order.gather(1, restore).ne(-1) == (mask == 0)).all()


def test_patchify_lays_out_patches_in_raster_order():
    images = torch.arange(2 * 3 * 4 * 4, dtype=torch.float32).reshape(2, 3, 4, 4)
    patches = patchify(images, 2)  # (2, 4, 2*2*3)
    assert patches.shape == (2, 4, 12)
    assert torch.equal(patches[0, 1].reshape(2, 2, 3).permute(2, 0, 1), images[0, :, 0:2, 2:4])


def test_mae_learns_and_its_encoder_sees_every_patch(tmp_path):
    images = repr_toy.load_blobs("train", None).images  # (300, 1, 6, 6)
    images = torch.nn.functional.pad(images, (1, 1, 1, 1))  # 8x8: four 4x4 patches
    ctx = tiny_ctx(tmp_path, MAE_TINY, images, epochs=6)
    encoder = mae.fit_mae(PretrainData(images), ctx)
    losses = [c["loss"] for c in bookkeeping(ctx).curves]
    assert losses[-1] < losses[0]
    x = ctx.normalize(images[:2])
    with torch.no_grad():
        a = encoder(x)
        x2 = x.clone()
        x2[:, :, 4:, 4:] += 1.0  # change one patch only
        assert a.shape == (2, 32) and not torch.allclose(a, encoder(x2))


# -- DDAE -----------------------------------------------------------------------------------------

DDAE_TINY = {
    **ddae.PARAMS,
    "n_channels": 32,
    "ch_mults": [1, 2],
    "attention_levels": [1],
    "n_blocks": 1,
    "batch_size": 50,
    "lr": 1e-3,
    "flip": False,
    "block": "out_2",
}


def test_ddpm_linear_schedule():
    sqrt_abar, sqrt_one_minus = ddae.linear_schedule(1000, 1e-4, 0.02)
    betas = np.linspace(1e-4, 0.02, 1000)
    abar = np.cumprod(1 - betas)
    assert sqrt_abar[0] == 1 and sqrt_abar.shape == (1001,)
    assert sqrt_abar[11].item() == pytest.approx(np.sqrt(abar[10]), rel=1e-6)
    assert sqrt_one_minus[1000].item() == pytest.approx(np.sqrt(1 - abar[-1]), rel=1e-6)


def test_ddae_unet_blocks_and_features(tmp_path):
    images = torch.randint(0, 256, (4, 1, 8, 8), dtype=torch.uint8)
    ctx = tiny_ctx(tmp_path, DDAE_TINY, images)
    encoder = ddae.build_encoder((1, 8, 8), ctx)
    assert encoder.unet.block_names == ["out_1", "out_2", "out_3", "out_4"]
    x = ctx.normalize(images)
    with torch.no_grad():
        assert encoder.unet(x, torch.full((4,), 0.5)).shape == (4, 1, 8, 8)
        assert encoder(x).shape == (4, 64)  # out_2: the 4x4 level, 64 channels
        encoder.block = "out_3"
        assert encoder(x).shape == (4, 32)
    with pytest.raises(ValueError, match="divisible"):
        ddae.build_encoder((1, 7, 7), ctx)
    with pytest.raises(ValueError, match="unknown block"):
        ddae.build_encoder((1, 8, 8), tiny_ctx(tmp_path, {**DDAE_TINY, "block": "out_9"}, images))


def test_ddae_ema_warms_up():
    model = torch.nn.Linear(1, 1, bias=False)
    torch.nn.init.zeros_(model.weight)
    ema = ddae.EMA(model, 0.9999)
    with torch.no_grad():
        model.weight.fill_(1.0)
    ema.update(model)  # decay 1 - 2^(-2/3)
    assert ema.shadow[0].item() == pytest.approx(2 ** (-2 / 3), rel=1e-5)


@pytest.mark.slow  # ~20 s of CPU
def test_ddae_learns_to_denoise(tmp_path):
    images = torch.nn.functional.pad(repr_toy.load_blobs("train", None).images, (1, 1, 1, 1))  # 8x8
    ctx = tiny_ctx(tmp_path, DDAE_TINY, images, epochs=2)
    encoder = ddae.fit_ddae(PretrainData(images), ctx)
    losses = [c["loss"] for c in bookkeeping(ctx).curves]
    assert losses[-1] < 0.8 * losses[0] and not encoder.training


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
        {"bench_repr_toy": (Path(__file__).parent / "repr_toy.py").read_text()},
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


def test_ddae_full_budget_is_the_official_effective_four_gpu_recipe():
    reg = registry.load()
    spec = reg.method("ddae")
    params = {k: getattr(v, "default", v) for k, v in spec.params.items()}
    assert (params["batch_size"], params["lr"], spec.budget["epochs"]) == (512, 4e-4, 2000)
    assert spec.budget["epochs"] * -(-50_000 // params["batch_size"]) == 196_000  # about 196k steps


# -- the per-step probe (probe: ddae-official): all heads from one pass ----------------------------


def probe_context(images):
    return RunContext(
        device=torch.device("cpu"),
        seed=0,
        budget=Budget({}),
        params={},
        normalize=Normalize.fit(images),
        artifacts_dir=Path("."),
    )


@pytest.mark.parametrize("setting", ["ddae-official", "mae-official"])
def test_heads_trained_from_one_pass_equal_separate_probes(setting):
    """Each head of a sweep trains as it would alone: the same gradients (Adam), its own BatchNorm
    statistics and LARS norms (mae-official)."""
    from bench.data.loader import Augment
    from bench.protocols.linear_probe import LinearHeads, head_accuracies, train_heads

    data = repr_toy.load_blobs("train", None)
    projections = [torch.randn(36, d, generator=torch.Generator().manual_seed(d)) for d in (5, 12, 36)]
    read_all = lambda x: [x.flatten(1) @ w for w in projections]  # three read-outs of widths 5, 12, 36
    fit = dict(epochs=3, batch_size=64, lr=0.01, weight_decay=1e-3, augment=Augment(flip=True, crop_padding=1))
    head_options = {}
    if setting == "mae-official":
        fit.update(lr=0.5, weight_decay=0.0, optimizer="lars", lr_schedule="step", warmup_epochs=1.0)
        fit["augment"] = Augment(resized_crop=(0.5, 1.0), flip=True)
        head_options = dict(norm=True, init_std=0.01)
    ctx = probe_context(data.images)
    heads = LinearHeads([5, 12, 36], repr_toy.CLASSES, generator=torch.Generator().manual_seed(0), **head_options)
    starts = [heads.select(k) for k in range(3)]
    train_heads(read_all, heads, data, ctx, **fit)
    together = head_accuracies(read_all, heads, data, ctx, 100)
    for k, head in enumerate(starts):
        ctx = probe_context(data.images)  # the same batches and augmentations
        train_heads(lambda x, k=k: [read_all(x)[k]], head, data, ctx, **fit)
        alone = heads.select(k)
        assert torch.allclose(alone.weight, head.weight, atol=1e-5) and torch.allclose(alone.bias, head.bias, atol=1e-5)
        assert head_accuracies(lambda x, k=k: [read_all(x)[k]], head, data, ctx, 100)[0] == pytest.approx(together[k])
    assert torch.all(heads.weight[0, 5:] == 0)  # padding stays out of the heads
    if setting == "mae-official":  # BatchNorm's running statistics moved, each head's its own
        assert not torch.allclose(heads.select(0).norm.running_var, torch.ones(5))
        assert torch.allclose(heads.select(1).norm.running_mean, starts[1].norm.running_mean)


def test_lars_is_maes_arithmetic_on_a_linear_head():
    """Our LARS on a one-head LinearHeads against facebookresearch/mae util/lars.py's update
    (written out here for a plain (C, D) Linear): the same weights after steps with weight decay."""
    from bench.protocols.linear_probe import Lars, LinearHeads

    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(64, 7, generator=g), torch.randint(0, 3, (64,), generator=g)
    heads = LinearHeads([7], 3, generator=g, init_std=0.01)
    ref_w = heads.weight[0].detach().t().clone().requires_grad_()  # (C, D) as torch.nn.Linear's
    ref_b = heads.bias[0].detach().clone().requires_grad_()
    ours = Lars([{"params": [heads.weight], "weight_decay": 0.1}, {"params": [heads.bias], "trust": False}], lr=2.0)
    mu = {}
    for _ in range(5):
        ours.zero_grad()
        torch.nn.functional.cross_entropy(heads([x])[0], y).backward()
        ours.step()
        loss = torch.nn.functional.cross_entropy(x @ ref_w.t() + ref_b, y)
        grads = torch.autograd.grad(loss, [ref_w, ref_b])
        with torch.no_grad():
            for name, p, dp in (("w", ref_w, grads[0]), ("b", ref_b, grads[1])):
                if p.ndim > 1:  # util/lars.py: weight decay and trust ratio for >1-D parameters only
                    dp = dp.add(p, alpha=0.1)
                    q = torch.where(p.norm() > 0, torch.where(dp.norm() > 0, 0.001 * p.norm() / dp.norm(), 1.0), 1.0)
                    dp = dp.mul(q)
                mu[name] = mu.get(name, torch.zeros_like(p)).mul(0.9).add(dp)
                p.add_(mu[name], alpha=-2.0)
    assert torch.allclose(heads.weight[0].t(), ref_w, atol=1e-6) and torch.allclose(heads.bias[0], ref_b, atol=1e-6)
    assert not torch.allclose(ref_b, heads.bias.new_zeros(3))  # the bias moved (plain momentum SGD)


def test_truncated_normal_init_and_the_official_probe_settings():
    from bench.protocols.linear_probe import LinearHeads
    from bench_plugins.methods.official_probes import OFFICIAL_PROBES

    heads = LinearHeads([400, 3], 10, generator=torch.Generator().manual_seed(0), init_std=0.01)
    assert heads.weight[0].std().item() == pytest.approx(0.01, rel=0.05) and torch.all(heads.bias == 0)
    assert torch.all(heads.weight[1, 3:] == 0)
    mae = OFFICIAL_PROBES["mae-official"].options  # main_linprobe.py + FINETUNE.md's command (4 nodes x 8 GPUs x 512)
    assert mae["batch_size"] == 16384 and mae["lrs"] == [6.4] and mae["epochs"] == 90 and mae["warmup_epochs"] == 10
    assert mae["optimizer"] == "lars" and mae["head_norm"] == "batchnorm" and mae["resized_crop"] == [0.08, 1.0]
    ddae = OFFICIAL_PROBES["ddae-official"]  # linear.py: 4 GPUs x 128 at 1e-3 each
    assert ddae.options["batch_size"] == 512 and ddae.options["lrs"] == [4e-3] and ddae.missing == ()


def test_ddae_read_outs_equal_encoders_built_for_each():
    ctx = probe_context(torch.zeros(1, 1, 8, 8, dtype=torch.uint8))
    ctx.params = {**ddae.PARAMS, "n_channels": 32, "ch_mults": [1, 2], "n_blocks": 1, "timestep": 11, "block": "out_2"}
    torch.manual_seed(0)
    encoder = ddae.build_encoder((1, 8, 8), ctx).eval()
    x = torch.randn(4, 1, 8, 8)
    choices = [
        {"block": "out_1", "timestep": 11},
        {"block": "out_4", "timestep": 11},
        {"block": "out_2", "timestep": 101},
    ]
    torch.manual_seed(5)
    together = encoder.read_outs(x, choices)
    # One noise draw per timestep, in order of first appearance: t = 11 then t = 101.
    torch.manual_seed(5)
    for timestep, blocks in [(11, ["out_1", "out_4"]), (101, ["out_2"])]:
        noise = torch.randn_like(x)
        for block in blocks:
            alone = ddae.DDAEEncoder(
                encoder.unet, timestep, block, 1000, (1e-4, 0.02), ctx.normalize.mean, ctx.normalize.std
            )
            x_t = alone.noised(alone.to_unit_range(x), torch.full((4,), timestep), noise)
            ref = alone.unet(x_t, torch.full((4,), timestep / 1000), stop_at=block).mean(dim=(2, 3))
            got = together[[c["block"] for c in choices].index(block)]
            assert torch.allclose(got, ref, atol=1e-5)


def test_the_per_step_probe_runs_and_says_which_it_is(tmp_path, reg):
    _, _, _, (record, swept) = run_suite(
        tmp_path,
        reg,
        """
runs:
  - datasets: blobs
    methods: raw-pixels
    protocol: {name: linear-probe, probe: ddae-official, holdout: 0.0, overrides: {epochs: 40, batch_size: 100, flip: false, crop_padding: 0}}
  - datasets: blobs
    methods: raw-pixels
    protocol: {name: linear-probe, probe: ddae-official, overrides: {epochs: 40, batch_size: 60, flip: false, crop_padding: 0}, feature_sweep: {pixels: [2, 36]}}
""",
    )
    probe = record.details["probe"]
    assert probe["setting"] == "ddae-official" and probe["lr"] == 4e-3 and probe["epochs"] == 40
    # (crop + flip would destroy these 6x6 templates: overridden.)
    assert probe["overrides"] == {"epochs": 40, "batch_size": 100, "flip": False, "crop_padding": 0}
    assert record.details["split"]["train"] == 300 and record.metrics["test_accuracy"] > 50  # 5 classes: 20% by chance
    features = swept.details["features"]
    assert features["chosen"] == {"pixels": 36} and [q["pixels"] for q in features["points"]] == [2, 36]
    assert (
        swept.details["probe"]["heads"] == 2 and swept.metrics["val_accuracy"] == features["points"][1]["val_accuracy"]
    )
    assert "probe ddae-official" in record.metric_info["test_accuracy"]["convention"]


def test_the_mae_official_probe_runs_with_lars_and_batchnorm_and_says_so(tmp_path, reg):
    (record,) = run_suite(
        tmp_path,
        reg,
        """
runs:
  - datasets: blobs
    methods: raw-pixels
    protocol: {name: linear-probe, probe: mae-official, overrides: {epochs: 60, batch_size: 100, flip: false, resized_crop: []}}
""",
    )[3]
    probe = record.details["probe"]
    assert probe["setting"] == "mae-official" and probe["optimizer"].startswith("LARS")
    assert "BatchNorm1d without affine" in probe["features"] and probe["head_init_std"] == 0.01
    assert probe["lr_schedule"] == "10.0 warm-up epochs + cosine, per step" and probe["missing"]
    assert record.metrics["test_accuracy"] > 50  # 5 classes: 20% by chance
    assert "probe mae-official" in record.metric_info["test_accuracy"]["convention"]


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
