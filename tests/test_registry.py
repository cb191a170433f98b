"""bench.registry: plugins found through the entry-point group, listed, checked and kept apart
(a broken or conflicting plugin is reported and the others still load); `bench plugins` and
`bench protocols`."""

import json
from pathlib import Path

import pytest

from bench import cli, registry
from bench import hookimpl as bench_hookimpl
from bench.records import iter_records, read_record
from fakedist import install_distribution

TOY_SOURCE = (Path(__file__).parent / "toy.py").read_text()


def test_builtins_are_found_through_the_entry_point_group():
    reg = registry.load()
    assert "small-cnn" in reg.methods and "mlp" in reg.methods
    info = reg.plugin_of("method", "small-cnn")
    assert (info.name, info.distribution) == ("supervised", "bench")


def test_third_party_plugin_is_discovered_listed_and_runs_a_suite(monkeypatch, tmp_path, capsys):
    install_distribution(monkeypatch, tmp_path, "bench-toy", "0.3.1", {"bench_toy": TOY_SOURCE}, {"toy": "bench_toy"})
    reg = registry.load()
    info = reg.plugin_of("method", "toy-linear")
    assert (info.name, info.distribution, info.version) == ("toy", "bench-toy", "0.3.1")

    assert cli.main(["plugins", "--json"]) == 0
    listed = {p["name"]: p for p in json.loads(capsys.readouterr().out)["plugins"]}
    assert listed["toy-linear"]["distribution"] == "bench-toy"
    assert listed["toy"]["kind"] == "dataset" and listed["toy-linear"]["type"] == "classifier"

    suite = tmp_path / "toy.yaml"
    suite.write_text("seeds: [0]\nruns:\n  - {datasets: toy, methods: toy-linear, protocol: classify}\n")
    results = tmp_path / "results"
    assert cli.main(["run", str(suite), "--results-dir", str(results), "--quiet"]) == 0
    (record_path,) = results.rglob("*.json")
    record = read_record(record_path)
    assert record.status == "ok"
    assert record.plugins["method"] == {"plugin": "toy", "distribution": "bench-toy", "version": "0.3.1"}
    assert record.metrics["test_accuracy"] > 90


def test_a_plugin_that_fails_to_import_is_reported_and_the_others_still_load(monkeypatch, tmp_path, capsys):
    install_distribution(
        monkeypatch,
        tmp_path,
        "bench-broken",
        "1.0",
        {"bench_broken": "raise ImportError('needs libfoo')\n"},
        {"broken": "bench_broken"},
    )
    reg = registry.load()
    assert [(b.name, b.distribution) for b in reg.broken] == [("broken", "bench-broken")]
    assert "needs libfoo" in reg.broken[0].error
    assert "small-cnn" in reg.methods
    assert cli.main(["plugins"]) == 1
    err = capsys.readouterr().err
    assert "'broken'" in err and "needs libfoo" in err


def test_a_plugin_whose_hook_raises_is_reported(monkeypatch, tmp_path):
    source = (
        "from bench import hookimpl\n@hookimpl\ndef bench_register_methods(register):\n"
        "    raise ValueError('bad registration')\n"
    )
    install_distribution(monkeypatch, tmp_path, "bench-bad", "1.0", {"bench_bad": source}, {"bad": "bench_bad"})
    reg = registry.load()
    assert [b.name for b in reg.broken] == ["bad"] and "bad registration" in reg.broken[0].error
    assert "small-cnn" in reg.methods


def test_two_plugins_claiming_one_name_conflict_and_every_other_plugin_stays_usable(monkeypatch, tmp_path, capsys):
    install_distribution(monkeypatch, tmp_path, "bench-toy", "1.0", {"bench_toy": TOY_SOURCE}, {"toy": "bench_toy"})
    install_distribution(
        monkeypatch, tmp_path, "bench-toy-copy", "2.0", {"bench_toy_copy": TOY_SOURCE}, {"toy-copy": "bench_toy_copy"}
    )
    reg = registry.load()
    assert "small-cnn" in reg.methods and "mnist" in reg.datasets, "the built-ins stay usable"
    assert "toy-linear" not in reg.methods, "neither plugin's copy of the name is silently preferred"
    conflicting = {(b.name, b.distribution) for b in reg.broken}
    assert conflicting == {("toy", "bench-toy"), ("toy-copy", "bench-toy-copy")}
    with pytest.raises(registry.PluginError) as err:
        reg.method("toy-linear")
    message = str(err.value)
    assert "'toy'" in message and "'toy-copy'" in message and "uninstall one of bench-toy, bench-toy-copy" in message
    assert cli.main(["plugins"]) == 1
    out = capsys.readouterr()
    assert "small-cnn" in out.out and "conflict" in out.err


