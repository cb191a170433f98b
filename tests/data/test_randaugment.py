"""RandAugment (timm's rand-m9-mstd0.5-inc1), batched: the draws' statistics, each op against its
PIL definition, and the whole transform's share of untouched images."""

import pytest
import torch

from bench.data import randaugment as ra


def images(n=64, c=3, size=16, seed=0):
    return torch.randint(0, 256, (n, c, size, size), generator=torch.Generator().manual_seed(seed)).float()


def test_draws_follow_timm_uniform_ops_half_applied_magnitude_n_9_half_clipped():
    d = ra.draw(40_000, 2, 9.0, 0.5, 0.5, torch.Generator().manual_seed(0), "cpu")
    counts = torch.bincount(d["op"].flatten(), minlength=len(ra.OPS)).float() / d["op"].numel()
    assert counts.min() > 1 / 15 - 0.005 and counts.max() < 1 / 15 + 0.005  # uniform over the 15 ops
    assert abs(d["applies"].float().mean().item() - 0.5) < 0.005
    m = d["magnitude"]
    assert abs(m.mean().item() - 9.0) < 0.01 and abs(m.std().item() - 0.5) < 0.01 and m.max() <= 10
    assert abs((d["sign"] > 0).float().mean().item() - 0.5) < 0.005
    wide = ra.draw(10_000, 1, 9.0, 5.0, 0.5, torch.Generator().manual_seed(0), "cpu")["magnitude"]
    assert wide.min() == 0 and wide.max() == 10  # clipped to [0, 10]


def one(name, x, level=0.9, sign=1.0, fill=(0.0, 0.0, 0.0)):
    n = len(x)
    return ra.apply_ops(
        x,
        torch.full((n,), ra.OPS.index(name)),
        torch.full((n,), level),
        torch.full((n,), sign),
        ra.fill_tensor(fill, x),
    )


def test_pixel_ops_match_their_pil_definitions_at_magnitude_9():
    x = images()
    assert torch.equal(one("Invert", x), 255 - x)
    assert torch.equal(one("PosterizeIncreasing", x), (x / 128).floor() * 128)  # 4 - int(3.6) = 1 bit
    assert torch.equal(one("SolarizeIncreasing", x), torch.where(x >= 26, 255 - x, x))  # 256 - int(230.4)
    assert torch.equal(one("SolarizeAdd", x), torch.where(x < 128, (x + 99).clamp(max=255), x))  # int(99)
    assert torch.equal(one("BrightnessIncreasing", x), (1.81 * x).clamp(0, 255).floor())
    assert torch.equal(one("BrightnessIncreasing", x, sign=-1.0), (0.19 * x).floor())
    gray = x[:, :1].expand_as(x)
    assert torch.equal(one("ColorIncreasing", gray), gray)  # no colour to saturate
    low = x / 4 + 50  # 50..113.75
    stretched = one("AutoContrast", low.round())
    assert (stretched.amin((2, 3)) == 0).all() and (stretched.amax((2, 3)) == 255).all()
    flat = torch.full((2, 3, 8, 8), 77.0)
    for name in ("AutoContrast", "Equalize", "SharpnessIncreasing", "ContrastIncreasing"):
        assert torch.equal(one(name, flat), flat), name  # nothing to stretch, equalise, sharpen
    eq = one("Equalize", x)
    hist = torch.stack([torch.histc(e, 4, 0, 256) for e in eq.flatten(1)])
    assert (hist / eq[0].numel() - 0.25).abs().max() < 0.05  # flattened histogram
    contrast = one("ContrastIncreasing", x, sign=-1.0)  # factor 0.19 towards the mean
    assert (contrast.std((1, 2, 3)) < 0.25 * x.std((1, 2, 3))).all()
    assert one("SharpnessIncreasing", x).std() > x.std()


