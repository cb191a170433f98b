"""IFS sampling and the batched chaos-game renderer (plugins/methods/fractal.py): the sigma factor,
contractions, the parallel chaos game equal to the sequential one, bounds, determinism, pasting."""

import pytest
import torch

from bench_plugins.methods import fractal


def system(seed: int, sigma: float = 3.5):
    maps, drawn = fractal.sample_system(2, sigma, torch.Generator().manual_seed(seed))
    return maps, fractal.map_probabilities(maps), drawn


@pytest.mark.parametrize("seed", range(5))
def test_sampled_systems_meet_the_sigma_factor_and_are_contractions(seed):
    maps, probs, drawn = system(seed)
    assert 3.4 <= drawn <= 3.6  # sigma 3.5 +- 0.1
    s = torch.linalg.svdvals(maps[:, :, :2])  # (2, 2), descending
    assert (s <= 1 + 1e-9).all() and (s >= 0).all()
    assert (s[:, 0] + 2 * s[:, 1]).sum().item() == pytest.approx(drawn, abs=1e-9)
    assert (maps[:, :, 2].abs() <= 1).all()
    det = torch.linalg.det(maps[:, :, :2]).abs()
    assert torch.allclose(probs, det / det.sum())


def test_the_parallel_chaos_game_is_the_sequential_one():
    maps, probs, _ = system(3)
    copies = fractal.perturb(maps, 3, 0.1, torch.Generator().manual_seed(0))
    points = fractal.chaos_game(copies, probs.expand(3, -1), 700, seed=5, chunk=64)  # 11 chunks, ragged end
    uniforms = fractal._map_uniforms(700, 5, torch.device("cpu"))
    cdf = probs.cumsum(0)
    for b in range(3):
        p = torch.zeros(2, dtype=torch.float64)
        expected = [p.clone()]
        for u in uniforms:
            j = min(int((cdf < u).sum()), 1)  # first map whose cdf reaches u
            p = copies[b, j, :, :2] @ p + copies[b, j, :, 2]
            expected.append(p.clone())
        assert torch.allclose(points[b].double(), torch.stack(expected), atol=1e-5)


def test_rendered_points_stay_in_bounds_and_renders_are_deterministic_per_seed():
    maps, probs, _ = system(1)
    copies = fractal.perturb(maps, 4, 0.1, torch.Generator().manual_seed(1))
    size, pad = 48, 6
    points = fractal.chaos_game(copies, probs.expand(4, -1), 3000)
    x, y, valid = fractal.pixel_coordinates(points, size, pad)
    assert x.min() >= pad and y.min() >= pad and x.max() <= size - pad and y.max() <= size - pad
    assert x[0].min() == pad and x[0].max() == size - pad  # min-max scaled: both ends reached
    # Copy 1's likelier map expands after the perturbation (singular value 1.09): its points run off
    # to infinity; they are left out and its picture is nearly empty, which the fill rate rejects.
    assert valid[0].all() and not valid[1].all()
    images = fractal.render(copies, probs.expand(4, -1), size=size, points=3000, pad=pad, seed=7)
    assert images.dtype == torch.uint8 and images.shape == (4, 1, size, size)
    assert set(images.unique().tolist()) == {0, fractal.GRAY}
    ink = images[:, 0] > 0  # patches start 1 px past the point
    assert not ink[:, :, : pad + 1].any() and not ink[:, :, size - pad + 4 :].any()
    assert not ink[:, size - pad - 1 :, :].any() and not ink[:, : pad - 4, :].any()  # rows flipped (y up)
    assert torch.equal(images, fractal.render(copies, probs.expand(4, -1), size=size, points=3000, pad=pad, seed=7))
    assert not torch.equal(images, fractal.render(copies, probs.expand(4, -1), size=size, points=3000, pad=pad, seed=8))
    with pytest.raises(ValueError, match="pad"):
        fractal.render(copies, probs.expand(4, -1), size=size, points=100, pad=2)


def test_the_last_patch_pasted_wins():
    """Two points on one pixel: the later one's 3x3 mask decides every cell (paste, not OR)."""
    points = torch.tensor([[[0.0, 0.0], [1.0, 1.0], [0.0, 0.0]]])  # point 2 repeats point 0
    masks = torch.tensor([[0b111111111, 0b100000000, 0b000000001]])
    image = fractal.rasterize(points, masks, size=16, pad=4)[0, 0].flip(0)  # back to y down
    assert image[5:8, 5:8].tolist() == [[0, 0, 0], [0, 0, 0], [0, 0, fractal.GRAY]]
    assert image[13, 13] == fractal.GRAY and image.count_nonzero() == 2  # point 1: top-left cell only
