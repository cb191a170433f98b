"""What a plugin author and a data user met (issue 32), each as a plugin installed as a
distribution would meet it: one unit for sigma, budget declarations, clear errors, docs that match
the code."""

import inspect
import io
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import bench
import restoration_toy
from bench import cli, registry
from bench.suite import SuiteError, load_suite
from fakedist import install_distribution

DOCS = Path(__file__).resolve().parents[1] / "docs"


def plugin(monkeypatch, tmp_path, name: str, source: str, version: str = "1.0") -> None:
    """Install ``source`` as the distribution bench-NAME with the entry point NAME."""
    module = f"bench_{name.replace('-', '_')}"
    install_distribution(monkeypatch, tmp_path, f"bench-{name}", version, {module: source}, {name: module})


def suite_file(tmp_path, text: str) -> Path:
    path = tmp_path / "suite.yaml"
    path.write_text(text)
    return path


# -- 2. one unit for sigma -------------------------------------------------------------------------

SIGMA_PROBE = """
import torch
from bench import Restorer, hookimpl
SEEN = []
def restore(problem, ctx):
    SEEN.append((problem.sigma, problem.observed.cpu().clone()))
    return problem.observed.clamp(0, 1)
@hookimpl
def bench_register_methods(register):
    register(Restorer("sigma-probe", restore, ("denoise",)))
"""


def test_sigma_has_one_unit_stated_once_and_it_is_what_a_restorer_gets(monkeypatch, tmp_path):
    statements = {}
    for name in bench.__all__:
        obj = getattr(bench, name)
        doc = " ".join((inspect.getdoc(obj) or "").split()) if inspect.isclass(obj) else ""
        for match in re.finditer(r"sigma\W[^.;]{0,100}?(0-255|\[0, 1\]|0\.\.1)(?: pixel)? (?:scale|units)", doc):
            statements.setdefault(name, []).append(match.group(1))
    assert statements == {"Problem": ["0-255"]}, "the unit of problem.sigma is stated once, in bench.Problem"

    plugin(monkeypatch, tmp_path, "sigma", SIGMA_PROBE)
    from bench.data.store import DataStore
    from bench.progress import Progress
    from bench.records import ResultStore
    from bench.runner import run_specs

    reg = registry.load(extra_plugins=[("restoration_toy", restoration_toy)])
    suite = load_suite(
        suite_file(
            tmp_path,
            "name: sigma\nseeds: [0]\ndevice: cpu\nruns:\n  - datasets: [tiny-restore]\n    methods: [sigma-probe]\n"
            "    protocol: {name: restore, task: denoise, sigma: 25, warmup: false}\n",
        ),
        reg,
    )
    outcome = run_specs(suite.runs, reg, ResultStore(tmp_path / "r"), DataStore(tmp_path / "d"), Progress(quiet=True))
    assert not outcome.failed
    import bench_sigma

    clean = restoration_toy.load_tiny("test", None).images
    for (sigma, observed), item in zip(bench_sigma.SEEN, clean):
        assert sigma == 25.0
        noise = observed.double() * 255 - item.image.double()  # on the 0-255 scale
        assert abs(noise.std().item() - sigma) < 0.15 * sigma


# -- 3. a fraction for an integer budget -----------------------------------------------------------

WHOLE_EPOCHS = """
import torch
from bench import Classifier, hookimpl
def train(data, ctx):
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.LazyLinear(data.num_classes))
@hookimpl
def bench_register_methods(register):
    register(Classifier("whole", train, budget={"epochs": 100}))
"""


def test_a_fraction_for_an_integer_budget_says_the_integer_is_the_plugins_declaration(monkeypatch, tmp_path):
    plugin(monkeypatch, tmp_path, "whole", WHOLE_EPOCHS)
    path = suite_file(
        tmp_path,
        "name: s\nruns:\n  - {datasets: [mnist], methods: [whole], protocol: classify, budget: {epochs: 1.0}}\n",
    )
    with pytest.raises(SuiteError) as error:
        load_suite(path, registry.load())
    (line,) = error.value.problems
    assert "budget.epochs: expected an integer > 0" in line
    assert "method 'whole' declares epochs an integer (budget={'epochs': 100})" in line
    assert "its plugin declares {'epochs': 100.0} to allow fractions" in line


