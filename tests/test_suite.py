import textwrap
import time

import pytest

import restoration_toy
import toy
from bench import cli, registry
from bench.data.store import DataStore
from bench.progress import Progress
from bench.records import ResultStore
from bench.runner import run_specs
from bench.suite import SuiteError, load_suite


def write(tmp_path, text, name="s.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def problems(path, reg, **kw):
    with pytest.raises(SuiteError) as err:
        load_suite(path, reg, **kw)
    return err.value.problems


def test_a_valid_suite_expands_datasets_methods_and_seeds(tmp_path, reg):
    path = write(
        tmp_path,
        """
        name: demo
        seeds: 2
        budget_scale: 0.5
        runs:
          - datasets: [toy]
            methods: [toy-linear, {name: toy-flaky, params: {lr: 0.1}, budget: {epochs: 10}}]
            protocol: {name: classify, holdout: 0.2}
    """,
    )
    suite = load_suite(path, reg)
    assert suite.name == "demo" and len(suite.runs) == 4
    flaky = [s for s in suite.runs if s.method == "toy-flaky"][0]
    assert flaky.params == {"lr": 0.1, "sleep": 0.0, "slowdown": 0.0}
    assert flaky.budget == {"epochs": 5}  # 10 x 0.5
    assert flaky.protocol_options["holdout"] == 0.2
    assert load_suite(path, reg, budget_scale=0.01).runs[0].budget == {"epochs": 1}


def test_keys_do_not_depend_on_order_in_the_suite(tmp_path, reg):
    a = write(
        tmp_path,
        """
        seeds: [0, 1]
        runs: [{datasets: toy, methods: [toy-linear, toy-flaky], protocol: classify}]
    """,
        "a.yaml",
    )
    b = write(
        tmp_path,
        """
        seeds: [1, 0]
        runs:
          - {datasets: toy, methods: [toy-flaky], protocol: classify}
          - {datasets: toy, methods: [toy-linear], protocol: classify}
    """,
        "b.yaml",
    )
    keys_a = {s.key for s in load_suite(a, reg).runs}
    keys_b = {s.key for s in load_suite(b, reg).runs}
    assert keys_a == {s.key for s in load_suite(a, reg).runs}
    # The suite name is part of the identity (a.yaml vs b.yaml): compare without it.
    strip = lambda s: {k: v for k, v in s.identity().items() if k != "suite"}  # noqa: E731
    assert sorted(map(str, map(strip, load_suite(a, reg).runs))) == sorted(
        map(str, map(strip, load_suite(b, reg).runs))
    )
    assert len(keys_a) == len(keys_b) == 4


def test_every_problem_is_reported_with_file_key_and_expectation(tmp_path, reg):
    path = write(
        tmp_path,
        """
        seeds: [0, -1]
        colour: blue
        runs:
          - datasets: [toy, imagenet]
            methods:
              - nope
              - {name: toy-linear, params: {lr: fast, depth: 3}, budget: {epochs: 0, steps: 5}}
            protocol: {name: classify, holdout: "half"}
    """,
    )
    found = "\n".join(problems(path, reg))
    assert f"{path}: seeds: expected a list of integers" in found
    assert f"{path}: colour: unknown key; expected one of: name, description, seeds" in found
    assert "runs[0].datasets[1]: unknown dataset 'imagenet'; known datasets:" in found and "toy" in found
    assert "runs[0].methods[0].name: unknown method 'nope'; known methods:" in found and "toy-linear" in found
    assert "runs[0].methods[1].params.lr: expected a number, got str 'fast'" in found
    assert (
        "runs[0].methods[1].params.depth: unknown parameter of method 'toy-linear'; expected one of: lr, sleep" in found
    )
    assert "runs[0].methods[1].budget.epochs: expected an integer > 0 and <= 1000000000, got int 0" in found
    assert (
        "runs[0].methods[1].budget.steps: method 'toy-linear' has no budget 'steps'; expected one of: epochs" in found
    )
    assert "runs[0].protocol.holdout: expected a number >= 0 and < 1, got str 'half'" in found


def test_impossible_combinations_are_rejected(tmp_path, reg):
    path = write(tmp_path, "runs: [{datasets: toy, methods: toy-restorer, protocol: classify}]\n")
    (problem,) = problems(path, reg)
    assert problem.startswith(f"{path}: runs[0]: impossible combination: method 'toy-restorer' is a restorer")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("runs: [\n", "not valid YAML"),
        ("- just a list\n", "expected a mapping with keys"),
        ("seeds: [0]\n", "runs: expected a list of run groups, got nothing"),
        ("runs: [{datasets: toy, methods: toy-linear}]\n", "runs[0].protocol: missing; expected a protocol name"),
        (
            "runs: [{datasets: toy, methods: toy-linear, protocol: no-such-protocol}]\n",
            "unknown protocol 'no-such-protocol'; known protocols: classify, finetune, knn",
        ),
        (
            "runs: [{datasets: toy, methods: toy-linear, protocol: knn}]\n",
            "method 'toy-linear' is a classifier, but protocol 'knn' evaluates representation methods",
        ),
    ],
)
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


