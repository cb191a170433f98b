import json
from pathlib import Path

import pytest

from bench import cli, registry
from fakedist import install_distribution

TOY_SOURCE = (Path(__file__).parent / "toy.py").read_text()


def test_builtins_are_found_through_the_entry_point_group():
    reg = registry.load()
    assert "small-cnn" in reg.methods and "mlp" in reg.methods
    info = reg.plugin_of("method", "small-cnn")
    assert (info.name, info.distribution) == ("supervised", "bench")


def test_third_party_plugin_is_discovered_listed_and_runs_a_suite(monkeypatch, tmp_path, capsys):
    install_distribution(monkeypatch, tmp_path, "bench-toy", "0.3.1",
                         {"bench_toy": TOY_SOURCE}, {"toy": "bench_toy"})
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
    record = json.loads(record_path.read_text())
    assert record["status"] == "ok"
    assert record["plugins"]["method"] == {"plugin": "toy", "distribution": "bench-toy", "version": "0.3.1"}
    assert record["metrics"]["test_accuracy"] > 90


def test_a_plugin_that_fails_to_import_is_reported_and_the_others_still_load(monkeypatch, tmp_path, capsys):
    install_distribution(monkeypatch, tmp_path, "bench-broken", "1.0",
                         {"bench_broken": "raise ImportError('needs libfoo')\n"}, {"broken": "bench_broken"})
    reg = registry.load()
    assert [(b.name, b.distribution) for b in reg.broken] == [("broken", "bench-broken")]
    assert "needs libfoo" in reg.broken[0].error
    assert "small-cnn" in reg.methods
    assert cli.main(["plugins"]) == 1
    err = capsys.readouterr().err
    assert "'broken'" in err and "needs libfoo" in err


def test_a_plugin_whose_hook_raises_is_reported(monkeypatch, tmp_path):
    source = ("from bench import hookimpl\n@hookimpl\ndef bench_register_methods(register):\n"
              "    raise ValueError('bad registration')\n")
    install_distribution(monkeypatch, tmp_path, "bench-bad", "1.0", {"bench_bad": source}, {"bad": "bench_bad"})
    reg = registry.load()
    assert [b.name for b in reg.broken] == ["bad"] and "bad registration" in reg.broken[0].error
    assert "small-cnn" in reg.methods


def test_two_plugins_claiming_one_name_conflict_and_every_other_plugin_stays_usable(monkeypatch, tmp_path, capsys):
    install_distribution(monkeypatch, tmp_path, "bench-toy", "1.0", {"bench_toy": TOY_SOURCE}, {"toy": "bench_toy"})
    install_distribution(monkeypatch, tmp_path, "bench-toy-copy", "2.0", {"bench_toy_copy": TOY_SOURCE},
                         {"toy-copy": "bench_toy_copy"})
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
    install_distribution(monkeypatch, tmp_path, "bench-wrap", "1.0", {"bench_wrap": HOOK_WRAPPER},
                         {"wrap": "bench_wrap"})
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


def test_what_the_host_read_from_a_spec_is_shown_per_plugin_and_as_json(capsys):
    assert cli.main(["plugins", "dip"]) == 0
    page = capsys.readouterr().out
    assert "kind: restorer" in page and "restores: denoise, sr, inpaint" in page
    assert "sr_iterations=2000" in page and "one of denoise, always, never" in page
    assert cli.main(["plugins", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)["plugins"]}
    assert rows["dip"]["kind"] == "method" and rows["dip"]["type"] == "restorer"
    assert rows["dip"]["params"]["average"]["choices"] == ["denoise", "always", "never"]
    assert rows["dip"]["budget"]["sr_iterations"] == 2000 and rows["dip"]["restorations"] == ["denoise", "sr", "inpaint"]
    assert "block" in rows["ddae"]["feature_params"] and rows["mnist"]["num_classes"] == 10
    assert cli.main(["plugins", "nope"]) == 2
    assert "no plugin, method, dataset or executor named 'nope'" in capsys.readouterr().err


def test_protocols_and_their_options_are_listed(capsys):
    assert cli.main(["protocols"]) == 0
    text = capsys.readouterr().out
    assert "protocol restore" in text and "one of none, clip" in text and "protocol linear-probe" in text
    assert cli.main(["protocols", "knn", "--json"]) == 0
    (knn,) = json.loads(capsys.readouterr().out)["protocols"]
    assert knn["options"]["weights"]["choices"] == ["pretrained", "random"] and knn["method_kinds"] == ["representation"]
    assert cli.main(["protocols", "nope"]) == 2