FRACTION_BREAKS = """
import torch
from bench import Classifier, hookimpl
def train(data, ctx):
    epochs = int(ctx.budget.epochs)  # a fractional budget rounds down to 0
    decay = 1.0 / epochs
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 16 * 16, data.num_classes))
    opt = torch.optim.SGD(model.parameters(), lr=0.1 * decay)
    for _ in ctx.epochs(epochs):
        for x, y in ctx.batches(data.train, 32):
            ctx.optimize(torch.nn.functional.cross_entropy(model(x), y), opt, n=len(y))
    return model
@hookimpl
def bench_register_methods(register):
    register(Classifier("rounds-down", train, budget={"epochs": 3.0}))
"""


def test_bench_check_runs_a_float_budget_at_a_fraction(monkeypatch, tmp_path, capsys):
    plugin(monkeypatch, tmp_path, "frac", FRACTION_BREAKS)
    assert cli.main(["check", "frac"]) == 1
    err = capsys.readouterr().err
    assert "FAILED rounds-down: fractional budget: at budget_scale 0.5 (budget {'epochs': 0.5}): classify" in err
    assert "division by zero" in err
    assert err.count("FAILED") == 1, err  # every other rule holds at the whole budget


# -- 6. clear errors ---------------------------------------------------------------------------------

ONE_LOGIT_TOO_MANY = """
import torch
from bench import Classifier, hookimpl
def train(data, ctx):
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 16 * 16, data.num_classes + 1))
@hookimpl
def bench_register_methods(register):
    register(Classifier("extra-logit", train, budget={"epochs": 1}))
"""


def test_a_classifier_with_one_logit_too_many_is_named_with_both_shapes(monkeypatch, tmp_path, capsys):
    plugin(monkeypatch, tmp_path, "extra", ONE_LOGIT_TOO_MANY)
    assert cli.main(["check", "extra"]) == 1
    err = capsys.readouterr().err
    assert (
        "method 'extra-logit': the model train() returned maps a batch of shape (32, 3, 16, 16) to (32, 5), "
        "expected logits of shape (32, 4) (4 classes of 'bench-check-images')"
    ) in err


def test_a_param_default_outside_its_range_names_the_param_and_the_method(monkeypatch, tmp_path, capsys):
    source = (
        "from bench import Classifier, Param, hookimpl\n"
        "@hookimpl\ndef bench_register_methods(register):\n"
        "    register(Classifier('wide', lambda data, ctx: None, params={'width': Param(0, ge=1)}))\n"
    )
    plugin(monkeypatch, tmp_path, "wide", source)
    assert cli.main(["plugins"]) == 1
    err = capsys.readouterr().err
    assert "method 'wide': field 'params': 'width': the default 0 does not satisfy its own declaration" in err


def test_an_unknown_method_lists_every_plugin_that_failed_to_load(monkeypatch, tmp_path):
    names = [f"broken-plugin-with-a-rather-long-name-{i:02d}" for i in range(12)]
    for name in names:
        plugin(monkeypatch, tmp_path, name, "raise ImportError('needs libfoo')\n")
    path = suite_file(tmp_path, "name: s\nruns:\n  - {datasets: [mnist], methods: [nope], protocol: classify}\n")
    with pytest.raises(SuiteError) as error:
        load_suite(path, registry.load())
    (line,) = error.value.problems
    assert "unknown method 'nope'" in line
    assert all(name in line for name in names), line


