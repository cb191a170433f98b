"""MAE (plugins/methods/mae.py): random masking and patch order, a tiny pre-training that learns."""

import torch

import repr_toy
from bench import PretrainData
from bench.context import bookkeeping
from bench_plugins.methods import mae
from repr_runs import tiny_ctx

MAE_TINY = {
    **mae.PARAMS,
    "patch_size": 4,
    "dim": 32,
    "depth": 1,
    "heads": 2,
    "decoder_dim": 16,
    "decoder_depth": 1,
    "decoder_heads": 2,
    "batch_size": 32,
    "base_lr": 1e-2,
    "flip": False,
}


def test_mae_masking_keeps_a_quarter_and_restores_patch_order():
    g = torch.Generator().manual_seed(0)
    keep_index, mask, restore = mae.random_masking(3, 16, 4, "cpu", g)
    assert keep_index.shape == (3, 4) and mask.shape == (3, 16)
    assert (mask.sum(1) == 12).all()  # 75% removed
    assert (mask.gather(1, keep_index) == 0).all()  # kept patches are 0 = keep
    assert not torch.equal(keep_index[0].sort().values, keep_index[1].sort().values)  # per image
    order = torch.cat([keep_index, torch.ones(3, 12, dtype=torch.long) * -1], 1)
    assert (order.gather(1, restore).ne(-1) == (mask == 0)).all()


def test_mae_learns_and_its_encoder_sees_every_patch(tmp_path):
    images = repr_toy.load_blobs("train", None).images  # (300, 1, 6, 6)
    images = torch.nn.functional.pad(images, (1, 1, 1, 1))  # 8x8: four 4x4 patches
    ctx = tiny_ctx(tmp_path, MAE_TINY, images, epochs=6)
    encoder = mae.fit_mae(PretrainData(images), ctx)
    losses = [c["loss"] for c in bookkeeping(ctx).curves]
    assert losses[-1] < losses[0]
    x = ctx.normalize(images[:2])
    with torch.no_grad():
        a = encoder(x)
        x2 = x.clone()
        x2[:, :, 4:, 4:] += 1.0  # change one patch only
        assert a.shape == (2, 32) and not torch.allclose(a, encoder(x2))
