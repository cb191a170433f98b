"""The classical restorers (plugins/methods/classical.py): bicubic is MATLAB's imresize of the LR
image, degraded-input returns the observed image, and each refuses a task it does not do."""

import pytest
import torch

import restoration_toy
from bench.restoration.degrade import Degradation, make_problem
from bench.restoration.images import RestorationImage
from bench.restoration.resize import imresize
from bench_plugins.methods import classical

CPU = torch.device("cpu")


def problem(task, **kw):
    clean = RestorationImage("img", restoration_toy.smooth_image(3, 24, 20, 0))
    return make_problem(Degradation(task, **kw).apply(clean), CPU)


def test_bicubic_is_matlabs_imresize_of_the_lr_image_at_the_clean_size():
    sr = problem("sr", scale=2)
    out = classical.restore_bicubic(sr, None)
    assert out.shape == sr.output_shape == (3, 24, 20)
    assert torch.allclose(out, imresize(sr.observed.double(), 2.0, (24, 20)).float())
    with pytest.raises(ValueError, match="bicubic restores SR only"):
        classical.restore_bicubic(problem("denoise", sigma=25.0), None)


def test_degraded_input_is_the_observed_image_a_copy_and_has_no_sr_output():
    noisy = problem("denoise", sigma=25.0)
    out = classical.restore_identity(noisy, None)
    assert torch.equal(out, noisy.observed) and out.data_ptr() != noisy.observed.data_ptr()
    with pytest.raises(ValueError, match="degraded-input has no SR output"):
        classical.restore_identity(problem("sr", scale=2), None)
