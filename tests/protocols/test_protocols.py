"""bench.protocols (the package's own code): every registered recipe and probe checked against its
protocol's options, and a plugin's mistakes named with the method and the setting."""

from dataclasses import replace

import pytest

from bench import RepresentationLearner, Setting, registry
from bench.protocols import check_setting


@pytest.fixture(scope="module")
def methods():
    return registry.load().methods


def test_every_registered_setting_sets_options_its_protocol_declares_with_allowed_values(methods):
    """What the host's tables were checked for: now every method's registered recipes and probes."""
    found = {}
    for method in methods.values():
        for protocol, option, field in (("finetune", "recipe", "recipes"), ("linear-probe", "probe", "probes")):
            for name in getattr(method, field, {}):
                found[method.name, name] = check_setting(protocol, method, {option: name})
    assert {("mae", "mae-official"), ("mae", "mae-cifar-reimpl"), ("onepfrac", "onepfrac-official")} <= set(found)
    assert {("mae", "ddae-official"), ("ddae", "ddae-official"), ("ddae", "mae-official")} <= set(found)
    assert not any(found.values()), found
    # and a plugin's mistakes are named, with the method and the setting
    bad = RepresentationLearner(
        "bad",
        lambda image_shape, ctx: None,  # build and pretrain: never called here
        lambda data, ctx: None,
        recipes={"fast": Setting({"epochs": 0, "nope": 1, "recipe": "x"}), "bench": Setting()},
    )
    assert check_setting("finetune", bad, {"recipe": "fast"}) == [
        "method 'bad' registers recipe 'bench', the host's own: rename it"
    ]
    bad = replace(bad, recipes={"fast": Setting({"epochs": 0, "nope": 1, "recipe": "x"})})
    problems = check_setting("finetune", bad, {"recipe": "fast"})
    assert problems[0].startswith("method 'bad', recipe 'fast' sets epochs: ") and len(problems) == 3
    assert "sets 'nope', which is not an option of protocol 'finetune'" in problems[1]
    assert check_setting("finetune", bad, {"recipe": "bench"}) == [] and check_setting("knn", bad, {}) == []
    with pytest.raises(ValueError, match="field 'recipes': 'fast' must be a bench.Setting"):
        replace(bad, recipes={"fast": {"epochs": 1}})
    with pytest.raises(ValueError, match="recipe name 'Fast one' is not valid"):
        replace(bad, recipes={"Fast one": Setting()})
    with pytest.raises(ValueError, match="missing must be a tuple of lines"):
        Setting({}, missing="one line")