def test_the_dip_set5_suite_is_one_run_per_image_and_labels_name_the_image():
    from pathlib import Path

    suite = load_suite(Path(__file__).parents[1] / "suites" / "dip-sr-set5.yaml", registry.load())
    dip = [s for s in suite.runs if s.method == "dip"]
    assert sorted(s.protocol_options["images"][0] for s in dip) == ["baby", "bird", "butterfly", "head", "woman"]
    assert all(s.budget["sr_iterations"] == 2000 for s in dip)  # the paper's budget, not a preset
    assert len({s.key for s in dip}) == 5 and "set5 [baby] / dip / restore / seed 0" in {s.label for s in dip}
    assert next(s for s in suite.runs if s.method == "bicubic").label == "set5 / bicubic / restore / seed 0"


# -- validation with no way around it (issue 16 section 2) ---------------------------------------

BASE = "runs: [{datasets: toy, methods: toy-linear, protocol: classify}]\n"


def group(methods="toy-linear", datasets="toy", protocol="classify", **extra):
    more = "".join(f", {k}: {v}" for k, v in extra.items())
    return f"runs: [{{datasets: {datasets}, methods: {methods}, protocol: {protocol}{more}}}]\n"


ALIAS_BOMB = "".join(f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]\n" for p, c in zip("abcdefg", "bcdefgh"))
ALIAS_BOMB = 'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n' + ALIAS_BOMB

