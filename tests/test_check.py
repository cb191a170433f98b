"""bench check: the contract tests a plugin author runs; every built-in passes them, and a method
that breaks a rule is reported with the rule and the method named."""

import itertools

import pytest
import torch

from bench import Classifier, Param, RepresentationLearner, Restorer, cli, hookimpl, registry
from bench import check as bench_check
from bench.check import check


@pytest.mark.slow  # every built-in, each run several times: ~90 s of CPU
def test_every_builtin_method_passes_bench_check(capsys):
    assert cli.main(["check"]) == 0
    out = capsys.readouterr().out
    reg = registry.load()
    for name in reg.methods:
        assert f"ok         {name} (" in out, out
    assert f"{len(reg.methods)} methods checked, 0 rules broken" in out


def linear(data, ctx, epochs=None):
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(data.train.images[0].numel(), data.num_classes))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in ctx.epochs(epochs or ctx.budget.epochs):
        for x, y in ctx.batches(data.train, 32):
            ctx.optimize(torch.nn.functional.cross_entropy(model(x), y), optimizer, n=len(y))
    return model


def train_too_long(data, ctx):
    return linear(data, ctx, epochs=ctx.budget.epochs + 2)


CALLS = itertools.count()


def train_with_state(data, ctx):
    model = linear(data, ctx)
    if next(CALLS) % 2:  # state kept between runs: the second run predicts class 0 everywhere
        with torch.no_grad():
            model[1].bias[0] += 1e6
    return model


def train_no_model(data, ctx):
    return "a model"


def build_wide(image_shape, ctx):
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(image_shape[0] * image_shape[1] * image_shape[2], 4))


def pretrain_other_architecture(data, ctx):
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(data.images[0].numel(), 7))


def restore_uint8(problem, ctx):
    upscaled = torch.nn.functional.interpolate(problem.observed[None], scale_factor=problem.scale)[0]
    return (upscaled * 255).to(torch.uint8)


def restore_too_many_steps(problem, ctx):
    for _ in range(10):
        ctx.step()
    return torch.nn.functional.interpolate(problem.observed[None], scale_factor=problem.scale)[0].clamp(0, 1)


class Bad:
    @hookimpl
    def bench_register_methods(self, register):
        register(Classifier("too-long", train_too_long, budget={"epochs": 5}))
        register(Classifier("unseeded", train_with_state, budget={"epochs": 1}))
        register(Classifier("no-model", train_no_model, budget={"epochs": 1}))
        register(
            Classifier(
                "bad-check-param",
                linear,
                budget={"epochs": 1},
                params={"width": Param(4, ge=1)},
                check_params={"width": 0},
            )
        )
        register(RepresentationLearner("other-arch", build_wide, pretrain_other_architecture, budget={"epochs": 1}))
        register(Restorer("uint8", restore_uint8, ("sr",)))
        register(Restorer("many-steps", restore_too_many_steps, ("sr",), budget={"iterations": 100}))


@pytest.fixture(scope="module")
def report():
    reg = registry.load(extra_plugins=[("bad", Bad())])
    return check(reg, ["bad"])


def rules(report, method):
    return [(f.rule, f.detail) for f in report.failures if f.method == method]


def test_running_past_the_budget_is_reported(report):
    ((rule, detail),) = rules(report, "too-long")
    assert rule == "budget" and "train() ran 3 epochs" in detail and "budget of 1 epochs" in detail


def test_results_that_differ_under_a_fixed_seed_are_reported(report):
    ((rule, detail),) = rules(report, "unseeded")
    assert rule == "reproducible" and "classify: seed 0 gave" in detail


def test_returning_the_wrong_type_is_reported(report):
    found = rules(report, "no-model")
    assert ("returns", "train() returned str, expected a torch.nn.Module") in found
    assert any(rule == "tiny run" and "expected a torch.nn.Module" in detail for rule, detail in found)
    found = rules(report, "other-arch")
    assert any(rule == "returns" and "architecture cannot load" in detail for rule, detail in found), found
    found = rules(report, "uint8")
    assert ("returns", "restore() returned torch.uint8, expected a float tensor (C, H, W)") in found


def test_a_check_param_its_declaration_refuses_is_a_registration_failure(report):
    expected = ("registration", "check_params 'width': expected an integer >= 1, got int 0")
    assert rules(report, "bad-check-param") == [expected]


def test_a_restorer_making_more_steps_than_its_budget_is_reported(report):
    found = rules(report, "many-steps")
    assert found and all(
        rule == "budget" and "made 10 ctx.step calls" in detail and "at most 3" in detail for rule, detail in found
    ), found


