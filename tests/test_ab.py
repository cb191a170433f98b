"""`bench ab` and noise-aware gating: interleaved pairs, the paired gate, re-runs, loaded machines."""

import json
import random
import sys
from argparse import Namespace

from bench import ab, cli
from bench.compare import Tolerances, compare
from planted import record, write_set


def test_the_runs_interleave_abba_each_seed_on_both_sides(tmp_path):
    log = tmp_path / "calls.log"
    fake = tmp_path / "python"  # stands for an environment's interpreter: says what it was asked to run
    fake.write_text(f'#!/bin/sh\necho "$0 $*" >> {log}\n')
    fake.chmod(0o755)
    sides = {"base": ab.Side("base", str(fake)), "new": ab.Side("new", str(fake))}
    ab.run_interleaved(sides, "suite.yaml", tmp_path / "out", [0, 1, 2], ["--only", "mlp"], say=lambda _: None)
    calls = [line.split() for line in log.read_text().splitlines()]
    assert [(c[c.index("--seeds") + 1], c[c.index("--results-dir") + 1][-3:]) for c in calls] == [
        ("0", "ase"),
        ("0", "new"),
        ("1", "new"),
        ("1", "ase"),
        ("2", "ase"),
        ("2", "new"),
    ]
    assert all(c[1:5] == ["-m", "bench", "run", "suite.yaml"] and c[-2:] == ["--only", "mlp"] for c in calls)


def write_side(root, seeds, rate_of, acc=98.0):
    for seed in seeds:
        rate = rate_of(seed)
        record(root, "cnn", seed, acc, train_rate=rate, samples=[rate * j for j in (0.99, 1.0, 1.01)])


def machine(seed: int) -> float:
    """How fast the shared machine let a pair's runs go: 0.25x to 1x, the same for both runs of a pair."""
    return random.Random(seed).uniform(0.25, 1.0)


def jitter(side: str, seed: int) -> float:
    return random.Random(f"{side}{seed}").gauss(1.0, 0.02)


def gate_verdicts(out):
    return {d.metric: d.verdict for d in ab.gate(out, Tolerances(throughput=0.05))}


def test_the_pair_gate_passes_an_aa_run_on_a_loaded_machine_and_fails_a_10_percent_slowdown(tmp_path):
    seeds = range(6)
    write_side(tmp_path / "aa" / "base", seeds, lambda s: 1000 * machine(s) * jitter("a", s))
    write_side(tmp_path / "aa" / "new", seeds, lambda s: 1000 * machine(s) * jitter("b", s))
    assert gate_verdicts(tmp_path / "aa")["train_images_per_s"] == "ok"
    # The same folders judged unpaired: the machine's mood between runs swamps a 5% tolerance.
    write_side(tmp_path / "slow" / "base", seeds, lambda s: 1000 * machine(s) * jitter("a", s))
    write_side(tmp_path / "slow" / "new", seeds, lambda s: 900 * machine(s) * jitter("b", s))
    slow = {d.metric: d for d in ab.gate(tmp_path / "slow", Tolerances(throughput=0.05))}
    assert slow["train_images_per_s"].verdict == "REGRESSION" and slow["train_images_per_s"].p_value < 0.001
    assert slow["test_accuracy"].verdict == "ok"


def test_a_flag_is_rerun_with_more_seeds_and_must_survive(monkeypatch, tmp_path):
    """One unlucky pair flags the row; three more seeds clear it. A real slowdown stays flagged."""

    def fake_run(slowdown, unlucky):
        def run(sides, suite, out, seeds, extra, say):
            for seed in seeds:
                write_side(out / "base", [seed], lambda s: 1000 * jitter("a", s))
                factor = 0.8 if seed == unlucky else 1 - slowdown
                write_side(out / "new", [seed], lambda s, f=factor: 1000 * f * jitter("b", s))
            run.calls.append((seeds, extra))

        run.calls = []
        return run

    base = dict(suite="s.yaml", base_python=sys.executable, new_python=None, seeds=[0], more_seeds=3, only=[])
    args = Namespace(**base, budget_scale=None, data_dir=None, offline=False)
    for slowdown, unlucky, survives in ((0.0, 0, False), (0.1, None, True)):
        run = fake_run(slowdown, unlucky)
        monkeypatch.setattr(ab, "run_interleaved", run)
        args.results_dir = str(tmp_path / f"out{slowdown}")
        deltas, rerun = ab.main(args, Tolerances(throughput=0.05), say=lambda _: None)
        assert rerun == ["toy / cnn"] and run.calls[1] == ([1, 2, 3], ["--only", "toy / cnn"])
        verdict = next(d.verdict for d in deltas if d.metric == "train_images_per_s")
        assert (verdict == "REGRESSION") is survives, (slowdown, verdict)


