"""bench.protocols.input_size: the encoder built, pre-trained and fed at another size, by PIL's
bicubic resize as timm's transforms."""

import math

import numpy as np
import pytest
import torch
from PIL import Image

import repr_toy
from bench import RepresentationLearner, hookimpl, registry
from bench.data.loader import Normalize
from bench.data.store import DataStore
from bench.progress import Progress
from bench.protocols.input_size import resize_images, resize_inputs
from bench.records import ResultStore
from bench.runner import run_specs
from bench.suite import load_suite

SEEN: list[tuple] = []  # the input shapes the toy encoder below was fed


PRETRAINED: list[tuple] = []  # the image shapes its pre-training got


class SizedEncoder(torch.nn.Module):
    """A linear map of the flattened image: it takes only the shape it was built for."""

    def __init__(self, shape):
        super().__init__()
        self.proj = torch.nn.Linear(math.prod(shape), 8)

    def forward(self, x):
        SEEN.append(tuple(x.shape[1:]))
        return self.proj(x.flatten(1))


def build_sized(image_shape, ctx):
    return SizedEncoder(image_shape)


def pretrain_sized(data, ctx):
    PRETRAINED.append(tuple(data.images.shape[1:]))
    for _ in ctx.epochs(1):
        ctx.step(n=len(data))
    return build_sized(data.image_shape, ctx)


class SizedPlugin:
    @hookimpl
    def bench_register_methods(self, register):
        register(RepresentationLearner("sized", build_sized, pretrain_sized, budget={"epochs": 1}))


def test_input_size_builds_pretrains_and_feeds_the_encoder_at_that_size(tmp_path):
    reg = registry.load(extra_plugins=[("repr_toy", repr_toy), ("sized", SizedPlugin())])
    path = tmp_path / "suite.yaml"
    path.write_text("""
runs:
  - datasets: blobs
    methods: sized
    protocol: {name: finetune, input_size: 10, crop_pct: 0.8, epochs: 2, resized_crop: [0.5, 1.0]}
  - {datasets: blobs, methods: sized, protocol: {name: linear-probe, input_size: 10, epochs: 2}}
  - {datasets: blobs, methods: sized, protocol: {name: finetune, input_size: 10, epochs: 1, weights: random}}
  - {datasets: blobs, methods: sized, protocol: {name: finetune, epochs: 1}}
""")
    suite = load_suite(path, reg)
    SEEN.clear()
    PRETRAINED.clear()
    store = ResultStore(tmp_path / "results")
    run_specs(suite.runs[:3], reg, store, DataStore(tmp_path / "data"), Progress(quiet=True))
    records = [store.read(spec) for spec in suite.runs[:3]]
    for r in records:
        assert r.status == "ok", r.error
        assert r.details["input"]["image_shape"] == [1, 10, 10]
        assert r.details["input"]["resize"] == "bicubic from 6x6 on the device, after augmentation"
    assert [r.details["input"]["crop_pct"] for r in records] == [0.8, 1.0, 1.0]
    # One pre-training at 10 x 10, shared by the fine-tune and the probe; training (augmented) and
    # evaluation batches (the fine-tune's: the centre 10 of 12) all reached the encoder at 10 x 10,
    # though the images are 6 x 6.
    assert PRETRAINED == [(1, 10, 10)]
    assert SEEN and set(SEEN) == {(1, 10, 10)}
    assert records[0].details["pretrain"]["identity"]["input_size"] == 10
    assert "resized to 10 px" in records[0].metric_info["test_accuracy"]["convention"]
    # Without the option: the images' own size, and the pre-training keyed as before the option.
    SEEN.clear()
    run_specs(suite.runs[3:], reg, store, DataStore(tmp_path / "data"), Progress(quiet=True))
    plain = store.read(suite.runs[3])
    assert plain.status == "ok" and plain.details["input"] == {
        "image_shape": [1, 6, 6],
        "resize": "none",
        "crop_pct": 1.0,
    }
    assert PRETRAINED == [(1, 10, 10), (1, 6, 6)] and set(SEEN) == {(1, 6, 6)}
    assert "input_size" not in plain.details["pretrain"]["identity"]


def pil_resize(images: torch.Tensor, side: int) -> torch.Tensor:
    """What timm's bicubic resize gives: PIL's, per channel of uint8 images (N, C, H, W)."""
    resized = [[np.array(Image.fromarray(c.numpy()).resize((side, side), Image.BICUBIC)) for c in i] for i in images]
    return torch.from_numpy(np.array(resized))


def test_the_resize_is_pils_bicubic_as_timms_transforms():
    """uint8 images resized as PIL's bicubic (timm's) to within one level, and the encoder's inputs
    as their normalised values (to within the 1.5 levels PIL's rounding after each pass makes),
    saturated where PIL saturates;
    with crop_pct, in eval mode, the centre of a larger resize (timm's eval transform)."""
    images = torch.randint(0, 256, (2, 3, 8, 6), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    stored, pil = resize_images(images, 20), pil_resize(images, 20)
    assert stored.dtype == torch.uint8 and stored.shape == (2, 3, 20, 20)
    assert (stored.int() - pil.int()).abs().max() <= 1 and (stored != pil).float().mean() < 0.01
    assert resize_images(images, 0) is images

    normalize = Normalize([0.5, 0.4, 0.3], [0.25, 0.2, 0.1], torch.device("cpu"))
    level = 1.5 / 255 / torch.tensor(normalize.std)[None, :, None, None]

    def near(x, uint8):  # within 1.5 levels of the normalised uint8 picture
        return x.shape == uint8.shape and ((x - normalize(uint8)).abs() <= level).all()

    seen = []
    encoder = resize_inputs(torch.nn.Identity(), 20, normalize)
    encoder.register_forward_hook(lambda m, args, out: seen.append(args[0]))
    x = encoder(normalize(images))
    assert near(x, pil)
    assert torch.allclose(x.amax((0, 2, 3)), normalize(torch.full((1, 3, 1, 1), 255, dtype=torch.uint8)).flatten())
    assert torch.equal(encoder(seen[0]), seen[0])  # already at the size: untouched
    assert resize_inputs(encoder, 0, normalize) is encoder

    cropping = resize_inputs(torch.nn.Identity(), 14, normalize, crop_pct=0.875).eval()  # 16, its centre 14
    assert near(cropping(normalize(images)), pil_resize(images, 16)[..., 1:15, 1:15])
    assert near(cropping.train()(normalize(images)), pil_resize(images, 14))  # training batches: the whole image
    with pytest.raises(ValueError, match="crop_pct 0.875 needs input_size"):
        resize_inputs(torch.nn.Identity(), 0, normalize, crop_pct=0.875)

    class ManyReadOuts(torch.nn.Identity):  # read_outs bypasses forward (DDAE's one pass for many)
        def read_outs(self, images, choices):
            return [images for _ in choices]

    outs = resize_inputs(ManyReadOuts(), 20, normalize).read_outs(normalize(images), [{}, {}])
    assert len(outs) == 2 and near(outs[0], pil)