def test_params_and_budget_reach_the_context_with_a_changed_value():
    seen = []

    def train(data, ctx):
        seen.append((dict(ctx.params), dict(ctx.budget)))
        return linear(data, ctx)

    class Plugin:
        @hookimpl
        def bench_register_methods(self, register):
            register(
                Classifier(
                    "watched",
                    train,
                    budget={"epochs": 3},
                    params={"mode": Param("a", choices=("a", "b")), "width": Param(4, ge=1), "on": True},
                )
            )

    reg = registry.load(extra_plugins=[("watched", Plugin())])
    report = check(reg, ["watched"])
    assert report.ok, report.failures
    # The check values: twice, then once under the label budget.
    assert seen == [({"mode": "a", "width": 4, "on": True}, {"epochs": 1})] * 3

    # The first run changes every param to another allowed value; the method sees them all.
    method = reg.methods["watched"]
    changed = bench_check._changed(method, {})
    assert changed == {"mode": "b", "width": 5, "on": False}
    stopped = bench_check._run(reg, method, bench_check._runs(method), changed, {"epochs": 1}, "cpu", stop=True)
    assert [(c.name, c.params, c.budget) for c in stopped.calls] == [("train", changed, {"epochs": 1})]
    assert not stopped.errors and len(seen) == 3, "the stopped run never reaches the method itself"


def test_the_command_exits_1_on_a_broken_rule_and_2_on_an_unknown_name(monkeypatch, tmp_path, capsys):
    from fakedist import install_distribution

    source = (
        "import torch\nfrom bench import Classifier, hookimpl\n"
        "def train(data, ctx):\n    return 'no model'\n"
        "@hookimpl\ndef bench_register_methods(register):\n"
        "    register(Classifier('lazy', train, budget={'epochs': 1}))\n"
    )
    install_distribution(monkeypatch, tmp_path, "bench-lazy", "1.0", {"bench_lazy": source}, {"lazy": "bench_lazy"})
    assert cli.main(["check", "lazy"]) == 1
    captured = capsys.readouterr()
    assert "FAILED lazy: returns: train() returned str, expected a torch.nn.Module" in captured.err
    assert "1 methods checked" in captured.out
    assert cli.main(["check", "nope"]) == 2
    assert "no plugin, distribution, method or dataset named 'nope'" in capsys.readouterr().err


def test_a_plugin_that_does_not_load_fails_its_check(monkeypatch, tmp_path, capsys):
    from fakedist import install_distribution

    install_distribution(
        monkeypatch,
        tmp_path,
        "bench-broken",
        "1.0",
        {"bench_broken": "raise ImportError('needs libfoo')\n"},
        {"broken": "bench_broken"},
    )
    assert cli.main(["check", "broken"]) == 1
    assert "FAILED broken: registration: the plugin did not load: ImportError: needs libfoo" in capsys.readouterr().err


def test_an_old_style_spec_passes_bench_check_with_its_deprecation_warning(monkeypatch, tmp_path, capsys):
    from fakedist import install_distribution

    source = (
        "import torch\nfrom bench import MethodSpec, hookimpl\n"
        "def restore(problem, ctx):\n"
        "    return torch.nn.functional.interpolate(problem.observed[None], scale_factor=problem.scale)[0]\n"
        "@hookimpl\ndef bench_register_methods(register):\n"
        "    register(MethodSpec(name='old-sr', kind='restorer', fit=restore, tasks=('restoration',),"
        " restorations=('sr',)))\n"
    )
    install_distribution(monkeypatch, tmp_path, "bench-old", "0.1", {"bench_old": source}, {"old": "bench_old"})
    with pytest.warns(DeprecationWarning, match=r"register bench.Restorer\(name, restore=fit"):
        assert cli.main(["check", "old"]) == 0
    assert "1 methods checked, 0 rules broken" in capsys.readouterr().out


def test_a_classifier_handed_labels_outside_its_budget_is_reported(monkeypatch):
    from bench.protocols import classify

    def leaky_splits(full_train, options):  # a host regression: every label handed over
        return full_train, None, full_train.images, None

    monkeypatch.setattr(classify, "_splits", leaky_splits)
    reg = registry.load(extra_plugins=[("good", Good())])
    found = [(f.rule, f.detail) for f in check(reg, ["good-linear"]).failures]
    assert found == [("label budget", "train() could reach 96 labels under labels: 8 x 4 classes (32)")]


class Good:
    @hookimpl
    def bench_register_methods(self, register):
        register(Classifier("good-linear", linear, budget={"epochs": 1}))
