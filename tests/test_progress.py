"""Progress lines: the first epoch already shows its step count and an ETA."""

import io

import torch

from bench.context import RunContext
from bench.data.images import LabelledImages
from bench.data.loader import Normalize
from bench.progress import Progress
from bench.specs import Budget


def test_first_epoch_shows_steps_and_eta_from_the_training_batches():
    stream = io.StringIO()
    images = torch.zeros(100, 1, 4, 4, dtype=torch.uint8)
    data = LabelledImages(images, torch.zeros(100, dtype=torch.long), ("a",))
    ctx = RunContext(
        device=torch.device("cpu"),
        seed=0,
        budget=Budget({"epochs": 2}),
        params={},
        normalize=Normalize.fit(images),
        artifacts_dir=None,
        progress=Progress(stream, interval=0.0),
    )
    for _ in ctx.epochs(2):
        list(ctx.batches(data, 10, shuffle=False))  # an evaluation pass is not the epoch's steps
        for x, _ in ctx.batches(data, 30, drop_last=True):
            ctx.step(torch.tensor(1.0), n=len(x))
    lines = stream.getvalue().splitlines()
    assert "epoch 1/2  step 1/3  loss 1.0000  ETA" in lines[0] and "ETA ?" not in lines[0]
    assert any("epoch 2/2  step 3/3" in line for line in lines)