#: (suite text, the key the problem names, what it says): each must be refused in one line.
REFUSED = [
    ("budget_scale: .nan\n" + BASE, "budget_scale", "expected a number > 0 and <= 100, got float nan"),
    ("budget_scale: .inf\n" + BASE, "budget_scale", "got float inf"),
    ("budget_scale: 1.0e+308\n" + BASE, "budget_scale", "got float 1e+308"),
    ("seeds: 9223372036854775808\n" + BASE, "seeds", "got int 9223372036854775808"),
    ("seeds: 100000000\n" + BASE, "seeds", "or a count n from 1 to 1000"),
    ("seeds: [4294967296]\n" + BASE, "seeds", "from 0 to 4294967295"),
    ("seeds: [" + ", ".join(map(str, range(1001))) + "]\n" + BASE, "seeds", "(at most 1000)"),
    ('name: "m\\0nist"\n' + BASE, "name", "got str 'm\\x00nist'"),
    ("name: ../../escaped-suite\n" + BASE, "name", "got str '../../escaped-suite'"),
    ("name: /tmp/escaped\n" + BASE, "name", "got str '/tmp/escaped'"),
    ("name: ..\n" + BASE, "name", "expected a name of letters"),
    ("description: " + "[" * 50_000 + "]" * 50_000 + "\n" + BASE, "line 1, column", "nested deeper than 50"),
    (ALIAS_BOMB + BASE, "line ", "more than 10000 values once its aliases are expanded"),
    ("a: &a [*a]\n" + BASE, "line 1", "alias *a refers to the value it is in"),
    ("description: 2024-13-45\n" + BASE, "line 1, column 14", "month must be in 1..12"),
    ("device: tpu\n" + BASE, "device", "expected auto, cpu, cuda, cuda:N or mps, got str 'tpu'"),
    ("device: cuda:x\n" + BASE, "device", "got str 'cuda:x'"),
    (
        "executor: {name: slurm, setup: [1, 2]}\n" + BASE,
        "executor",
        "executor 'slurm' option 'setup': expected a list of text, got int 1 in list [1, 2]",
    ),
    ("executor: {name: slurm, cluster: cloud}\n" + BASE, "executor", "expected one of slurm, local"),
    (
        group(methods="{name: toy-linear, budget: {epochs: .nan}}"),
        "runs[0].methods[0].budget.epochs",
        "expected an integer > 0 and <= 1000000000, got float nan",
    ),
    (group(methods="{name: toy-linear, budget: {epochs: .inf}}"), "runs[0].methods[0].budget.epochs", "got float inf"),
    (group(methods="{name: toy-linear, budget: {epochs: 1.0}}"), "runs[0].methods[0].budget.epochs", "got float 1.0"),
    (group(budget="{epochs: 2000000000}"), "runs[0].methods[0].budget.epochs", "got int 2000000000"),
    (
        group(protocol="{name: classify, holdout: 1.5}"),
        "runs[0].protocol.holdout",
        "expected a number >= 0 and < 1, got float 1.5",
    ),
    (group(protocol="{name: classify, holdout: -0.5}"), "runs[0].protocol.holdout", "got float -0.5"),
    (group(protocol="{name: classify, holdout: .nan}"), "runs[0].protocol.holdout", "got float nan"),
    (
        group(protocol="{name: classify, eval_batch_size: 0}"),
        "runs[0].protocol.eval_batch_size",
        "expected an integer >= 1, got int 0",
    ),
    (
        group(methods="{name: small-cnn, params: {lr: -1}}"),
        "runs[0].methods[0].params.lr",
        "expected a number > 0, got int -1",
    ),
    (
        group(methods="{name: small-cnn, params: {width: 0}}"),
        "runs[0].methods[0].params.width",
        "expected an integer >= 1, got int 0",
    ),
    (group(methods="{name: small-cnn, grid: {width: [8, 0]}}"), "runs[0].methods[0].grid.width", "got int 0"),
    (
        group(datasets="set5", methods="bicubic", protocol="{name: restore, scale: 0}"),
        "runs[0].protocol.scale",
        "expected an integer >= 2 and <= 16, got int 0",
    ),
    (
        group(datasets="set5", methods="bicubic", protocol="{name: restore, images: [../../etc]}"),
        "runs[0].protocol.images",
        "got str '../../etc'",
    ),
    (
        group(datasets="set5", methods="dip", protocol="{name: restore, task: denoise, noise_clip: clamp}"),
        "runs[0].protocol.noise_clip",
        "expected one of none, clip, got str 'clamp'",
    ),
    (
        group(datasets="set5", methods="dip", protocol="{name: restore, task: inpaint, mask: box}"),
        "runs[0].protocol.mask",
        "expected one of random, dataset, got str 'box'",
    ),
    (
        group(datasets="set5", methods="dip", protocol="{name: restore, task: deblur}"),
        "runs[0].protocol.task",
        "expected one of denoise, sr, inpaint, got str 'deblur'",
    ),
    (
        group(
            datasets="set5",
            methods="{name: dip, params: {average: sometimes}}",
            protocol="{name: restore, task: denoise}",
        ),
        "runs[0].methods[0].params.average",
        "expected one of denoise, always, never, got str 'sometimes'",
    ),
    (
        group(datasets="mnist", methods="mae", protocol="{name: linear-probe, weights: randm}"),
        "runs[0].protocol.weights",
        "expected one of pretrained, random, got str 'randm'",
    ),
    (group(methods="[]"), "runs[0].methods", "got an empty list"),
    (group(datasets="[]"), "runs[0].datasets", "expected a name or a non-empty list of names, got list []"),
    (group(protocol="null"), "runs[0].protocol", "expected a protocol name or {name, <options>}, got nothing"),
    (group(budget_scale=".nan"), "runs[0].budget_scale", "got float nan"),
    (
        group(
            methods="{name: small-cnn, grid: {width: [" + ", ".join(map(str, range(1, 13))) + "], "
            "hidden: [1], batch_size: [" + ", ".join(map(str, range(1, 13))) + "], "
            "crop_padding: [" + ", ".join(map(str, range(12))) + "], "
            "lr: [" + ", ".join(f"0.{i + 1}" for i in range(12)) + "]}}"
        ),
        "runs[0].methods[0].grid",
        "unknown parameter of method 'small-cnn'",
    ),
    (
        group(
            methods="{name: small-cnn, grid: {width: [" + ", ".join(map(str, range(1, 13))) + "], "
            "batch_size: [" + ", ".join(map(str, range(1, 13))) + "], "
            "crop_padding: [" + ", ".join(map(str, range(12))) + "], "
            "lr: [" + ", ".join(f"0.{i + 1}" for i in range(12)) + "]}}"
        ),
        "runs[0].methods[0].grid",
        "more than 10000 combinations",
    ),
    (
        "seeds: 1000\nruns: [{datasets: toy, methods: {name: toy-linear, grid: {lr: ["
        + ", ".join(f"0.{i + 1}" for i in range(9))
        + ", 1.5, 2.5]}}, protocol: classify}]\n",
        "runs[0].methods[0]",
        "the suite expands to more than 10000 runs",
    ),
]


