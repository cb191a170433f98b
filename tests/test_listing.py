"""bench.listing: `bench plugins [NAME]` and `bench protocols [NAME]`, as text and --json."""

import json

from bench import cli


def test_what_the_host_read_from_a_spec_is_shown_per_plugin_and_as_json(capsys):
    assert cli.main(["plugins", "dip"]) == 0
    page = capsys.readouterr().out
    assert "kind: restorer" in page and "restores: denoise, sr, inpaint" in page
    assert "sr_iterations=2000" in page and "one of denoise, always, never" in page
    assert cli.main(["plugins", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)["plugins"]}
    assert rows["dip"]["kind"] == "method" and rows["dip"]["type"] == "restorer"
    assert rows["dip"]["params"]["average"]["choices"] == ["denoise", "always", "never"]
    assert rows["dip"]["budget"]["sr_iterations"] == 2000 and rows["dip"]["restorations"] == [
        "denoise",
        "sr",
        "inpaint",
    ]
    assert "block" in rows["ddae"]["feature_params"] and rows["mnist"]["num_classes"] == 10
    assert cli.main(["plugins", "nope"]) == 2
    assert "no plugin, method, dataset or executor named 'nope'" in capsys.readouterr().err


def test_protocols_and_their_options_are_listed(capsys):
    assert cli.main(["protocols"]) == 0
    text = capsys.readouterr().out
    assert "protocol restore" in text and "one of none, clip" in text and "protocol linear-probe" in text
    assert cli.main(["protocols", "knn", "--json"]) == 0
    (knn,) = json.loads(capsys.readouterr().out)["protocols"]
    assert knn["options"]["weights"]["choices"] == ["pretrained", "random"] and knn["method_kinds"] == [
        "representation"
    ]
    assert cli.main(["protocols", "nope"]) == 2


def test_bench_plugins_shows_a_restorer_as_a_restorer(capsys):
    assert cli.main(["plugins", "zssr"]) == 0
    page = capsys.readouterr().out
    assert "kind: restorer (bench.Restorer); tasks: restoration; restores: sr" in page
    assert "bench check runs it at: width=8, depth=3" in page


def test_bench_plugins_lists_a_methods_recipes_and_probes(capsys):
    from bench import cli

    assert cli.main(["plugins", "mae"]) == 0
    page = capsys.readouterr().out
    assert "recipes (protocol finetune, recipe: NAME" in page and "probes (protocol linear-probe" in page
    assert "  mae-official: facebookresearch/mae main_finetune.py" in page and "layer_decay=0.65" in page
    assert "    lacks: the official run reports the best epoch's test accuracy; ours is the last epoch's" in page
    assert cli.main(["plugins", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)["plugins"]}
    assert set(rows["mae"]["recipes"]) == {"mae-official", "mae-cifar-reimpl"}
    assert rows["onepfrac"]["recipes"]["onepfrac-official"]["options"]["input_size"] == 224
    assert set(rows["ddae"]["probes"]) == {"ddae-official", "mae-official"} and rows["ddae"]["recipes"] == {}
