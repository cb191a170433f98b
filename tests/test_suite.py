import textwrap

import pytest

import toy
from bench import cli, registry
from bench.suite import SuiteError, load_suite


@pytest.fixture
def reg():
    return registry.load(extra_plugins=[("toy", toy)])


def write(tmp_path, text, name="s.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def problems(path, reg, **kw):
    with pytest.raises(SuiteError) as err:
        load_suite(path, reg, **kw)
    return err.value.problems


def test_a_valid_suite_expands_datasets_methods_and_seeds(tmp_path, reg):
    path = write(tmp_path, """
        name: demo
        seeds: 2
        budget_scale: 0.5
        runs:
          - datasets: [toy]
            methods: [toy-linear, {name: toy-flaky, params: {lr: 0.1}, budget: {epochs: 10}}]
            protocol: {name: classify, holdout: 0.2}
    """)
    suite = load_suite(path, reg)
    assert suite.name == "demo" and len(suite.runs) == 4
    flaky = [s for s in suite.runs if s.method == "toy-flaky"][0]
    assert flaky.params == {"lr": 0.1, "sleep": 0.0, "slowdown": 0.0}
    assert flaky.budget == {"epochs": 5}  # 10 x 0.5
    assert flaky.protocol_options["holdout"] == 0.2
    assert load_suite(path, reg, budget_scale=0.01).runs[0].budget == {"epochs": 1}


def test_keys_do_not_depend_on_order_in_the_suite(tmp_path, reg):
    a = write(tmp_path, """
        seeds: [0, 1]
        runs: [{datasets: toy, methods: [toy-linear, toy-flaky], protocol: classify}]
    """, "a.yaml")
    b = write(tmp_path, """
        seeds: [1, 0]
        runs:
          - {datasets: toy, methods: [toy-flaky], protocol: classify}
          - {datasets: toy, methods: [toy-linear], protocol: classify}
    """, "b.yaml")
    keys_a = {s.key for s in load_suite(a, reg).runs}
    keys_b = {s.key for s in load_suite(b, reg).runs}
    assert keys_a == {s.key for s in load_suite(a, reg).runs}
    # The suite name is part of the identity (a.yaml vs b.yaml): compare without it.
    strip = lambda s: {k: v for k, v in s.identity().items() if k != "suite"}  # noqa: E731
    assert sorted(map(str, map(strip, load_suite(a, reg).runs))) == sorted(map(str, map(strip, load_suite(b, reg).runs)))
    assert len(keys_a) == len(keys_b) == 4


def test_every_problem_is_reported_with_file_key_and_expectation(tmp_path, reg):
    path = write(tmp_path, """
        seeds: [0, -1]
        colour: blue
        runs:
          - datasets: [toy, imagenet]
            methods:
              - nope
              - {name: toy-linear, params: {lr: fast, depth: 3}, budget: {epochs: 0, steps: 5}}
            protocol: {name: classify, holdout: "half"}
    """)
    found = "\n".join(problems(path, reg))
    assert f"{path}: seeds: expected a list of integers" in found
    assert f"{path}: colour: unknown key; expected one of: name, description, seeds" in found
    assert "runs[0].datasets[1]: unknown dataset 'imagenet'; known datasets:" in found and "toy" in found
    assert "runs[0].methods[0].name: unknown method 'nope'; known methods:" in found and "toy-linear" in found
    assert "runs[0].methods[1].params.lr: expected a number, got str 'fast'" in found
    assert "runs[0].methods[1].params.depth: unknown parameter of method 'toy-linear'; expected one of: lr, sleep" in found
    assert "runs[0].methods[1].budget.epochs: expected an integer > 0 and <= 1000000000, got int 0" in found
    assert "runs[0].methods[1].budget.steps: method 'toy-linear' has no budget 'steps'; expected one of: epochs" in found
    assert "runs[0].protocol.holdout: expected a number >= 0 and < 1, got str 'half'" in found


def test_impossible_combinations_are_rejected(tmp_path, reg):
    path = write(tmp_path, "runs: [{datasets: toy, methods: toy-restorer, protocol: classify}]\n")
    (problem,) = problems(path, reg)
    assert problem.startswith(f"{path}: runs[0]: impossible combination: method 'toy-restorer' is a restorer")


@pytest.mark.parametrize("text, expected", [
    ("runs: [\n", "not valid YAML"),
    ("- just a list\n", "expected a mapping with keys"),
    ("seeds: [0]\n", "runs: expected a list of run groups, got nothing"),
    ("runs: [{datasets: toy, methods: toy-linear}]\n", "runs[0].protocol: missing; expected a protocol name"),
    ("runs: [{datasets: toy, methods: toy-linear, protocol: no-such-protocol}]\n", "unknown protocol 'no-such-protocol'; known protocols: classify, finetune, knn"),
    ("runs: [{datasets: toy, methods: toy-linear, protocol: knn}]\n", "method 'toy-linear' is a classifier, but protocol 'knn' evaluates representation methods"),
])
def test_malformed_files(tmp_path, reg, text, expected):
    path = write(tmp_path, text)
    assert any(expected in p for p in problems(path, reg)), problems(path, reg)


def test_cli_reports_an_invalid_suite_with_exit_code_2(tmp_path, capsys):
    path = write(tmp_path, "runs: [{datasets: mnist, methods: no-such-method, protocol: classify}]\n")
    assert cli.main(["run", str(path), "--results-dir", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "unknown method 'no-such-method'; known methods:" in err and "small-cnn" in err
    assert not (tmp_path / "r").exists()


def test_shipped_suites_are_valid():
    reg = registry.load()
    from pathlib import Path

    suites = sorted((Path(__file__).parents[1] / "suites").glob("*.yaml"))
    assert {p.stem for p in suites} >= {"quick", "mnist", "cifar10", "cifar100", "svhn"}
    for path in suites:
        assert load_suite(path, reg).runs, path