@pytest.mark.parametrize("text, key, expected", REFUSED, ids=[f"{i}-{r[1]}" for i, r in enumerate(REFUSED)])
def test_every_invalid_value_is_refused_at_load_in_one_line_naming_the_file_and_key(tmp_path, reg, text, key, expected):
    path = write(tmp_path, text)
    start = time.perf_counter()
    found = problems(path, reg)
    assert time.perf_counter() - start < 10  # never a hang (the alias bomb once took 27 s and 1 GB)
    line = next((p for p in found if expected in p), None)
    assert line is not None, found
    assert line.startswith(f"{path}: {key}") and "\n" not in line and len(line) - len(str(path)) <= 320, line


@pytest.mark.parametrize(
    "content, expected",
    [
        ("runs: []\n".encode("utf-16"), "byte 0: UTF-16 or UTF-32 text (its byte-order mark); save the file as UTF-8"),
        (
            "description: caf\xe9\n".encode("latin-1") + BASE.encode(),
            "byte 16: not UTF-8 text (0xe9); save the file as UTF-8",
        ),
        (b"description: x\0y\n" + BASE.encode(), "not valid YAML"),
        (b"description: " + b"x" * 1_000_001 + b"\n", "a suite file is at most 1000000 bytes"),
    ],
)
def test_unreadable_files_are_one_line(tmp_path, reg, content, expected):
    path = tmp_path / "s.yaml"
    path.write_bytes(content)
    (line,) = problems(path, reg)
    assert line.startswith(f"{path}: ") and expected in line and "\n" not in line, line


def test_a_long_value_is_never_echoed_in_full(tmp_path, reg):
    path = write(tmp_path, f"description: [{'x' * 5000}]\nname: {'y' * 5000}\n" + BASE)
    found = problems(path, reg)
    assert len(found) == 2 and all(len(p) - len(str(path)) < 320 for p in found), found


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--seeds", "-1"], "command line: --seeds: expected a list of integers"),
        (["--seeds", "99999999999999999999"], "command line: --seeds:"),
        (["--budget-scale", "inf"], "command line: --budget-scale: expected a number > 0 and <= 100, got float inf"),
        (["--budget-scale", "nan"], "command line: --budget-scale:"),
        (["--budget-scale", "0"], "command line: --budget-scale:"),
        (["--device", "tpu"], "command line: --device: expected auto, cpu, cuda, cuda:N or mps, got str 'tpu'"),
    ],
)
def test_command_line_overrides_are_refused_like_the_same_value_in_a_file(tmp_path, capsys, args, expected):
    path = write(tmp_path, "runs: [{datasets: mnist, methods: small-cnn, protocol: classify}]\n")
    assert cli.main(["run", str(path), "--results-dir", str(tmp_path / "r"), "--dry-run", *args]) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err, err
    assert not (tmp_path / "r").exists()


def test_a_suite_expanding_to_no_runs_is_an_error_not_success(tmp_path, capsys):
    path = write(tmp_path, "runs: [{datasets: mnist, methods: [], protocol: classify}]\n")
    assert cli.main(["run", str(path), "--results-dir", str(tmp_path / "r"), "--dry-run"]) == 2
    assert "runs[0].methods: expected a method name" in capsys.readouterr().err


def test_budgets_are_typed_like_params_and_scaled_per_group(tmp_path, reg):
    path = write(
        tmp_path,
        """
        budget_scale: 0.1
        runs:
          - {datasets: toy, methods: {name: toy-linear, budget: {epochs: 1}}, protocol: classify}
          - {datasets: toy, methods: {name: toy-linear, budget: {epochs: 20}}, protocol: classify, budget_scale: 0.5}
          - {datasets: toy, methods: {name: toy-linear, budget: {epochs: 20}}, protocol: classify}
    """,
    )
    runs = load_suite(path, reg).runs
    # An integer budget stays an integer, rounded up and at least 1: epochs 1 at 0.1 stays 1.
    assert [(s.budget["epochs"], s.budget_scale) for s in runs] == [(1, 0.1), (10, 0.5), (2, 0.1)]
    # --budget-scale wins over the file's and every group's.
    assert {s.budget["epochs"] for s in load_suite(path, reg, budget_scale=1.0).runs} == {1, 20}


