"""Introspective CNN: the Langevin sampler (noise scale, stopping, chunks, warm start), the
multi-class formulation, BatchNorm statistics free of pseudo-negatives, a tiny end-to-end run
through the host (grids of pseudo-negatives, sampler rate, the plain control) and the suites."""

from pathlib import Path

import pytest
import torch

import toy
from bench import registry
from bench.data.store import DataStore
from bench.progress import Progress
from bench.records import ResultStore
from bench.runner import run_specs
from bench.suite import load_suite
from bench_plugins.methods import icn

SUITES = Path(__file__).resolve().parents[2] / "suites"


def net_and_samples(seed=0, k=4, n=12):
    torch.manual_seed(seed)
    net = icn.build_backbone({**icn.PARAMS, "backbone": "small-cnn", "width": 4}, (1, 8, 8), 2 * k).eval()
    g = torch.Generator().manual_seed(seed)
    lo, hi = torch.full((1, 1, 1, 1), -0.5), torch.full((1, 1, 1, 1), 3.0)
    x = icn.reference_samples((n, 1, 8, 8), lo, hi, "cpu", g)
    return net, x, torch.arange(n) % k, lo, hi, g


def test_a_langevin_step_raises_the_score_of_the_target_class():
    net, x, classes, lo, hi, g = net_and_samples()
    prior = lambda v: 0.5 * (v**2).flatten(1).sum(1)
    before = icn.log_ratio(net, x, classes, 4).detach()
    stepped = icn.langevin(net, x, classes, 4, steps=1, step_size=2e-3, noise=0.0, lo=lo, hi=hi, generator=g).x
    after = icn.log_ratio(net, stepped, classes, 4).detach()
    assert ((after - prior(stepped)) > (before - prior(x))).all()  # log p_k rises for every sample
    assert all(p.grad is None for p in net.parameters())  # the network is not trained by it
    # A sharper classifier (scores x 100) outweighs the Gaussian: z_k - z_-k rises for every sample.
    sharp = torch.nn.Sequential(net, Scale(100.0))
    moved = icn.langevin(sharp, x, classes, 4, steps=1, step_size=2e-4, noise=0.0, lo=lo, hi=hi, generator=g).x
    assert (icn.log_ratio(sharp, moved, classes, 4) > icn.log_ratio(sharp, x, classes, 4)).all()
    other = (classes + 1) % 4  # drawn for another class: elsewhere
    elsewhere = icn.langevin(sharp, x, other, 4, steps=1, step_size=2e-4, noise=0.0, lo=lo, hi=hi, generator=g).x
    assert not torch.allclose(moved, elsewhere)
    far = icn.langevin(sharp, x, classes, 4, steps=20, step_size=2e-3, noise=0.01, lo=lo, hi=hi, generator=g).x
    assert far.min() >= -0.5 and far.max() <= 3.0  # kept in the valid pixel range
    assert (icn.log_ratio(sharp, far, classes, 4) > icn.log_ratio(sharp, moved, classes, 4)).float().mean() > 0.9


class Scale(torch.nn.Module):
    def __init__(self, factor: float):
        super().__init__()
        self.factor = factor

    def forward(self, x):
        return x * self.factor


class Constant(torch.nn.Module):
    """A flat classifier: the same 2K logits for every input (their gradient is zero)."""

    def __init__(self, logits):
        super().__init__()
        self.logits = torch.nn.Parameter(torch.tensor(logits))

    def forward(self, x):
        return self.logits.expand(len(x), -1) + 0 * x.flatten(1).sum(1, keepdim=True)


@pytest.mark.slow  # ~13 s of CPU
def test_the_sampler_is_langevin_dynamics_noise_of_variance_step_and_half_step_drift():
    flat = Constant([0.0, 0.0])  # K = 1: log p = -|x|^2/2
    lo, hi = torch.full((1, 1, 1, 1), -50.0), torch.full((1, 1, 1, 1), 50.0)
    g = torch.Generator().manual_seed(0)
    x = torch.full((4000, 1, 8, 8), 2.0)
    out = icn.langevin(
        flat, x, torch.zeros(4000, dtype=torch.long), 1, steps=1, step_size=0.04, noise=1.0, lo=lo, hi=hi, generator=g
    ).x
    # x + eps/2 * (-x) + N(0, eps): mean 2 * (1 - 0.02) = 1.96, standard deviation sqrt(0.04) = 0.2
    assert abs(out.mean().item() - 1.96) < 0.005 and abs(out.std().item() - 0.2) < 0.005
    # Long chains under a flat classifier forget their start and settle at q0 = N(0, I).
    long = icn.langevin(
        flat,
        x[:1000],
        torch.zeros(1000, dtype=torch.long),
        1,
        steps=300,
        step_size=0.05,
        noise=1.0,
        lo=lo,
        hi=hi,
        generator=g,
    ).x
    assert abs(long.mean().item()) < 0.05 and abs(long.std().item() - 1.0) < 0.05
    cool = icn.langevin(
        flat,
        x[:1000],
        torch.zeros(1000, dtype=torch.long),
        1,
        steps=1,
        step_size=0.04,
        noise=0.5,
        lo=lo,
        hi=hi,
        generator=g,
    ).x
    assert abs(cool.std().item() - 0.1) < 0.005  # noise scales sqrt(eps)


