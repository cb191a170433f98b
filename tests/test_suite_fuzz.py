"""A seeded fuzzer over the shipped suites: every mutation is either accepted as a valid suite or
refused with one line per problem naming the file and a key; never a traceback, never a hang.

Mutations: values replaced by other types, NaN/inf, huge and negative numbers, empty lists, nulls,
long strings, NUL bytes, path-like names, unknown choices, deep nesting; keys deleted, added or
renamed; YAML alias bombs, UTF-16 and non-UTF-8 bytes, truncated files; hostile command-line
overrides. The figures are printed (``pytest -s``) and the test fails on any crash or hang.
"""

from __future__ import annotations

import copy
import datetime
import math
import random
import signal
import time
import traceback
from pathlib import Path

import pytest
import yaml

from bench import registry
from bench.params import declared, is_name
from bench.protocols import PROTOCOLS
from bench.records import ResultStore
from bench.suite import SuiteError, load_suite

SEED = 20261201
CASES = 400
CASE_SECONDS = 5  # one case past this is a hang
SUITES = sorted((Path(__file__).parents[1] / "suites").glob("*.yaml"))

HOSTILE = [
    None,
    True,
    False,
    0,
    -1,
    -(2**63) - 1,
    2**63,
    2**64,
    10**30,
    9223372036854775808,
    100_000_000,
    math.nan,
    math.inf,
    -math.inf,
    1e308,
    -0.5,
    1.5,
    0.0,
    1e-300,
    "",
    "x" * 5000,
    "m\0nist",
    "../../escaped-suite",
    "/tmp/abs",
    "..",
    "a/b",
    "randm",
    "clamp",
    "tpu",
    "cuda:x",
    "ünïcödé",
    "\t",
    "*",
    "{",
    [],
    {},
    [1, 2],
    [[]],
    {"name": None},
    {1: 2},
    {"": ""},
    ["a", None],
    datetime.date(2024, 1, 1),
    b"bytes",
]


def _deep(levels: int):
    value: object = []
    for _ in range(levels):
        value = [value]
    return value


def _paths(data, prefix=()):
    """Every (container, key) in the tree, to mutate one."""
    out = []
    if isinstance(data, dict):
        for key, value in data.items():
            out.append((data, key))
            out += _paths(value, prefix + (key,))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            out.append((data, i))
            out += _paths(value, prefix + (i,))
    return out


def _mutate_tree(rng: random.Random, data) -> None:
    container, key = rng.choice(_paths(data))
    value = container[key]
    op = rng.randrange(9)
    if op <= 2:
        container[key] = copy.deepcopy(rng.choice(HOSTILE))
    elif op == 3 and isinstance(container, dict):
        del container[key]
    elif op == 3:
        container[key] = []
    elif op == 4 and isinstance(container, dict):
        container[rng.choice(["colour", "sed", "seeds", "budget_scale", "grid", "params", "images", 1, None])] = value
    elif op == 5 and isinstance(value, (int, float)) and not isinstance(value, bool):
        container[key] = rng.choice([-value, value * 10 ** rng.randrange(3, 30), float(value), str(value), value + 0.5])
    elif op == 5 and isinstance(value, str):
        container[key] = rng.choice([value + "x", value.upper(), "../" + value, value + "\0", value * 300])
    elif op == 6:
        container[key] = _deep(rng.choice([10, 49, 60]))
    elif op == 7:
        container[key] = [value] * rng.choice([0, 2, 2000])
    else:
        container[key] = {"name": value} if not isinstance(value, dict) else list(value)


def _dump(data) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def _text_mutation(rng: random.Random, text: str) -> bytes:
    op = rng.randrange(7)
    if op == 0:  # an alias bomb in a protocol option, or in the description
        bomb = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
            f"{c}: &{c} [{','.join([f'*{p}'] * 9)}]\n" for p, c in zip("abcdefg", "bcdefgh")
        )
        return (bomb + text.replace("description:", "description: *h\nx_description:", 1)).encode()
    if op == 1:
        return text.encode(rng.choice(["utf-16", "utf-16-le", "utf-32"]))
    if op == 2:
        return text.encode() + "caf\xe9".encode("latin-1")
    if op == 3:
        return text.encode()[: rng.randrange(len(text) + 1)]
    if op == 4:
        at = rng.randrange(len(text) + 1)
        return (
            text[:at]
            + rng.choice(["\0", "\t", "[", "}", ": :", "&x", "*nope", "\x1b", "!!python/object:os.system"])
            + text[at:]
        ).encode()
    if op == 5:
        return ("description: " + "[" * 50_000 + "]" * 50_000 + "\n" + text).encode()
    return ("x: &r [*r]\n" + text).encode()


def _overrides(rng: random.Random) -> dict:
    pick = rng.randrange(4)
    if pick == 0:
        return {"seeds": rng.choice([[-1], [2**64], [], list(range(2000)), [0, 1]])}
    if pick == 1:
        return {"budget_scale": rng.choice([math.inf, math.nan, 0.0, -1.0, 1e308, 0.1])}
    if pick == 2:
        return {"device": rng.choice(["tpu", "", "cuda:0", "../x", "cpu"])}
    return {}


class _Hung(Exception):
    pass


