"""bench.timing: warm-up calls untimed, each repeat timed on its own, the median and spread of the
seconds and the median rate."""

import time

import pytest
import torch

from bench.timing import measure, summarize

CPU = torch.device("cpu")


def test_warm_up_calls_are_not_timed_and_each_repeat_is():
    calls = []

    def fn():
        calls.append(len(calls))
        time.sleep(0.05 if len(calls) <= 2 else 0.002)  # slow warm-up (compilation, caches)

    out = measure(fn, CPU, items=10, warmup=2, repeats=3)
    assert len(calls) == 5 and out["repeats"] == 3 and len(out["samples_s"]) == 3
    assert out["max_s"] < 0.04  # neither slow warm-up call was timed
    assert out["min_s"] <= out["median_s"] <= out["max_s"]
    assert out["items_per_s"] == pytest.approx(10 / out["median_s"], rel=0.5)


def test_the_rate_is_the_median_of_per_repeat_rates_with_uneven_items():
    out = summarize([1.0, 2.0, 4.0], [10, 10, 40])
    assert out["median_s"] == 2.0 and out["items_per_s"] == 10.0  # rates 10, 5, 10
    assert out["items_per_repeat"] == [10, 10, 40]
    assert summarize([0.5, 0.5], 4)["items_per_repeat"] == 4
    assert summarize([0.0], 4)["items_per_s"] is None  # no rate from a zero reading