HOOK_WRAPPER = """
from bench import hookimpl
seen = []

@hookimpl(wrapper=True)
def bench_register_methods(register):
    seen.append("before")
    result = yield
    seen.append("after")
    return result
"""


def test_hooks_are_called_through_pluggy_so_tracing_and_wrappers_work(monkeypatch, tmp_path, capsys):
    install_distribution(
        monkeypatch, tmp_path, "bench-wrap", "1.0", {"bench_wrap": HOOK_WRAPPER}, {"wrap": "bench_wrap"}
    )
    monkeypatch.setenv("BENCH_TRACE_HOOKS", "1")
    reg = registry.load()
    assert "small-cnn" in reg.methods and not reg.broken
    import bench_wrap

    assert bench_wrap.seen[:2] == ["before", "after"] and len(bench_wrap.seen) >= 4, "wraps each plugin's call"
    err = capsys.readouterr().err
    assert "bench_register_methods" in err, "BENCH_TRACE_HOOKS prints the hook calls"


def test_unknown_names_list_the_known_ones():
    reg = registry.load()
    with pytest.raises(registry.PluginError, match=r"unknown method 'nope'; known methods: .*small-cnn"):
        reg.method("nope")


def test_bench_plugins_variable_restricts_loading(monkeypatch):
    monkeypatch.setenv("BENCH_PLUGINS", "supervised")
    reg = registry.load()
    assert set(reg.methods) >= {"small-cnn"} and not reg.datasets


# -- one contract per kind, and the deprecated MethodSpec -------------------------------------

LEGACY_SOURCE = '''
"""A plugin written against bench 0.1's MethodSpec: it must keep working for this release."""
import torch
from bench import MethodSpec, hookimpl


def fit_classifier(data, ctx):
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, data.num_classes))
    for _ in ctx.epochs(ctx.budget.epochs):
        for x, y in ctx.batches(data.train, 16):
            optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
            ctx.optimize(torch.nn.functional.cross_entropy(model(x), y), optimizer, n=len(y))
    return model


def build_pixels(image_shape, ctx):
    return torch.nn.Flatten()


def fit_pixels(data, ctx):
    return build_pixels(data.image_shape, ctx)


def restore_as_is(problem, ctx):
    for i in ctx.iterations(ctx.budget.iterations):
        ctx.step()
        ctx.log(i, value=1.0)  # the old form: the iteration given by the method
    return problem.observed.clamp(0, 1)


@hookimpl
def bench_register_methods(register):
    register(MethodSpec(name="old-classifier", kind="classifier", fit=fit_classifier, budget={"epochs": 2}))
    register(MethodSpec(name="old-pixels", kind="representation", fit=fit_pixels, build=build_pixels,
                        budget={"epochs": 1}))
    register(MethodSpec(name="old-restorer", kind="restorer", fit=restore_as_is, tasks=("restoration",),
                        restorations=("denoise",), budget={"iterations": 3}))
'''


