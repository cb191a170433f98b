import torch

from bench.data.images import LabelledImages
from bench.data.loader import Augment, Normalize, iterate_batches, random_crop, random_flip


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
