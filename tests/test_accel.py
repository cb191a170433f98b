"""The host's efficiency switches: recorded with every run, torch.compile only when asked."""

import pytest
import torch

from bench.accel import Switches
from bench.context import RunContext
from bench.data.loader import Normalize
from bench.specs import Budget
from bench.suite import SuiteError
from runs import run_suite

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch._dynamo's own imports

SUITE = (
    "seeds: [0]\n{compile}runs: [{{datasets: toy, methods: toy-linear, protocol: classify, budget: {{epochs: 1}}}}]\n"
)


def context(compile: bool) -> RunContext:
    return RunContext(
        device=torch.device("cpu"),
        seed=0,
        budget=Budget({"epochs": 1}),
        params={},
        normalize=Normalize.fit(torch.zeros(2, 1, 2, 2, dtype=torch.uint8)),
        artifacts_dir=None,
        switches=Switches("fp32", False, compile),
    )


def test_prepare_compiles_only_when_asked_and_shares_the_parameters():
    model = torch.nn.Linear(3, 2)
    assert context(False).prepare(model) is model
    compiled = context(True).prepare(model)
    assert isinstance(compiled, torch._dynamo.eval_frame.OptimizedModule) and compiled._orig_mod is model
    assert list(model.state_dict()) == ["weight", "bias"]  # the module a method returns keeps its names


def test_switches_are_recorded_and_compile_follows_the_suite(tmp_path, reg):  # noqa: F811
    suite, store, _ = run_suite(tmp_path, reg, SUITE.format(compile=""))
    accel = store.read(suite.runs[0]).accel
    assert accel == {
        "precision": "fp32",
        "tf32": False,
        "cudnn_benchmark": False,
        "channels_last": False,
        "compile": False,
    }
    suite, store, _ = run_suite(tmp_path, reg, SUITE.format(compile="compile: true\n"), results="compiled")
    assert store.read(suite.runs[0]).accel["compile"] is True
    assert suite.runs[0].key == load_key(tmp_path, reg)  # how a run is executed is not what it computes


def load_key(tmp_path, reg):  # noqa: F811
    from bench.suite import load_suite

    path = tmp_path / "plain" / "suite.yaml"  # same name, same suite
    path.parent.mkdir()
    path.write_text(SUITE.format(compile=""))
    return load_suite(path, reg).runs[0].key


def test_a_compile_switch_that_is_not_a_boolean_is_refused(tmp_path, reg):  # noqa: F811
    with pytest.raises(SuiteError, match=r"compile: expected true or false"):
        run_suite(tmp_path, reg, SUITE.format(compile="compile: yes please\n"))


GROUPS = """seeds: [0]
{suite}runs:
  - {{datasets: toy, methods: toy-linear, protocol: classify, budget: {{epochs: 1}}}}
  - {{datasets: toy, methods: toy-linear, protocol: classify, budget: {{epochs: 2}}, {group}}}
"""


def test_a_group_may_run_in_bf16_with_channels_last_on_the_cpu(tmp_path, reg):  # noqa: F811
    suite, store, _ = run_suite(tmp_path, reg, GROUPS.format(suite="", group="precision: bf16, channels_last: true"))
    plain, switched = (store.read(run).accel for run in suite.runs)
    assert (plain["precision"], plain["channels_last"]) == ("fp32", False)  # auto on the CPU: both off
    assert (switched["precision"], switched["channels_last"]) == ("bf16", True)
    suite, store, _ = run_suite(
        tmp_path, reg, GROUPS.format(suite="channels_last: true\n", group="channels_last: false"), results="suite-wide"
    )
    assert [store.read(run).accel["channels_last"] for run in suite.runs] == [True, False]


@pytest.mark.parametrize(
    "line, expected",
    [
        ("channels_last: yes please", r"runs\[1\]\.channels_last: expected one of auto, true, false, got"),
        ("channels_last: 1", r"runs\[1\]\.channels_last: expected one of auto, true, false, got"),
        ("precision: fp16", r"runs\[1\]\.precision: expected one of auto, fp32, bf16, got"),
    ],
)
def test_a_group_switch_with_a_wrong_value_is_refused_by_name(tmp_path, reg, line, expected):  # noqa: F811
    with pytest.raises(SuiteError, match=expected):
        run_suite(tmp_path, reg, GROUPS.format(suite="", group=line))


def test_the_restore_context_prepares_networks_like_the_run_context():
    from bench.restoration.context import RestoreContext

    ctx = RestoreContext(
        device=torch.device("cpu"), seed=0, budget=Budget({}), params={}, switches=Switches("fp32", True)
    )
    conv = ctx.prepare(torch.nn.Conv2d(2, 3, 3))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert ctx.layout(torch.zeros(1, 2, 4, 4)).is_contiguous(memory_format=torch.channels_last)
    assert (
        not RestoreContext(device=torch.device("cpu"), seed=0, budget=Budget({}), params={})
        .layout(torch.zeros(1, 2, 4, 4))
        .is_contiguous(memory_format=torch.channels_last)
    )


# -- the switches as one value, from the suite to the contexts --------------------------------------


def test_switches_resolve_auto_on_the_cpu_and_keep_what_a_suite_forces():
    cpu = torch.device("cpu")
    assert Switches().resolve(cpu) == Switches("fp32", False, False)  # auto on the CPU: both off
    forced = Switches("bf16", True, True)
    assert forced.resolve(cpu) == forced and forced.resolve(cpu).resolve(cpu) == forced


def test_a_specs_dict_holds_the_switches_as_its_top_level_fields_and_reads_back(tmp_path, reg):  # noqa: F811
    path = tmp_path / "switched" / "suite.yaml"  # the same suite as load_key's, but switched
    path.parent.mkdir()
    path.write_text("precision: bf16\n" + SUITE.format(compile="compile: true\n"))
    from bench.suite import RunSpec, load_suite

    spec = load_suite(path, reg).runs[0]
    assert spec.switches == Switches("bf16", "auto", True)
    data = spec.to_dict()
    assert "switches" not in data  # the record's spec and the key's input keep their old shape
    fields = list(data)
    assert fields[fields.index("device") :][:4] == ["device", "precision", "channels_last", "compile"]
    assert (data["precision"], data["channels_last"], data["compile"]) == ("bf16", "auto", True)
    assert RunSpec.from_dict(data) == spec and RunSpec.from_dict(data).key == spec.key
    assert spec.key == load_key(tmp_path, reg)  # the switches stay outside the key


def test_a_context_applies_its_switches_resolved_for_its_device():
    ctx = context(False)
    assert ctx.switches == Switches("fp32", False, False)
    assert (ctx.precision, ctx.channels_last, ctx.compile) == ("fp32", False, False)
    auto = RunContext(
        device=torch.device("cpu"),
        seed=0,
        budget=Budget({}),
        params={},
        normalize=Normalize.fit(torch.zeros(2, 1, 2, 2, dtype=torch.uint8)),
        artifacts_dir=None,
        switches=Switches("bf16"),
    )
    assert auto.switches == Switches("bf16", False, False)  # channels_last auto: off on the CPU
    with auto.autocast():
        assert torch.is_autocast_enabled("cpu")
