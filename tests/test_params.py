"""bench.Param: declared defaults, choices and ranges, and the one-line problems they give."""

import math
import time

import pytest

import bench
from bench import MethodSpec, Param, param_defaults
from bench.params import as_param, declared, is_name, show
from bench.protocols import PROTOCOLS


@pytest.mark.parametrize(
    "param, value, problem",
    [
        (
            Param("pretrained", choices=("pretrained", "random")),
            "randm",
            "expected one of pretrained, random, got str 'randm'",
        ),
        (Param(500, ge=1), 0, "expected an integer >= 1, got int 0"),
        (Param(0.1, ge=0, lt=1), 1.5, "expected a number >= 0 and < 1, got float 1.5"),
        (Param(0.1, ge=0, lt=1), -0.5, "expected a number >= 0 and < 1, got float -0.5"),
        (Param(0.1, ge=0, lt=1), math.nan, "expected a number >= 0 and < 1, got float nan"),
        (Param(0.01, gt=0), -1, "expected a number > 0, got int -1"),
        (Param(0.01), math.inf, "expected a number, got float inf"),
        (Param(4, ge=2, le=16), 0, "expected an integer >= 2 and <= 16, got int 0"),
        (Param(4), 4.0, "expected an integer, got float 4.0"),
        (Param(4), True, "expected an integer, got bool True"),
        (Param(4), 2**63, f"expected an integer, got int {2**63}"),
        (Param(True), 1, "expected true or false, got int 1"),
        (Param(2, choices=(0, 1, 2)), True, "expected one of 0, 1, 2, got bool True"),
        (Param((64, 256), ge=1), [64, 0], "expected a list of integers >= 1, got int 0 in list [64, 0]"),
        (Param((64, 256), ge=1), 64, "expected a list of integers >= 1, got int 64"),
        (Param([], item=str), [1, 2], "expected a list of text, got int 1 in list [1, 2]"),
        (Param([], item=str, name=True), ["../x"], "got str '../x' in list ['../x']"),
        (Param({}), [], "expected a mapping, got list []"),
    ],
)
def test_a_value_outside_its_declaration_is_one_line_saying_what_was_expected(param, value, problem):
    found = param.check(value)
    assert found is not None and found.endswith(problem) and "\n" not in found, found


@pytest.mark.parametrize(
    "param, value",
    [
        (Param("pretrained", choices=("pretrained", "random")), "random"),
        (Param(0.1, ge=0, lt=1), 0),
        (Param(0.1, ge=0, lt=1), 0.999),
        (Param(0.01, gt=0), 3),  # ints are numbers
        (Param((64, 256), ge=1), [1, 2, 3]),
        (Param((64, 256), ge=1), []),
        (Param([], item=str, name=True), ["butterfly", "img_001.v2"]),
        (Param(None), {"anything": [1]}),
    ],
)
def test_values_inside_their_declaration_pass(param, value):
    assert param.check(value) is None


def test_a_plain_default_is_checked_by_its_type_as_before():
    # Third-party plugins declare plain defaults: their types are taken from the defaults.
    assert as_param(0.5).check(1) is None and as_param(0.5).check("fast") == "expected a number, got str 'fast'"
    assert as_param(3).check(3.0) is not None and as_param("cls").check("mean") is None
    assert as_param(False).check(0) is not None and as_param([1, 2]).check([3]) is None
    assert as_param([1, 2]).check(["a"]) is not None
    assert as_param([1, "a"]).check([2.5, None]) is None  # mixed defaults: any elements
    assert declared({"a": 1, "b": Param(2, ge=0)}) == {"a": Param(1), "b": Param(2, ge=0)}
    assert param_defaults({"a": 1, "b": Param(2, ge=0)}) == {"a": 1, "b": 2}


def test_a_declaration_whose_default_it_refuses_fails_where_it_is_named():
    # Declared under a name (a method's params, an executor's options), so the error names it.
    with pytest.raises(ValueError, match="'mode': the default 'x' does not satisfy its own declaration"):
        declared({"mode": Param("x", choices=("a", "b"))})
    with pytest.raises(ValueError, match="'width': .*>= 1"):
        declared({"width": Param(0, ge=1)})


def test_describe_and_to_dict_say_what_is_allowed():
    p = Param(0.1, ge=0, lt=1, help="held out")
    assert p.describe() == "a number >= 0 and < 1"
    assert p.to_dict() == {"default": 0.1, "expected": "a number >= 0 and < 1", "help": "held out", "ge": 0, "lt": 1}
    assert Param("a", choices=("a", "b")).to_dict()["choices"] == ["a", "b"]


def test_shown_values_are_bounded_even_for_an_alias_bomb():
    bomb = ["x"] * 9
    for _ in range(8):  # 9^9 strings if printed in full
        bomb = [bomb] * 9
    start = time.perf_counter()
    text = show(bomb)
    assert len(text) <= 210 and time.perf_counter() - start < 1
    assert len(show("y" * 10**6)) <= 210 and show(None) == "nothing"


def test_names_are_one_safe_path_component():
    assert all(is_name(n) for n in ["quick", "Set5", "img_001.v2", "a-b"])
    assert not any(
        is_name(n)
        for n in ["", ".", "..", "../x", "/abs", "a/b", "a\\b", "m\0nist", ".hidden", "-rf", "x" * 101, 3, None]
    )


def test_param_is_public_and_methods_accept_it_beside_plain_defaults():
    assert bench.Param is Param and "Param" in bench.__all__ and "param_defaults" in bench.__all__
    spec = MethodSpec(name="m", kind="classifier", fit=lambda d, c: None, params={"lr": Param(0.1, gt=0), "width": 16})
    assert param_defaults(spec.params) == {"lr": 0.1, "width": 16}


def test_protocol_options_declare_their_sets_and_ranges():
    decl = {name: declared(p.options) for name, p in PROTOCOLS.items()}
    assert decl["linear-probe"]["weights"].choices == ("pretrained", "random")
    assert decl["restore"]["task"].choices == ("denoise", "sr", "inpaint")
    assert decl["restore"]["noise_clip"].choices == ("none", "clip")
    assert decl["restore"]["mask"].choices == ("random", "dataset")
    assert decl["restore"]["scale"].check(1) and decl["restore"]["scale"].check(8) is None
    assert decl["classify"]["holdout"].check(1.0) and decl["finetune"]["lr"].check(0)
    assert all(d["eval_batch_size"].check(0) for d in decl.values() if "eval_batch_size" in d)
