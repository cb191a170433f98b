"""The host's random-resized crop: torchvision's box distribution, PIL's bicubic resize, seeded."""

import math
import random

import numpy as np
import pytest
import torch
from PIL import Image

from bench.data.loader import Augment, random_resized_crop, resized_crop_boxes

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