def test_a_declared_param_of_a_third_party_method_is_checked(tmp_path):
    import bench

    spec = bench.MethodSpec(
        name="third",
        kind="classifier",
        fit=lambda d, c: None,
        budget={"epochs": 2},
        params={"mode": bench.Param("fast", choices=("fast", "slow")), "depth": 3},
    )

    class Plugin:
        @bench.hookimpl
        def bench_register_methods(self, register):
            register(spec)

    reg = registry.load(extra_plugins=[("toy", toy), ("third", Plugin())])
    good = write(
        tmp_path,
        "runs: [{datasets: toy, methods: {name: third, params: {mode: slow}}, protocol: classify}]\n",
        "g.yaml",
    )
    assert load_suite(good, reg).runs[0].params == {"mode": "slow", "depth": 3}
    bad = write(
        tmp_path,
        "runs: [{datasets: toy, methods: {name: third, params: {mode: slwo, depht: 3}}, protocol: classify}]\n",
    )
    found = problems(bad, reg)
    assert f"{bad}: runs[0].methods[0].params.mode: expected one of fast, slow, got str 'slwo'" in found
    assert any("params.depht: unknown parameter of method 'third' (did you mean 'depth'?)" in p for p in found)


def test_result_paths_stay_inside_the_results_folder(tmp_path, reg):
    from dataclasses import replace

    from bench.records import ResultStore

    spec = load_suite(write(tmp_path, BASE), reg).runs[0]
    store = ResultStore(tmp_path / "results")
    assert store.path_for(spec).is_relative_to(tmp_path / "results")
    for hostile in (
        replace(spec, suite="../../escaped"),
        replace(spec, suite="/abs"),
        replace(spec, method=".."),
        replace(spec, seed="/../../x"),
        replace(spec, dataset="a/b"),
    ):
        with pytest.raises(ValueError, match="safe names"):
            store.path_for(hostile)


def test_problems_are_listed_once_and_at_most_a_hundred(tmp_path, reg):
    methods = ", ".join(f"nope{i}" for i in range(300))
    path = write(
        tmp_path,
        f"runs: [{{datasets: [toy, imagenet], methods: [toy-linear, {{name: toy-linear, grid: {{lr: [0.1, 0.2]}}}}, {methods}], protocol: classify}}]\n",
    )
    found = problems(path, reg)
    assert len(found) == 101 and found[-1].endswith("(top level): more problems not shown; fix these first")
    assert sum("unknown dataset 'imagenet'" in p for p in found) == 1  # not once per method and grid point


def test_plugin_names_are_one_short_path_component():
    import bench

    for name in ("../x", "a/b", "x" * 101, "UPPER", ".hidden"):
        with pytest.raises(ValueError, match="is not valid"):
            bench.MethodSpec(name=name, kind="classifier", fit=lambda d, c: None)
    assert bench.MethodSpec(name="x" * 100, kind="classifier", fit=lambda d, c: None)


@pytest.mark.parametrize("factor", [float("nan"), float("inf"), 0, -1, True])
def test_a_budget_is_never_scaled_by_a_factor_that_is_not_positive_and_finite(factor):
    from bench.specs import Budget

    with pytest.raises(ValueError, match="positive finite"):
        Budget({"epochs": 3, "lr_steps": 2.5}).scaled(factor)
    assert dict(Budget({"epochs": 1, "steps": 15, "frac": 2.5}).scaled(0.1)) == {"epochs": 1, "steps": 2, "frac": 0.25}


def test_variants_differing_only_in_an_option_are_named_so_only_can_pick_one(tmp_path, capsys, monkeypatch):
    reg = registry.load(extra_plugins=[("toy", toy), ("restoration_toy", restoration_toy)])
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: s\nruns:\n"
        "  - {datasets: tiny-restore, methods: degraded-input, protocol: {name: restore, task: denoise, monitor_every: 5}}\n"
        "  - {datasets: tiny-restore, methods: degraded-input, protocol: {name: restore, task: denoise, monitor_every: 10}}\n"
    )
    labels = [s.label for s in load_suite(path, reg).runs]
    assert labels == [
        "tiny-restore / degraded-input monitor_every=5 / restore / seed 0",
        "tiny-restore / degraded-input monitor_every=10 / restore / seed 0",
    ]
    monkeypatch.setattr(registry, "load", lambda *a, **k: reg)  # the CLI loads the registry itself
    argv = ["run", str(path), "--dry-run", "--only", "monitor_every=10", "--results-dir", str(tmp_path / "r")]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "monitor_every=10" in out and "monitor_every=5 " not in out
    run_specs(
        load_suite(path, reg).runs, reg, ResultStore(tmp_path / "r"), DataStore(tmp_path / "d"), Progress(quiet=True)
    )
    text = cli.main(["table", str(tmp_path / "r")])
    table = capsys.readouterr().out
    assert text == 0 and "degraded-input monitor_every=10" in table and "degraded-input monitor_every=5" in table
