"""bench.restoration.resize: MATLAB's imresize (bicubic, antialiased when shrinking), checked
against imresize.m's ``contributions`` written out with loops."""

import math

import numpy as np
import pytest
import torch

from bench.restoration.resize import imresize, imresize_uint8, resize_matrix


def matlab_contributions(in_len, out_len, scale):
    """MATLAB imresize.m's ``contributions`` written out with loops (1-based, as in MATLAB)."""
    kernel_width = 4.0
    if scale < 1:
        h = lambda x: scale * _cubic(scale * x)  # noqa: E731
        kernel_width /= scale
    else:
        h = _cubic
    aux = list(range(1, in_len + 1)) + list(range(in_len, 0, -1))
    weights = np.zeros((out_len, in_len))
    for x in range(1, out_len + 1):
        u = x / scale + 0.5 * (1 - 1 / scale)
        left = math.floor(u - kernel_width / 2)
        taps = [left + j for j in range(math.ceil(kernel_width) + 2)]
        w = np.array([h(u - t) for t in taps])
        w /= w.sum()
        for t, wt in zip(taps, w):
            weights[x - 1, aux[(t - 1) % len(aux)] - 1] += wt
    return weights


def _cubic(x):
    a = abs(x)
    if a <= 1:
        return 1.5 * a**3 - 2.5 * a**2 + 1
    if a <= 2:
        return -0.5 * a**3 + 2.5 * a**2 - 4 * a + 2
    return 0.0


@pytest.mark.parametrize("in_len,scale", [(12, 1 / 2), (13, 1 / 3), (17, 1 / 4), (7, 2.0), (5, 3.0), (9, 4.0)])
def test_resize_matrix_is_matlabs_contributions(in_len, scale):
    out_len = math.ceil(in_len * scale)
    ours = resize_matrix(in_len, out_len, scale, dtype=torch.float64).numpy()
    np.testing.assert_allclose(ours, matlab_contributions(in_len, out_len, scale), atol=1e-12)
    np.testing.assert_allclose(ours.sum(1), 1.0, atol=1e-12)


def test_imresize_is_separable_differentiable_and_rounds_like_matlab_uint8():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 9, 11, dtype=torch.float64, generator=g)
    y = imresize(x, 1 / 3)
    assert y.shape == (2, 3, 4)
    rows, cols = resize_matrix(9, 3, 1 / 3, dtype=torch.float64), resize_matrix(11, 4, 1 / 3, dtype=torch.float64)
    torch.testing.assert_close(y[1], rows @ x[1] @ cols.T)
    x.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: imresize(t, 0.5), (x[:, :6, :8],))
    constant = torch.full((1, 8, 8), 200, dtype=torch.uint8)
    assert torch.equal(imresize_uint8(constant, 0.5), torch.full((1, 4, 4), 200, dtype=torch.uint8))
    ramp = (torch.arange(16, dtype=torch.uint8) * 15).repeat(1, 16, 1)
    assert imresize_uint8(ramp, 0.25).dtype == torch.uint8