def loaded_side(root, load, rate, seeds=range(3)):
    write_side(root, seeds, lambda s: rate * jitter(root.name, s))
    for path in root.glob("*.json"):
        data = json.loads(path.read_text())
        data["environment"] |= {"cpu_count": 2, "load_average": {"start": load, "end": load}}
        path.write_text(json.dumps(data))


def test_throughput_measured_on_a_loaded_machine_is_reported_unreliable_not_as_a_change(tmp_path, capsys):
    loaded_side(tmp_path / "quiet", 0.5, 4000.0)
    loaded_side(tmp_path / "busy", 9.0, 1000.0)  # the same code on a busier machine: 4x "slower"
    deltas = {d.metric: d for d in compare(tmp_path / "quiet", tmp_path / "busy", Tolerances())}
    assert deltas["train_images_per_s"].verdict == "unreliable"
    assert "loaded machine (4.5x its CPUs)" in deltas["train_images_per_s"].note
    assert cli.main(["compare", str(tmp_path / "busy"), str(tmp_path / "quiet")]) == 0  # nor 4x faster
    assert "unreliable" in capsys.readouterr().out
    loaded_side(tmp_path / "quiet2", 0.5, 1000.0)
    slow = {d.metric: d.verdict for d in compare(tmp_path / "quiet", tmp_path / "quiet2", Tolerances())}
    assert slow["train_images_per_s"] == "REGRESSION"  # both quiet: a 4x slowdown is one
    loaded_side(tmp_path / "crawl", 9.0, 400.0)
    crawl = {d.metric: d.verdict for d in compare(tmp_path / "quiet", tmp_path / "crawl", Tolerances())}
    assert crawl["train_images_per_s"] == "REGRESSION"  # 10x: more than a load of 4.5x the CPUs explains


def test_the_documented_ab_job_installs_both_sides_and_runs_bench_ab():
    import re
    from pathlib import Path

    import yaml

    text = (Path(__file__).resolve().parents[1] / "docs" / "ci.md").read_text()
    (workflow,) = [b for b in re.findall(r"```yaml\n(.*?)```", text, flags=re.S) if "jobs:" in b]
    runs = [s["run"] for s in yaml.safe_load(workflow)["jobs"]["ab-gate"]["steps"] if "run" in s]
    assert runs[0] == "make install" and runs[2] == "make -C ../base install"
    assert runs[1].startswith("git worktree add ../base ")
    words = runs[3].split()
    assert words[0] == ".venv/bin/bench"
    args = cli._parser().parse_args(words[1:])
    assert args.handler is cli.cmd_ab and args.base_python == "../base/.venv/bin/python"


def test_with_no_tolerance_given_it_is_set_from_the_seeds_spread_and_an_aa_pass(tmp_path):

    noise = Tolerances(quality=None, throughput=None)
    write_set(tmp_path / "base", [98.0, 98.1, 98.2])  # seeds' spread 0.1: a standard error of 0.08
    write_set(tmp_path / "new", [97.5, 97.6, 97.7])  # 0.5 lower: past 3 standard errors
    assert verdicts_of(compare(tmp_path / "base", tmp_path / "new", noise))["test_accuracy"] == "REGRESSION"
    assert verdicts_of(compare(tmp_path / "base", tmp_path / "new", Tolerances()))["test_accuracy"] == "REGRESSION"
    write_set(tmp_path / "aa", [96.0, 98.0, 100.0])  # an A/A pass that shows a seed moving it by 2 points
    widened = compare(tmp_path / "base", tmp_path / "new", noise, noise=[tmp_path / "aa"])
    assert verdicts_of(widened)["test_accuracy"] == "ok"
    write_set(tmp_path / "one", [98.0])  # one seed a side: no spread, the fixed default (0.3)
    write_set(tmp_path / "one-low", [97.8])
    assert verdicts_of(compare(tmp_path / "one", tmp_path / "one-low", noise))["test_accuracy"] == "ok"
    assert noise.allowed("train_images_per_s", "throughput", 1000.0, 1.0) == 50.0  # at least 5%
    assert noise.allowed("train_images_per_s", "throughput", 1000.0, 40.0) == 120.0


def verdicts_of(deltas):
    return {d.metric: d.verdict for d in deltas}