def test_a_chain_stops_once_the_classifier_takes_its_sample_for_the_class():
    lo, hi = torch.full((1, 1, 1, 1), -50.0), torch.full((1, 1, 1, 1), 50.0)
    x = torch.randn(6, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    classes = torch.tensor([0, 0, 0, 1, 1, 1])
    believed = Constant([1.0, -1.0, 0.0, 0.0])  # z_0 - z_-0 = 1, z_1 - z_-1 = -1
    chains = icn.langevin(
        believed,
        x,
        classes,
        2,
        steps=5,
        step_size=0.1,
        noise=1.0,
        lo=lo,
        hi=hi,
        generator=torch.Generator().manual_seed(1),
        stop_at=0.5,
    )
    assert torch.equal(chains.x[:3], x[:3])  # class 0: accepted at once, not moved
    assert not torch.isclose(chains.x[3:], x[3:]).any()  # class 1: never reaches 0.5, runs on
    assert chains.stopped.tolist() == [True] * 3 + [False] * 3
    assert torch.allclose(chains.log_ratio, torch.tensor([1.0] * 3 + [-1.0] * 3))
    # A threshold met part-way: the chain freezes at the first sample that meets it.
    tilt = Tilt()  # z_0 - z_-0 = mean pixel
    start = torch.zeros(200, 1, 4, 4)
    run = icn.langevin(
        tilt,
        start,
        torch.zeros(200, dtype=torch.long),
        1,
        steps=500,
        step_size=0.05,
        noise=1.0,
        lo=lo,
        hi=hi,
        generator=torch.Generator().manual_seed(2),
        stop_at=0.1,
    )
    assert run.stopped.all() and (run.log_ratio >= 0.1).all() and (run.log_ratio < 0.1 + 0.3).all()


class Tilt(torch.nn.Module):
    def forward(self, x):
        m = x.flatten(1).mean(1, keepdim=True)
        return torch.cat([m, -m], 1) / 2


def test_the_sampler_runs_in_chunks_under_autocast_in_the_networks_memory_format():
    net, x, classes, lo, hi, _ = net_and_samples(n=10)
    seen = []
    net[0].register_forward_hook(
        lambda m, args, out: seen.append(
            (len(args[0]), args[0].is_contiguous(memory_format=torch.channels_last), torch.is_autocast_enabled("cpu"))
        )
    )
    kwargs = dict(steps=2, step_size=1e-2, noise=0.0, lo=lo, hi=hi)
    whole = icn.langevin(net, x, classes, 4, generator=torch.Generator(), **kwargs).x
    seen.clear()
    net = net.to(memory_format=torch.channels_last)
    chunked = icn.langevin(
        net,
        x,
        classes,
        4,
        generator=torch.Generator(),
        chunk=4,
        autocast=lambda: torch.autocast("cpu", dtype=torch.bfloat16),
        layout=lambda v: v.contiguous(memory_format=torch.channels_last),
        **kwargs,
    )
    assert sorted({n for n, _, _ in seen}) == [2, 4]  # 4 + 4 + 2, never all 10 at once
    assert all(cl and ac for _, cl, ac in seen)
    assert chunked.x.dtype == torch.float32 and chunked.x.shape == x.shape
    assert (chunked.x - whole).abs().max() < 0.05  # the same ascent, in bf16


def test_pseudo_negatives_stay_out_of_the_batchnorm_statistics():
    torch.manual_seed(0)
    net = icn.build_backbone({**icn.PARAMS, "backbone": "small-cnn", "width": 4}, (1, 8, 8), 8).train()
    twin = icn.build_backbone({**icn.PARAMS, "backbone": "small-cnn", "width": 4}, (1, 8, 8), 8).train()
    twin.load_state_dict(net.state_dict())
    images, negatives = torch.randn(16, 1, 8, 8), 10 + 5 * torch.randn(8, 1, 8, 8)  # far from the data
    logits = icn.reclassification_logits(net, images, negatives)
    twin(images)  # the training images alone
    assert logits.shape == (24, 8)
    for a, b in zip(net.modules(), twin.modules()):
        if isinstance(a, torch.nn.BatchNorm2d):
            assert torch.equal(a.running_mean, b.running_mean) and torch.equal(a.running_var, b.running_var)
    assert all(m.training for m in net.modules())  # train mode is given back
    logits.sum().backward()  # and the negatives' pass trains the net
    assert all(p.grad is not None for p in net.parameters())


def test_pseudo_negatives_take_their_class_negative_role_and_the_host_sees_k_scores():
    pool_x = torch.arange(5.0)[:, None, None, None].expand(5, 1, 8, 8)  # sample i is filled with i
    pool_y = torch.tensor([3, 1, 0, 2, 3])
    x, y = icn.draw_pseudo_negatives(pool_x, pool_y, 6, 4, torch.Generator().manual_seed(0))
    assert x.shape == (6, 1, 8, 8)
    picked = x[:, 0, 0, 0].long()
    assert torch.equal(y, 4 + pool_y[picked])  # -k is output K + k
    net = icn.build_backbone({**icn.PARAMS, "backbone": "small-cnn", "width": 4}, (1, 8, 8), 8)
    assert net(x).shape == (6, 8) and icn.PositiveScores(net, 4)(x).shape == (6, 4)


def test_resnet32_has_32_weight_layers():
    net = icn.cifar_resnet(3, 10, 16, 5)
    main = [
        m
        for name, m in net.named_modules()
        if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)) and "shortcut" not in name
    ]
    assert len(main) == 32
    assert net(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


@pytest.mark.slow  # ~11 s of CPU
def test_a_tiny_icn_runs_end_to_end_beside_its_plain_control_and_writes_the_grids(tmp_path, monkeypatch):
    calls = []  # (start, result) of each synthesis
    sampler = icn.langevin
    monkeypatch.setattr(
        icn, "langevin", lambda net, x, *a, **k: calls.append((x.clone(), sampler(net, x, *a, **k))) or calls[-1][1]
    )
    reg = registry.load(extra_plugins=[("toy", toy)])
    path = tmp_path / "suite.yaml"
    path.write_text("""
name: tiny-icn
runs:
  - datasets: toy
    methods:
      - name: icn
        params: {backbone: small-cnn, width: 4, rounds: 3, negatives_per_class: 5, langevin_steps: 3, batch_size: 50,
                 crop_padding: 0, flip: false}
        grid: {introspective: [true, false]}
        budget: {epochs: 2}
    protocol: {name: classify, holdout: 0.1}
""")
    suite = load_suite(path, reg)
    store = ResultStore(tmp_path / "results")
    outcome = run_specs(suite.runs, reg, store, DataStore(tmp_path / "data"), Progress(quiet=True))
    records = {s.params["introspective"]: store.read(s) for s in suite.runs}
    assert not outcome.failed, [r["error"]["traceback"] for r in records.values() if r["status"] != "ok"]
    icn_record, plain = records[True], records[False]
    grids = [a for a in icn_record.artifacts if a["kind"] == "pseudo-negatives"]
    assert [Path(a["path"]).name for a in grids] == ["round-00.png", "round-01.png", "round-02.png"]
    folder = store.path_for(next(s for s in suite.runs if s.params["introspective"])).with_suffix("")
    from PIL import Image

    assert Image.open(folder / grids[1]["path"]).size == (8 * 9 - 1, 4 * 9 - 1)  # 4 rows (classes) of 8x8 cells
    assert "Langevin" in grids[1]["caption"] and "q0" in grids[0]["caption"]
    assert len(calls) == 2 and torch.equal(calls[1][0], calls[0][1].x)  # round 2's chains go on from round 1's
    assert calls[0][1].x.shape == (20, 1, 8, 8)
    stopped = [c["sampler_stopped"] for c in icn_record.details["curves"] if "sampler_stopped" in c]
    assert len(stopped) == 3 and all(0 <= v <= 1 for v in stopped)
    counts = [c["pseudo_negatives"] for c in icn_record.details["curves"] if "pseudo_negatives" in c]
    assert counts == [20, 40, 60]  # every round adds K x 5
    rate = icn_record.throughput["synthesis_images_per_s"]
    assert rate["items_per_s"] > 0 and rate["calls"] == 2 and rate["items_per_repeat"] == 20
    assert not plain.artifacts and "synthesis_images_per_s" not in plain.throughput
    assert plain.details["split"] == icn_record.details["split"]  # same data, same budget
    assert icn_record.metrics["test_accuracy"] > 50 and plain.metrics["test_accuracy"] > 50


@pytest.mark.parametrize("name", ["icn-mnist", "icn-cifar10", "icn-svhn", "icn-mnist-cpu", "icn-fashion-mnist-cpu"])
def test_the_suites_validate_and_pair_icn_with_its_plain_control(name):
    suite = load_suite(SUITES / f"{name}.yaml", registry.load())
    assert {s.method for s in suite.runs} == {"icn"}
    by_seed: dict = {}
    for s in suite.runs:
        by_seed.setdefault((s.dataset, s.seed), []).append(s)
    for specs in by_seed.values():
        assert sorted(s.params["introspective"] for s in specs) == [False, True]
        a, b = specs  # same everything but the switch
        assert {**a.params, "introspective": None} == {**b.params, "introspective": None} and a.budget == b.budget
