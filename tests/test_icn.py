"""Introspective CNN: the Langevin sampler, the multi-class formulation, a tiny end-to-end run
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

SUITES = Path(__file__).resolve().parents[1] / "suites"


def net_and_samples(seed=0, k=4, n=12):
    torch.manual_seed(seed)
    net = icn.build_backbone({**icn.PARAMS, "backbone": "small-cnn", "width": 4}, (1, 8, 8), 2 * k).eval()
    g = torch.Generator().manual_seed(seed)
    lo, hi = torch.full((1, 1, 1, 1), -0.5), torch.full((1, 1, 1, 1), 3.0)
    x = icn.reference_samples((n, 1, 8, 8), lo, hi, "cpu", g)
    return net, x, torch.arange(n) % k, lo, hi, g


def test_a_langevin_step_raises_the_score_of_the_target_class():
    net, x, classes, lo, hi, g = net_and_samples()
    prior = lambda v: 0.5 * (v ** 2).flatten(1).sum(1)
    before = icn.log_ratio(net, x, classes, 4).detach()
    stepped = icn.langevin(net, x, classes, 4, steps=1, step_size=1e-3, noise=0.0, lo=lo, hi=hi, generator=g)
    after = icn.log_ratio(net, stepped, classes, 4).detach()
    assert ((after - prior(stepped)) > (before - prior(x))).all()       # log p_k rises for every sample
    assert all(p.grad is None for p in net.parameters())                 # the network is not trained by it
    # A sharper classifier (scores x 100) outweighs the Gaussian: z_k - z_-k rises for every sample.
    sharp = torch.nn.Sequential(net, Scale(100.0))
    moved = icn.langevin(sharp, x, classes, 4, steps=1, step_size=1e-4, noise=0.0, lo=lo, hi=hi, generator=g)
    assert (icn.log_ratio(sharp, moved, classes, 4) > icn.log_ratio(sharp, x, classes, 4)).all()
    other = (classes + 1) % 4                                            # drawn for another class: elsewhere
    elsewhere = icn.langevin(sharp, x, other, 4, steps=1, step_size=1e-4, noise=0.0, lo=lo, hi=hi, generator=g)
    assert not torch.allclose(moved, elsewhere)
    far = icn.langevin(sharp, x, classes, 4, steps=20, step_size=1e-3, noise=0.01, lo=lo, hi=hi, generator=g)
    assert far.min() >= -0.5 and far.max() <= 3.0                        # kept in the valid pixel range
    assert (icn.log_ratio(sharp, far, classes, 4) > icn.log_ratio(sharp, moved, classes, 4)).float().mean() > 0.9


class Scale(torch.nn.Module):
    def __init__(self, factor: float):
        super().__init__()
        self.factor = factor

    def forward(self, x):
        return x * self.factor


def test_pseudo_negatives_take_their_class_negative_role_and_the_host_sees_k_scores():
    images, labels = torch.zeros(3, 1, 8, 8), torch.tensor([0, 1, 2])
    pool_x = torch.arange(5.0)[:, None, None, None].expand(5, 1, 8, 8)   # sample i is filled with i
    pool_y = torch.tensor([3, 1, 0, 2, 3])
    x, y = icn.with_pseudo_negatives(images, labels, pool_x, pool_y, 6, 4, torch.Generator().manual_seed(0))
    assert x.shape == (9, 1, 8, 8) and torch.equal(y[:3], labels)
    picked = x[3:, 0, 0, 0].long()
    assert torch.equal(y[3:], 4 + pool_y[picked])                        # -k is output K + k
    net = icn.build_backbone({**icn.PARAMS, "backbone": "small-cnn", "width": 4}, (1, 8, 8), 8)
    assert net(x).shape == (9, 8) and icn.PositiveScores(net, 4)(x).shape == (9, 4)


def test_resnet32_has_32_weight_layers():
    net = icn.cifar_resnet(3, 10, 16, 5)
    main = [m for name, m in net.named_modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)) and "shortcut" not in name]
    assert len(main) == 32
    assert net(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


def test_a_tiny_icn_runs_end_to_end_beside_its_plain_control_and_writes_the_grids(tmp_path):
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
    grids = [a for a in icn_record["artifacts"] if a["kind"] == "pseudo-negatives"]
    assert [Path(a["path"]).name for a in grids] == ["round-00.png", "round-01.png", "round-02.png"]
    folder = store.path_for(next(s for s in suite.runs if s.params["introspective"])).with_suffix("")
    from PIL import Image
    assert Image.open(folder / grids[1]["path"]).size == (8 * 9 - 1, 4 * 9 - 1)   # 4 rows (classes) of 8x8 cells
    assert "Langevin" in grids[1]["caption"] and "q0" in grids[0]["caption"]
    counts = [c["pseudo_negatives"] for c in icn_record["details"]["curves"] if "pseudo_negatives" in c]
    assert counts == [20, 40, 60]                                        # every round adds K x 5
    rate = icn_record["throughput"]["synthesis_images_per_s"]
    assert rate["items_per_s"] > 0 and rate["calls"] == 2 and rate["items_per_repeat"] == 20
    assert "artifacts" not in plain and "synthesis_images_per_s" not in plain["throughput"]
    assert plain["details"]["split"] == icn_record["details"]["split"]   # same data, same budget
    assert icn_record["metrics"]["test_accuracy"] > 50 and plain["metrics"]["test_accuracy"] > 50


@pytest.mark.parametrize("name", ["icn-mnist", "icn-cifar10", "icn-svhn", "icn-mnist-cpu"])
def test_the_suites_validate_and_pair_icn_with_its_plain_control(name):
    suite = load_suite(SUITES / f"{name}.yaml", registry.load())
    assert {s.method for s in suite.runs} == {"icn"}
    by_seed: dict = {}
    for s in suite.runs:
        by_seed.setdefault((s.dataset, s.seed), []).append(s)
    for specs in by_seed.values():
        assert sorted(s.params["introspective"] for s in specs) == [False, True]
        a, b = specs                                                     # same everything but the switch
        assert {**a.params, "introspective": None} == {**b.params, "introspective": None} and a.budget == b.budget
