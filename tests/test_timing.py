"""bench.timing: warm-up calls untimed, each repeat timed on its own, the median and spread of the
seconds and the median rate."""

import torch

from bench import timing
from bench.timing import summarize

CPU = torch.device("cpu")


def test_warm_up_calls_are_not_timed_and_each_repeat_is(monkeypatch):
    """On a fake clock (no sleeping, nothing timing-dependent): the warm-up calls take 5 s each,
    the timed ones 1, 2 and 3 s."""
    clock = [0.0]
    monkeypatch.setattr(timing.time, "perf_counter", lambda: clock[0])
    took = iter([5.0, 5.0, 1.0, 2.0, 3.0])

    def fn():
        clock[0] += next(took)

    out = timing.measure(fn, CPU, items=10, warmup=2, repeats=3)
    assert out["samples_s"] == [1.0, 2.0, 3.0] and out["repeats"] == 3  # neither warm-up call timed
    assert (out["median_s"], out["min_s"], out["max_s"]) == (2.0, 1.0, 3.0)
    assert out["items_per_s"] == 5.0  # the median of 10, 5 and 3.33 items per second
    assert next(took, None) is None  # every call made: 2 warm-up, 3 timed


def test_the_rate_is_the_median_of_per_repeat_rates_with_uneven_items():
    out = summarize([1.0, 2.0, 4.0], [10, 10, 40])
    assert out["median_s"] == 2.0 and out["items_per_s"] == 10.0  # rates 10, 5, 10
    assert out["items_per_repeat"] == [10, 10, 40]
    assert summarize([0.5, 0.5], 4)["items_per_repeat"] == 4
    assert summarize([0.0], 4)["items_per_s"] is None  # no rate from a zero reading