def test_a_plugin_written_against_methodspec_still_works_with_one_warning_per_spec(monkeypatch, tmp_path):
    import warnings

    import bench

    restoration_toy = (Path(__file__).parent / "restoration_toy.py").read_text()
    install_distribution(
        monkeypatch,
        tmp_path,
        "bench-legacy",
        "0.1",
        {"bench_legacy": LEGACY_SOURCE, "bench_toy": TOY_SOURCE, "bench_rtoy": restoration_toy},
        {"legacy": "bench_legacy", "toy": "bench_toy", "rtoy": "bench_rtoy"},
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reg = registry.load()
    deprecations = [str(w.message) for w in caught if issubclass(w.category, DeprecationWarning)]
    assert len(deprecations) == 3, deprecations
    assert any("'old-classifier'" in m and "bench.Classifier(name, train=fit" in m for m in deprecations)
    assert any(
        "'old-pixels'" in m and "bench.RepresentationLearner(name, build=build, pretrain=fit" in m for m in deprecations
    )
    assert any("'old-restorer'" in m and "bench.Restorer(name, restore=fit, restorations=" in m for m in deprecations)
    assert not reg.broken
    assert isinstance(reg.methods["old-classifier"], bench.Classifier)
    assert isinstance(reg.methods["old-pixels"], bench.RepresentationLearner)
    restorer = reg.methods["old-restorer"]
    assert isinstance(restorer, bench.Restorer) and restorer.tasks == ("restoration",)

    suite = tmp_path / "legacy.yaml"
    suite.write_text(
        "seeds: [0]\nruns:\n  - {datasets: toy, methods: old-classifier, protocol: classify}\n"
        "  - {datasets: toy, methods: old-pixels, protocol: knn}\n"
        "  - {datasets: tiny-restore, methods: old-restorer, protocol: {name: restore, task: denoise}}\n"
    )
    results = tmp_path / "results"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        assert cli.main(["run", str(suite), "--results-dir", str(results), "--quiet"]) == 0
    records = [record for _, record in iter_records(results)]
    assert sorted(r.spec["method"] for r in records) == ["old-classifier", "old-pixels", "old-restorer"]
    assert all(r.status == "ok" for r in records)
    (restored,) = [r for r in records if r.spec["method"] == "old-restorer"]
    assert restored.details["curves"]["gray"] == [{"iteration": i, "value": 1.0} for i in range(3)]


def test_a_restorer_is_never_shown_as_a_classifier_and_a_missing_field_is_named():
    import bench

    def restore(problem, ctx):
        return problem.observed

    assert bench.Restorer("r", restore, ("sr",)).tasks == ("restoration",)
    with pytest.raises(ValueError, match=r"Restorer 'r': field 'restorations' must list what it restores"):
        bench.Restorer("r", restore)
    with pytest.raises(ValueError, match=r"Restorer 'r': field 'restorations'.*'deblur'"):
        bench.Restorer("r", restore, ("deblur",))
    with pytest.raises(ValueError, match=r"Restorer 'r': field 'restorations' must be a tuple"):
        bench.Restorer("r", restore, "sr")
    with pytest.raises(ValueError, match=r"Classifier 'c': field 'train' must be a function \(data: bench.TrainData"):
        bench.Classifier("c", None)
    with pytest.raises(ValueError, match=r"RepresentationLearner 'e': field 'pretrain' must be a function"):
        bench.RepresentationLearner("e", lambda shape, ctx: None, "not callable")
    with pytest.raises(ValueError, match=r"field 'check_params' names \['nope'\]"):
        bench.Classifier("c", restore, params={"lr": 0.1}, check_params={"nope": 1})
    with pytest.raises(ValueError, match=r"field 'budget': 'epochs' must be a positive number"):
        bench.Classifier("c", restore, budget={"epochs": 0})
    with pytest.raises(TypeError, match="not bench.Method"):
        bench.Method("m")
    # The old spec that registered as "restorer / classification" now names the field to fix.
    with pytest.raises(ValueError, match=r"field 'restorations'"):
        bench.MethodSpec(name="r", kind="restorer", fit=restore)


def test_registering_something_else_names_the_contracts():
    class Plugin:
        @bench_hookimpl
        def bench_register_methods(register):
            register({"name": "x"})

    reg = registry.load(extra_plugins=[("odd", Plugin)])
    (broken,) = [b for b in reg.broken if b.name == "odd"]
    assert "expected bench.Classifier or bench.RepresentationLearner or bench.Restorer" in broken.error


def test_a_plain_default_its_own_type_refuses_breaks_the_plugin_not_the_suites(tmp_path):
    # NaN as a plain default used to register, then crash every suite naming the method.
    import bench

    class Plugin:
        @bench_hookimpl
        def bench_register_methods(register):
            register(bench.Classifier("nan-default", lambda data, ctx: None, params={"lr": float("nan")}))

    reg = registry.load(extra_plugins=[("nan-plugin", Plugin)])
    (broken,) = [b for b in reg.broken if b.name == "nan-plugin"]
    assert "method 'nan-default': field 'params': 'lr': the default nan" in broken.error
    assert "nan-default" not in reg.methods