def _alarm(signum, frame):
    raise _Hung


def _check_accepted(suite, root: Path) -> list[str]:
    """What is wrong with a suite the loader accepted (nothing, if validation has no way around it)."""
    wrong = []
    store = ResultStore(root)
    for spec in suite.runs:
        if not (is_name(spec.suite) and isinstance(spec.seed, int) and 0 <= spec.seed < 2**32):
            wrong.append(f"unsafe name or seed: {spec.suite!r} {spec.seed!r}")
        if not (0 < spec.budget_scale <= 100 and all(math.isfinite(v) and v > 0 for v in spec.budget.values())):
            wrong.append(f"budget {spec.budget} x {spec.budget_scale}")
        for key, param in declared(PROTOCOLS[spec.protocol].options).items():
            if key not in spec.protocol_options:  # an option at its default left out (labels: all)
                continue
            if param.check(spec.protocol_options[key]):
                wrong.append(f"option {key}={spec.protocol_options[key]!r}")
        path = store.path_for(spec)
        if not path.resolve().is_relative_to(root.resolve()):
            wrong.append(f"path {path} outside {root}")
        spec.key  # noqa: B018 - the identity hashes (a bomb would hang here)
    return wrong


def _check_rejected(problems: list[str], path: Path) -> list[str]:
    bad = []
    for line in problems:
        origin = (
            f"{path}: "
            if line.startswith(f"{path}: ")
            else "command line: "
            if line.startswith("command line: --")
            else None
        )
        rest = line[len(origin) :] if origin else ""
        key, sep, text = rest.partition(": ")
        if origin is None or "\n" in line or not sep or not key or not text or len(rest) > 320:
            bad.append(line[:400])
    return bad


@pytest.mark.slow  # every shipped suite mutated: ~10 s of CPU
def test_fuzzed_suites_are_accepted_or_refused_in_one_line_never_crash_or_hang(tmp_path, capsys):
    reg = registry.load()
    texts = [p.read_text() for p in SUITES]
    trees = [yaml.safe_load(t) for t in texts]
    rng = random.Random(SEED)
    figures = {
        "cases": 0,
        "rejected": 0,
        "accepted": 0,
        "crashed": 0,
        "hung": 0,
        "bad lines": 0,
        "accepted but invalid": 0,
    }
    examples: list[str] = []
    previous = signal.signal(signal.SIGALRM, _alarm)
    slowest = 0.0
    try:
        for case in range(CASES):
            i = rng.randrange(len(SUITES))
            if rng.random() < 0.2:
                content = _text_mutation(rng, texts[i])
            else:
                data = copy.deepcopy(trees[i])
                for _ in range(rng.randint(1, 3)):
                    _mutate_tree(rng, data)
                content = _dump(data).encode()
            overrides = _overrides(rng) if rng.random() < 0.2 else {}
            path = tmp_path / f"case{case}-{SUITES[i].name}"
            path.write_bytes(content)
            figures["cases"] += 1
            start = time.perf_counter()
            signal.setitimer(signal.ITIMER_REAL, CASE_SECONDS)
            try:
                suite = load_suite(path, reg, **overrides)
                wrong = _check_accepted(suite, tmp_path / "results")
                figures["accepted"] += 1
                if wrong:
                    figures["accepted but invalid"] += 1
                    examples.append(f"accepted {path.name}: {wrong[0]}")
            except SuiteError as exc:
                figures["rejected"] += 1
                bad = _check_rejected(exc.problems, path)
                figures["bad lines"] += len(bad)
                examples += [f"bad line {path.name}: {b}" for b in bad[:1]]
            except _Hung:
                figures["hung"] += 1
                examples.append(f"hung {path.name}")
            except Exception:  # noqa: BLE001 - what the fuzzer is here to find
                figures["crashed"] += 1
                examples.append(f"crashed {path.name}: {traceback.format_exc(limit=-2)[-600:]}")
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
                slowest = max(slowest, time.perf_counter() - start)
    finally:
        signal.signal(signal.SIGALRM, previous)
    with capsys.disabled():
        print(
            f"\nsuite fuzzer (seed {SEED}): "
            + ", ".join(f"{k} {v}" for k, v in figures.items())
            + f"; slowest case {slowest:.2f} s"
        )
    assert figures["cases"] == CASES and figures["rejected"] > CASES // 2 and figures["accepted"] > 0
    assert figures["crashed"] == figures["hung"] == figures["bad lines"] == figures["accepted but invalid"] == 0, (
        "\n".join(examples[:10])
    )


@pytest.mark.parametrize("name", [p.name for p in SUITES])
def test_the_shipped_suites_survive_a_round_trip_through_the_fuzzers_writer(name, tmp_path):
    # The fuzzer rewrites suites with yaml.safe_dump: an unmutated suite must stay valid that way
    # (loaded, not only re-parsed: a suite the loader refuses would make every mutation of it a
    # rejection the fuzzer counts as a pass).
    path = Path(__file__).parents[1] / "suites" / name
    rewritten = tmp_path / name
    rewritten.write_text(_dump(yaml.safe_load(path.read_text())))
    reg = registry.load()
    assert load_suite(rewritten, reg).runs == load_suite(path, reg).runs
