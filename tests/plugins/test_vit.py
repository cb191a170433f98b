"""The ViT (plugins/methods/vit.py): patches laid out in raster order."""

import torch

from bench_plugins.methods.vit import patchify


def test_patchify_lays_out_patches_in_raster_order():
    images = torch.arange(2 * 3 * 4 * 4, dtype=torch.float32).reshape(2, 3, 4, 4)
    patches = patchify(images, 2)  # (2, 4, 2*2*3)
    assert patches.shape == (2, 4, 12)
    assert torch.equal(patches[0, 1].reshape(2, 2, 3).permute(2, 0, 1), images[0, :, 0:2, 2:4])
