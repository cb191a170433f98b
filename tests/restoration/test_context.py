"""bench.restoration.context: RestoreContext, the restorer's context: the old log form still works,
it measures its own rates as a classifier's does."""

import pytest
import torch

from bench.context import bookkeeping
from bench.restoration.context import RestoreContext
from bench.specs import Budget


def make_restore_context(**kw) -> RestoreContext:
    return RestoreContext(device=torch.device("cpu"), seed=3, budget=Budget({"iterations": 4}), params={"a": 1}, **kw)


def test_the_old_restore_log_form_still_works_with_a_deprecation_warning():
    ctx = make_restore_context()
    with pytest.warns(DeprecationWarning, match=r"call ctx.log\(\*\*scalars\)"):
        ctx.log(7, loss=0.5)
    assert bookkeeping(ctx).curves == [{"iteration": 7, "loss": 0.5}]


def test_a_restorer_measures_its_own_rates_as_a_classifier_does():
    ctx = make_restore_context()
    ctx.timed("render_images_per_s", lambda: None, items=2, label="render img/s", unit="images/s")
    rate = bookkeeping(ctx).throughputs["render_images_per_s"]
    assert rate["label"] == "render img/s" and rate["calls"] == 1