def test_geometric_ops_move_pixels_as_pil_affine_transforms_do():
    x = torch.zeros(1, 1, 20, 20)
    x[0, 0, 5, 3] = 200.0  # one bright pixel at (x 3, y 5)
    moved = one("TranslateXRel", x, level=1 / 0.45 * 0.1, fill=(7.0,))  # 0.1 of 20 = 2 px: input x = out x + 2
    assert moved[0, 0, 5, 1] == 200 and moved[0, 0, :, -2:].eq(7).all()  # uncovered columns take the fill
    down = one("TranslateYRel", x, level=1 / 0.45 * 0.1, sign=-1.0)
    assert down[0, 0, 7, 3] == 200
    square = torch.zeros(1, 1, 21, 21)
    square[0, 0, 4:17, 10] = 255.0  # a vertical bar through the centre
    turned = one("Rotate", square, level=3.0)  # 30 * 3 = 90 degrees
    assert torch.equal(turned[0, 0, 10, 4:17], torch.full((13,), 255.0)) and turned[0, 0, 4:17, 10].sum() == 255
    sheared = one("ShearX", square, level=1 / 0.3 * 0.5)  # input x = out x + 0.5 y
    col = sheared[0, 0].argmax(1)
    assert col[4] > col[16]  # the bar leans
    assert torch.equal(one("ShearY", square, level=0.0), square)  # magnitude 0: identity


def test_the_transform_leaves_about_a_quarter_of_images_untouched_and_is_seeded():
    x = images(n=4000, size=8, seed=1)
    out = ra.rand_augment(x, torch.Generator().manual_seed(0))
    untouched = (out == x).flatten(1).all(1).float().mean().item()
    assert 0.25 <= untouched < 0.25 + 0.05  # (1 - 0.5)^2, plus ops that changed nothing
    assert out.min() >= 0 and out.max() <= 255 and torch.equal(out, out.round())
    assert torch.equal(out, ra.rand_augment(x, torch.Generator().manual_seed(0)))
    assert not torch.equal(out, ra.rand_augment(x, torch.Generator().manual_seed(1)))
    none = ra.rand_augment(x, torch.Generator().manual_seed(0), prob=0.0)
    assert torch.equal(none, x)
    gray = ra.rand_augment(x[:, :1], torch.Generator().manual_seed(0))  # one channel: the fill's mean
    assert gray.shape == (4000, 1, 8, 8)
    assert ra.fill_tensor(ra.IMAGENET_MEAN_PIXELS, gray).item() == pytest.approx(344 / 3)


def test_timm_config_strings_parse_to_the_transform_arguments():
    assert ra.parse_config("rand-m9-mstd0.5-inc1") == {"magnitude": 9.0, "magnitude_std": 0.5}
    assert ra.parse_config("rand-m7-n3-p0.8-mstd1-inc1") == {
        "magnitude": 7.0,
        "layers": 3,
        "prob": 0.8,
        "magnitude_std": 1.0,
    }
    with pytest.raises(ValueError, match="only the increasing op set"):
        ra.parse_config("rand-m9-mstd0.5")
    with pytest.raises(ValueError, match=r"cannot read section 'q3'"):
        ra.parse_config("rand-m9-q3-inc1")
    with pytest.raises(ValueError, match="expected timm's form"):
        ra.parse_config("augmix-m5")


def test_the_hosts_augment_applies_randaugment_after_crop_and_flip_as_uint8():
    from bench.data.loader import Augment

    x = images(n=2000, c=1, size=12).to(torch.uint8)
    y = Augment(rand_augment="rand-m9-mstd0.5-inc1")(x, torch.Generator().manual_seed(0))
    assert y.dtype == torch.uint8 and y.shape == x.shape
    # Two layers, each applied with probability 1/2: a quarter of the images keep every pixel (a few
    # more: an op can leave an image as it was, e.g. AutoContrast of a full-range image).
    untouched = (y == x).flatten(1).all(1).float().mean().item()
    assert 0.22 < untouched < 0.35
    assert torch.equal(Augment()(x, torch.Generator().manual_seed(0)), x)  # off by default
    with pytest.raises(ValueError, match="only the increasing op set"):
        Augment(rand_augment="rand-m9")


def test_a_bad_randaugment_config_in_a_suite_is_refused_when_it_loads(tmp_path):
    from bench import registry
    from bench.suite import SuiteError, load_suite

    path = tmp_path / "suite.yaml"
    path.write_text("runs: [{datasets: mnist, methods: mae, protocol: {name: finetune, rand_augment: rand-m9}}]\n")
    with pytest.raises(SuiteError, match=r"rand_augment.*only the increasing op set is implemented"):
        load_suite(path, registry.load())
    path.write_text("runs: [{datasets: mnist, methods: mae, protocol: {name: finetune, rand_augment: rand-m9-inc1}}]\n")
    assert load_suite(path, registry.load()).runs
