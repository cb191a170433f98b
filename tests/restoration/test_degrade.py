"""bench.restoration.degrade: noise fixed per image and seed, SR's modcrop and uint8 LR image,
inpainting masks."""

import pytest
import torch

import restoration_toy
from bench.restoration.degrade import Degradation, image_seed, modcrop
from bench.restoration.images import RestorationImage
from bench.restoration.metrics import to_uint8
from bench.restoration.resize import imresize_uint8


def tiny_item(channels=3, h=26, w=23, seed=0, mask=None):
    return RestorationImage("img", restoration_toy.smooth_image(channels, h, w, seed), mask)


def test_noise_is_fixed_per_image_and_protocol_seed_and_has_the_asked_sigma():
    item = RestorationImage("a", torch.full((1, 200, 200), 128, dtype=torch.uint8))
    d = Degradation("denoise", sigma=25.0)
    first, again = d.apply(item).observed, d.apply(item).observed
    assert torch.equal(first, again)
    other = Degradation("denoise", sigma=25.0).apply(RestorationImage("b", item.image)).observed
    assert not torch.equal(first, other)
    assert (first - 128 / 255).std().item() * 255 == pytest.approx(25.0, rel=0.02)
    dark = RestorationImage("a", torch.zeros(1, 64, 64, dtype=torch.uint8))
    assert Degradation("denoise", sigma=25.0).apply(dark).observed.min() < 0  # kept, not clipped
    assert Degradation("denoise", sigma=25.0, noise_clip="clip").apply(dark).observed.min() == 0
    assert image_seed(0, "a") != image_seed(1, "a")


def test_sr_degradation_modcrops_and_makes_a_uint8_lr_image():
    item = tiny_item(h=26, w=23)
    d = Degradation("sr", scale=3).apply(item)
    assert d.clean.shape == (3, 24, 21) and torch.equal(d.clean, modcrop(item.image, 3))
    assert d.observed.shape == (3, 8, 7)
    assert torch.equal((d.observed * 255).round() / 255, d.observed)
    assert torch.equal(to_uint8(d.observed), imresize_uint8(d.clean, 1 / 3))


def test_inpainting_masks_random_with_the_drop_ratio_or_from_the_set():
    item = tiny_item(h=100, w=100)
    d = Degradation("inpaint", drop_ratio=0.5).apply(item)
    assert d.mask.shape == (1, 100, 100) and abs(d.mask.float().mean().item() - 0.5) < 0.03
    assert torch.all(d.observed[:, d.mask[0] == 0] == 0)
    given = torch.ones(1, 100, 100, dtype=torch.uint8)
    given[:, :10] = 0
    d2 = Degradation("inpaint", mask="dataset").apply(tiny_item(h=100, w=100, mask=given))
    assert torch.equal(d2.mask, given)
    with pytest.raises(ValueError, match="no inpainting mask"):
        Degradation("inpaint", mask="dataset").apply(item)
    with pytest.raises(ValueError, match="drop_ratio"):
        Degradation("inpaint", drop_ratio=1.5)
