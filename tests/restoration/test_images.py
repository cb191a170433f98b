"""bench.restoration.images: PNGs read and written keeping their mode and size."""

import pytest
import torch

import restoration_toy
from bench.restoration.images import read_image, write_image


def test_images_keep_their_mode_and_size(tmp_path):
    gray, rgb = restoration_toy.smooth_image(1, 7, 9, 0), restoration_toy.smooth_image(3, 5, 4, 1)
    write_image(tmp_path / "g.png", gray)
    write_image(tmp_path / "c.png", rgb)
    assert torch.equal(read_image(tmp_path / "g.png"), gray) and torch.equal(read_image(tmp_path / "c.png"), rgb)
    from PIL import Image

    Image.new("P", (4, 4)).save(tmp_path / "p.png")
    with pytest.raises(ValueError, match="not supported"):
        read_image(tmp_path / "p.png")