DUPLICATE_MNIST = """
from bench import DatasetSpec, LabelledImages, hookimpl
def load(split, store):
    raise RuntimeError("never loaded")
@hookimpl
def bench_register_datasets(register):
    register(DatasetSpec("mnist", "classification", load, num_classes=10, image_shape=(1, 28, 28)))
    register(DatasetSpec("dup-other", "classification", load, num_classes=10, image_shape=(1, 28, 28)))
"""


def test_a_third_party_dataset_named_as_a_builtin_is_refused_and_the_builtin_stays(monkeypatch, tmp_path, capsys):
    plugin(monkeypatch, tmp_path, "dup", DUPLICATE_MNIST)
    reg = registry.load()
    assert reg.plugin_of("dataset", "mnist").distribution == "bench"
    assert "dup-other" in reg.datasets and "cifar10" in reg.datasets
    (problem,) = reg.broken
    assert (problem.name, problem.loaded) == ("dup", True)
    assert "bench has a built-in dataset 'mnist'" in problem.error and "rename it in bench-dup" in problem.error
    assert cli.main(["plugins"]) == 1
    err = capsys.readouterr().err
    assert "uninstall" not in err and "failed to load" not in err
    assert "plugin 'dup' (bench-dup) conflict: dataset 'mnist' of plugin 'dup'" in err

    monkeypatch.setenv("BENCH_PLUGINS", "-dup")  # everything but the one excluded
    reg = registry.load()
    assert not reg.broken and "dup-other" not in reg.datasets and "mnist" in reg.datasets and "dip" in reg.methods


