"""bench.data.loader: crops, flips, normalisation, batches by index, and the random-resized crop
(torchvision's box distribution, PIL's bicubic resize, seeded)."""

import math
import random

import numpy as np
import pytest
import torch
from PIL import Image

from bench.data.images import LabelledImages
from bench.data.loader import (
    Augment,
    Normalize,
    iterate_batches,
    random_crop,
    random_flip,
    random_resized_crop,
    resized_crop_boxes,
)


def images(n=16, c=3, h=6, w=5):
    return torch.randint(0, 256, (n, c, h, w), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)


def test_random_crop_is_a_window_of_the_zero_padded_image():
    x = images()
    out = random_crop(x, 2, torch.Generator().manual_seed(1))
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    for i in range(len(x)):
        windows = [padded[i, :, dy : dy + 6, dx : dx + 5] for dy in range(5) for dx in range(5)]
        assert any(torch.equal(out[i], w) for w in windows)
    assert out.dtype == torch.uint8 and out.shape == x.shape
    # Offsets vary across the batch (not one shift for all).
    assert len({tuple(o.flatten()[:8].tolist()) for o in out}) > 1


def test_reflect_padding_keeps_pixels_from_the_image():
    x = images(4, 1, 4, 4)
    out = random_crop(x, 1, torch.Generator().manual_seed(0), mode="reflect")
    assert set(out.unique().tolist()) <= set(x.unique().tolist())


def test_random_flip_flips_about_half():
    x = images(200)
    out = random_flip(x, torch.Generator().manual_seed(0))
    flipped = [torch.equal(o, i.flip(2)) and not torch.equal(o, i) for o, i in zip(out, x)]
    kept = [torch.equal(o, i) for o, i in zip(out, x)]
    assert all(f or k for f, k in zip(flipped, kept))
    assert 60 < sum(flipped) < 140


def test_normalize_matches_channel_statistics():
    x = images(64)
    norm = Normalize.fit(x)
    ref = x.double() / 255
    assert torch.allclose(torch.tensor(norm.mean), ref.mean(dim=(0, 2, 3)).float(), atol=1e-6)
    assert torch.allclose(torch.tensor(norm.std), ref.std(dim=(0, 2, 3), unbiased=False).float(), atol=1e-6)
    y = norm(x)
    assert y.dtype == torch.float32
    assert torch.allclose(y.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-4)
    assert torch.allclose(y.std(dim=(0, 2, 3), unbiased=False), torch.ones(3), atol=1e-4)


def test_batches_cover_every_image_once_per_epoch_and_are_reproducible():
    data = LabelledImages(images(23), torch.arange(23), tuple("abcdefghijklmnopqrstuvw"))
    norm = Normalize([0.5] * 3, [0.25] * 3, torch.device("cpu"))

    def labels(seed, **kw):
        return [y.tolist() for _, y in iterate_batches(data, 5, norm, torch.Generator().manual_seed(seed), **kw)]

    batches = labels(0)
    assert sorted(sum(batches, [])) == list(range(23)) and [len(b) for b in batches] == [5, 5, 5, 5, 3]
    assert labels(0) == batches and labels(1) != batches
    assert [len(b) for b in labels(0, drop_last=True)] == [5, 5, 5, 5]
    assert sum(labels(0, shuffle=False), []) == list(range(23))
    x, _ = next(iterate_batches(data, 4, norm, torch.Generator(), shuffle=False))
    assert torch.allclose(x, (data.images[:4].float() / 255 - 0.5) / 0.25, atol=1e-5)