def test_a_reader_that_stops_reading_ends_the_command_quietly():
    process = subprocess.Popen(
        [sys.executable, "-c", "import sys; from bench.cli import main; sys.exit(main(['plugins', 'dip']))"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    process.stdout.close()  # `| head` that has read enough, before anything is written
    err = process.stderr.read().decode()
    assert process.wait(timeout=120) == 141
    assert "Traceback" not in err and "BrokenPipeError" not in err, err


OLD_STYLE = """
import torch
from bench import MethodSpec, hookimpl
def restore(problem, ctx):
    return torch.nn.functional.interpolate(problem.observed[None], scale_factor=problem.scale)[0].clamp(0, 1)
@hookimpl
def bench_register_methods(register):
    register(MethodSpec(name="old-sr", kind="restorer", fit=restore, restorations=("sr",)))
"""

NEW_STYLE = """
import torch
from bench import Restorer, hookimpl
def restore(problem, ctx):
    return torch.nn.functional.interpolate(problem.observed[None], scale_factor=problem.scale)[0].clamp(0, 1)
@hookimpl
def bench_register_methods(register):
    register(Restorer("new-sr", restore, ("sr",)))
"""


def test_deprecations_are_shown_for_the_plugins_checked_or_run_only(monkeypatch, tmp_path, capsys):
    plugin(monkeypatch, tmp_path, "old", OLD_STYLE, version="0.1")
    plugin(monkeypatch, tmp_path, "new", NEW_STYLE)
    assert cli.main(["check", "new"]) == 0
    assert "DeprecationWarning" not in capsys.readouterr().err
    assert cli.main(["check", "old"]) == 0
    assert "warning: plugin 'old': DeprecationWarning: method 'old-sr': MethodSpec(kind='restorer'" in (
        capsys.readouterr().err
    )
    path = suite_file(
        tmp_path, "name: s\nruns:\n  - {datasets: [set5], methods: [old-sr], protocol: {name: restore}}\n"
    )
    assert cli.main(["run", str(path), "--dry-run", "--results-dir", str(tmp_path / "r")]) == 0
    assert "warning: plugin 'old': DeprecationWarning" in capsys.readouterr().err


def test_a_distribution_name_designates_its_plugins(monkeypatch, tmp_path, capsys):
    plugin(monkeypatch, tmp_path, "new", NEW_STYLE)
    assert cli.main(["plugins", "bench-new"]) == 0
    assert "method new-sr  (plugin new, bench-new 1.0)" in capsys.readouterr().out
    assert cli.main(["check", "bench_new"]) == 0  # spelt as pip would accept it
    assert "1 methods checked, 0 rules broken" in capsys.readouterr().out


# -- 7. docs that match the code ---------------------------------------------------------------------


def test_public_docstrings_name_the_contracts_callables_not_the_old_fit():
    stale = [
        name
        for name in bench.__all__
        if name != "MethodSpec" and inspect.isclass(getattr(bench, name))
        if "``fit``" in (inspect.getdoc(getattr(bench, name)) or "")
    ]
    assert stale == []


def test_the_docs_cite_the_deprecated_methodspec_only_where_they_describe_it():
    for path in sorted(DOCS.glob("*.md")):
        text = path.read_text()
        if path.name == "plugins.md":
            old, _, rest = text.partition("## Plugins written for bench 0.1")
            text = old + rest.partition("\n## ")[2]
        assert "MethodSpec(" not in text, path.name


def test_the_suites_page_sends_readers_to_the_command_that_lists_protocol_options():
    text = (DOCS / "suites.md").read_text()
    paragraph = text[text.index("A protocol is a name or") :].partition("\n\n")[0]
    assert "`bench protocols`" in paragraph and "bench/protocols/" not in paragraph


def test_every_public_name_of_the_contexts_is_in_the_context_section_of_the_plugin_docs():
    from bench.context import RunContext
    from bench.restoration.context import RestoreContext

    section = (DOCS / "plugins.md").read_text().partition("## The context")[2].partition("\n## ")[0]
    names = set()
    for cls in (RunContext, RestoreContext):
        names |= {n for n in dir(cls) if not n.startswith("_")}
        init = inspect.getsource(cls.__init__) + inspect.getsource(cls.__mro__[1].__init__)
        names |= {n for n in re.findall(r"self\.([a-z]\w*) =", init)}
    missing = sorted(n for n in names if f"`{n}" not in section)
    assert missing == [], f"not in docs/plugins.md's context section: {missing}"


def test_a_fractional_epochs_progress_counts_the_steps_and_time_of_that_fraction(tmp_path):
    from bench.context import RunContext
    from bench.data.images import LabelledImages
    from bench.data.loader import Normalize
    from bench.progress import Progress
    from bench.specs import Budget

    images = torch.zeros(468 * 2, 1, 2, 2, dtype=torch.uint8)
    data = LabelledImages(images, torch.zeros(len(images), dtype=torch.long), ("a",))
    stream = io.StringIO()
    ctx = RunContext(
        device=torch.device("cpu"),
        seed=0,
        budget=Budget({"epochs": 0.1}),
        params={},
        normalize=Normalize.fit(images),
        artifacts_dir=tmp_path,
        progress=Progress(stream=stream, interval=0),
    )
    for _ in ctx.epochs(1):  # 0.1 epochs: 47 of the epoch's 468 steps
        for step, _batch in enumerate(ctx.batches(data, 2)):
            if step == 47:
                break
            ctx.step(n=2)
    lines = stream.getvalue().splitlines()
    assert "step 35/47" in lines[34] and "step 47/47" in lines[-1], lines[34]
    assert "ETA 0:00" in lines[-1]


# -- 1. monitoring cannot change a result or its time ------------------------------------------------

MONITORED = """
import random
import time
import numpy as np
import torch
from bench import Restorer, hookimpl

def restore(problem, ctx, inside):
    x = problem.observed.clone()
    for i in ctx.iterations(ctx.budget.iterations):
        x = x + 0.02 * torch.randn(x.shape, generator=ctx.generator) + 0.02 * torch.randn_like(x)
        ctx.step()
        if ctx.should_monitor(i):
            def perturbed():  # what a Self2Self-style method averages: random, and slow
                time.sleep(0.2)
                random.random(), np.random.rand()
                return (x + 0.1 * torch.randn_like(x) + 0.1 * torch.randn(x.shape, generator=ctx.generator)).clamp(0, 1)
            ctx.monitor(i, perturbed if inside else perturbed())
    return x.clamp(0, 1)

@hookimpl
def bench_register_methods(register):
    register(Restorer("monitored", lambda p, c: restore(p, c, True), ("denoise",), budget={"iterations": 4}))
    register(Restorer("monitored-outside", lambda p, c: restore(p, c, False), ("denoise",), budget={"iterations": 4}))
"""


def restore_run(tmp_path, reg, method: str, monitor_every: int) -> dict:
    from bench.data.store import DataStore
    from bench.progress import Progress
    from bench.records import ResultStore
    from bench.runner import run_specs

    folder = tmp_path / f"{method}-{monitor_every}"
    folder.mkdir()
    suite = load_suite(
        suite_file(
            folder,
            f"name: m\nseeds: [0]\ndevice: cpu\nruns:\n  - datasets: [tiny-restore]\n    methods: [{method}]\n"
            f"    protocol: {{name: restore, task: denoise, warmup: false, monitor_every: {monitor_every}}}\n",
        ),
        reg,
    )
    store = ResultStore(folder / "results")
    assert not run_specs(suite.runs, reg, store, DataStore(folder / "data"), Progress(quiet=True)).failed
    return store.read(suite.runs[0])


@pytest.mark.slow  # runs with and without monitoring: ~6 s of CPU
def test_monitoring_that_draws_random_numbers_and_burns_time_changes_neither_result_nor_seconds(monkeypatch, tmp_path):
    plugin(monkeypatch, tmp_path, "monitored", MONITORED)
    reg = registry.load(extra_plugins=[("restoration_toy", restoration_toy)])
    every, never = restore_run(tmp_path, reg, "monitored", 1), restore_run(tmp_path, reg, "monitored", 0)
    assert every.metrics["psnr"] == never.metrics["psnr"]
    assert len(every.details["curves"]["gray"]) == 4  # it was monitored at every iteration
    for image in every.details["per_image"]:  # 4 x 0.2 s of monitoring, none of it counted
        assert image["seconds"] < 0.4 and image["loop_seconds"] < 0.4, image

    # bench check compares two monitor intervals: work done before ctx.monitor is not isolated.
    from bench.check import check

    report = check(reg, ["monitored", "monitored-outside"])
    assert [(f.method, f.rule) for f in report.failures] == [("monitored-outside", "monitoring")]
    assert "monitor_every 1 gave" in report.failures[0].detail


# -- 4. datasets in bench check, and checked at load -------------------------------------------------

DIGITS = """
import torch
from bench import DatasetSpec, LabelledImages, RemoteFile, hookimpl

def load(split, store, shape=(1, 8, 8), labels=10):
    path = store.fetch(RemoteFile(f"digits/{split}.pt", "https://example.org/digits", MD5[split]))
    data = torch.load(path)
    return LabelledImages(data["images"].reshape(-1, *shape), data["labels"] % labels, tuple(map(str, range(10))))

@hookimpl
def bench_register_datasets(register):
    register(DatasetSpec("digits", "classification", load, num_classes=10, image_shape=(1, 8, 8)))
    register(DatasetSpec("digits-28", "classification", load, num_classes=10, image_shape=(1, 28, 28)))
    register(DatasetSpec("digits-11", "classification", lambda s, st: load(s, st, labels=11), num_classes=10,
                         image_shape=(1, 8, 8)))
"""


def digits_files(folder: Path) -> dict:
    import hashlib

    md5 = {}
    for split, n in (("train", 40), ("test", 20)):
        g = torch.Generator().manual_seed(len(split))
        data = {"images": torch.randint(0, 256, (n, 64), generator=g, dtype=torch.uint8), "labels": torch.arange(n)}
        path = folder / "digits" / f"{split}.pt"
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(data, path)
        md5[split] = hashlib.md5(path.read_bytes()).hexdigest()
    return md5


def test_bench_check_checks_a_dataset_and_a_run_refuses_a_split_unlike_its_declaration(monkeypatch, tmp_path, capsys):
    data = tmp_path / "data"
    md5 = digits_files(data)
    plugin(monkeypatch, tmp_path, "digit-sets", f"MD5 = {md5!r}\n" + DIGITS)
    assert cli.main(["check", "digits", "--data-dir", str(data)]) == 0
    out = capsys.readouterr().out
    assert "ok         digits (dataset, 2 splits, 2 files verified by checksum" in out
    assert "0 methods checked, 1 datasets checked, 0 rules broken" in out

    assert cli.main(["check", "bench-digit-sets", "--data-dir", str(data)]) == 1  # the distribution: all three
    err = capsys.readouterr().err
    assert (
        "FAILED digits-28: declaration: split 'train': images are 1x8x8 (C x H x W), but the dataset declares "
        "image_shape (1, 28, 28)"
    ) in err
    assert "FAILED digits-11: declaration: split 'train': labels run from 0 to 10, outside 0..9 (num_classes)" in err

    path = suite_file(tmp_path, "name: s\nruns:\n  - {datasets: [digits-11], methods: [mlp], protocol: classify}\n")
    assert cli.main(["run", str(path), "--data-dir", str(data), "--results-dir", str(tmp_path / "r"), "--quiet"]) == 1
    import json

    (record,) = [json.loads(p.read_text()) for p in (tmp_path / "r").rglob("*.json") if p.name != "suite.json"]
    error = record["error"]
    error = error.get("message", error) if isinstance(error, dict) else error
    assert "dataset 'digits-11', split 'train': labels run from 0 to 10" in str(error)


# -- 5. data shipped inside the plugin's wheel -------------------------------------------------------

PACKAGED = """
import torch
from bench import DatasetSpec, LabelledImages, PackagedFile, hookimpl

def load(split, store):
    data = torch.load(store.fetch(PackagedFile("bench_packaged", f"data/{split}.pt", MD5[split])))
    return LabelledImages(data["images"].reshape(-1, 1, 8, 8), data["labels"] % 10, tuple(map(str, range(10))))

@hookimpl
def bench_register_datasets(register):
    register(DatasetSpec("packaged-digits", "classification", load, num_classes=10, image_shape=(1, 8, 8)))
"""


def test_a_file_shipped_in_the_plugins_package_loads_offline_verified_and_recorded(monkeypatch, tmp_path, capsys):
    from bench.data.store import DataError, DataStore

    files = tmp_path / "files"
    md5 = digits_files(files)
    site = install_distribution(
        monkeypatch,
        tmp_path,
        "bench-packaged",
        "1.0",
        {"bench_packaged.__init__": f"MD5 = {md5!r}\n" + PACKAGED},
        {"packaged": "bench_packaged"},
    )
    (site / "bench_packaged" / "data").mkdir()
    for split in ("train", "test"):
        (site / "bench_packaged" / "data" / f"{split}.pt").write_bytes((files / "digits" / f"{split}.pt").read_bytes())

    assert cli.main(["check", "packaged-digits", "--offline", "--data-dir", str(tmp_path / "empty")]) == 0
    assert "ok         packaged-digits (dataset, 2 splits, 2 files verified by checksum" in capsys.readouterr().out
    store = DataStore(tmp_path / "empty", offline=True)
    registry.load().dataset("packaged-digits").load("test", store)
    assert list(store.used) == ["package://bench_packaged/data/test.pt"]
    assert store.used["package://bench_packaged/data/test.pt"]["md5"] == md5["test"]
    assert not (tmp_path / "empty").exists(), "nothing is copied into the data folder"

    (site / "bench_packaged" / "data" / "test.pt").write_bytes(b"corrupt")
    with pytest.raises(DataError, match=f"package://bench_packaged/data/test.pt: .* expected {md5['test']}"):
        registry.load().dataset("packaged-digits").load("test", store)