def test_augment_composes_crop_and_flip():
    x = images(8)
    out = Augment(crop_padding=1, flip=True)(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out.dtype == torch.uint8


# -- the random-resized crop: torchvision's box distribution, PIL's bicubic resize, seeded -----------


SCALE, RATIO = (0.2, 1.0), (3 / 4, 4 / 3)


def reference_box(rng: random.Random, height: int, width: int, scale=SCALE, ratio=RATIO):
    """torchvision's RandomResizedCrop.get_params written out per image (the algorithm we batch)."""
    area = height * width
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        target = area * rng.uniform(*scale)
        aspect = math.exp(rng.uniform(*log_ratio))
        w, h = int(round(math.sqrt(target * aspect))), int(round(math.sqrt(target / aspect)))
        if 0 < w <= width and 0 < h <= height:
            return rng.randint(0, height - h), rng.randint(0, width - w), h, w
    return (height - height) // 2, (width - width) // 2, height, width


def test_boxes_follow_torchvisions_area_and_aspect_distributions():
    n, size = 20000, 32
    boxes = resized_crop_boxes(n, size, size, SCALE, RATIO, torch.Generator().manual_seed(0), "cpu").double()
    top, left, h, w = boxes.unbind(1)
    assert (top >= 0).all() and (left >= 0).all() and (top + h <= size).all() and (left + w <= size).all()
    rng = random.Random(0)
    ref = torch.tensor([reference_box(rng, size, size) for _ in range(n)], dtype=torch.float64)
    quantiles = torch.tensor([0.05, 0.25, 0.5, 0.75, 0.95], dtype=torch.float64)
    for ours, theirs, tol in [
        (h * w / size**2, ref[:, 2] * ref[:, 3] / size**2, 0.02),  # area fraction
        ((w / h).log(), (ref[:, 3] / ref[:, 2]).log(), 0.03),  # log aspect ratio
        ((top + h / 2) / size, (ref[:, 0] + ref[:, 2] / 2) / size, 0.02),  # vertical centre
    ]:
        assert torch.allclose(ours.quantile(quantiles), theirs.quantile(quantiles), atol=tol)
    area = h * w / size**2
    # Rounding to whole pixels widens the ranges slightly; the bulk stays inside them.
    assert area.min() > 0.17 and area.max() <= 1 and 0.55 < area.mean() < 0.65
    assert ((w / h) >= 0.7).all() and ((w / h) <= 1 / 0.7).all()


def test_a_box_that_never_fits_falls_back_to_the_centred_whole_image():
    # A 4x40 image: a quarter-or-more of the area at aspect <= 4/3 never fits within 4 rows.
    boxes = resized_crop_boxes(50, 4, 40, (0.5, 1.0), RATIO, torch.Generator().manual_seed(0), "cpu")
    assert boxes.tolist() == [[0, (40 - 5) // 2, 4, 5]] * 50  # ratio clamped to 4/3: width round(4 * 4/3)


def test_the_crop_is_pils_bicubic_resize_of_the_box():
    x = torch.randint(0, 256, (32, 3, 20, 24), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    out = random_resized_crop(x, torch.Generator().manual_seed(1), SCALE, RATIO)
    boxes = resized_crop_boxes(32, 20, 24, SCALE, RATIO, torch.Generator().manual_seed(1), "cpu")
    assert out.shape == x.shape and out.dtype == torch.uint8
    diffs = []
    for image, (top, left, h, w) in zip(x, boxes.tolist()):
        pil = Image.fromarray(image.permute(1, 2, 0).numpy()).crop((left, top, left + w, top + h))
        ref = torch.from_numpy(np.array(pil.resize((24, 20), Image.BICUBIC))).permute(2, 0, 1)
        diffs.append((ref.int() - out[len(diffs)].int()).abs())
    diffs = torch.stack(diffs)
    assert diffs.max() <= 1 and (diffs > 0).float().mean() < 0.01  # PIL's fixed-point rounding only


def test_the_whole_image_at_its_size_is_left_as_it_is():
    x = torch.randint(0, 256, (4, 1, 9, 9), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    # scale (1, 1) with ratio 1: every box is the whole image.
    assert torch.equal(random_resized_crop(x, torch.Generator().manual_seed(0), (1.0, 1.0), (1.0, 1.0)), x)


def test_the_crop_is_seeded_by_the_generator_and_varies_per_image():
    x = torch.randint(0, 256, (16, 3, 16, 16), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    a = random_resized_crop(x, torch.Generator().manual_seed(5), SCALE)
    b = random_resized_crop(x, torch.Generator().manual_seed(5), SCALE)
    c = random_resized_crop(x, torch.Generator().manual_seed(6), SCALE)
    assert torch.equal(a, b) and not torch.equal(a, c)
    boxes = resized_crop_boxes(16, 16, 16, SCALE, RATIO, torch.Generator().manual_seed(5), "cpu")
    assert len({tuple(box) for box in boxes.tolist()}) > 8


def test_augment_applies_the_resized_crop_then_flip():
    x = torch.randint(0, 256, (8, 3, 16, 16), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    out = Augment(resized_crop=SCALE, flip=True)(x, torch.Generator().manual_seed(3))
    g = torch.Generator().manual_seed(3)
    cropped = random_resized_crop(x, g, SCALE)
    flip = torch.rand(8, generator=g) < 0.5
    assert torch.equal(out, torch.where(flip[:, None, None, None], cropped.flip(3), cropped))


def test_bad_scales_are_refused():
    with pytest.raises(ValueError, match=r"scale must be \(min, max\)"):
        resized_crop_boxes(1, 8, 8, (0.0, 1.0), RATIO, torch.Generator(), "cpu")


def test_mae_pre_trains_with_the_resized_crop_and_flip(monkeypatch):
    from bench.context import PretrainData, RunContext
    from bench.data.loader import Normalize
    from bench.specs import Budget
    from bench_plugins.methods import mae

    made = []
    monkeypatch.setattr(mae, "Augment", lambda **kw: made.append(kw) or Augment(**kw))
    images = torch.randint(0, 256, (8, 1, 8, 8), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    params = {
        **mae.PARAMS,
        "patch_size": 4,
        "dim": 8,
        "depth": 1,
        "heads": 2,
        "decoder_dim": 8,
        "decoder_depth": 1,
        "decoder_heads": 2,
        "batch_size": 8,
    }
    ctx = RunContext(
        device=torch.device("cpu"),
        seed=0,
        budget=Budget({"epochs": 1}),
        params=params,
        normalize=Normalize.fit(images),
        artifacts_dir=None,
    )
    mae.fit_mae(PretrainData(images), ctx)
    assert made == [{"resized_crop": (0.2, 1.0), "crop_padding": 0, "flip": True}]  # main_pretrain.py's
