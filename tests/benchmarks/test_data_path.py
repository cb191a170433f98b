"""The data path: device-resident uint8 CIFAR-shaped images, batches by index, batched augmentation
and normalisation. It must deliver batches at least 10x faster than airbench94 trains on them."""

from collections import deque

import torch

from bench import LabelledImages
from bench.data.loader import Augment, Normalize, iterate_batches
from bench.timing import measure
from conftest import DEVICE

BATCH = 1024


def cifar_shaped(n: int = 10 * BATCH) -> LabelledImages:
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g)
    return LabelledImages(images, torch.randint(0, 10, (n,), generator=g), tuple("abcdefghij")).to(DEVICE)


def one_epoch(data, normalize, generator, augment):
    # Consume the epoch, keeping only the last batch (what the benchmark returns).
    ((images, _labels),) = deque(
        iterate_batches(data, BATCH, normalize, generator, augment=augment, drop_last=True), maxlen=1
    )
    return images


def test_data_path_epoch(run):
    data = cifar_shaped()
    normalize = Normalize.fit(data.images)
    generator = torch.Generator(device=DEVICE).manual_seed(0)
    augment = Augment(crop_padding=2, flip=True, pad_mode="reflect")
    run(lambda: one_epoch(data, normalize, generator, augment), rounds=5, images_per_round=len(data), batch_size=BATCH)


def test_data_path_is_ten_times_faster_than_the_cifar_baseline_consumes(run):
    """Batches/s of the data path against training steps/s of airbench94 at the same batch size."""
    from bench_plugins.methods.airbench import PARAMS, AirbenchNet

    data = cifar_shaped(4 * BATCH)
    normalize = Normalize.fit(data.images)
    generator = torch.Generator(device=DEVICE).manual_seed(0)
    augment = Augment(crop_padding=2, flip=True, pad_mode="reflect")
    batches = iterate_batches(data, BATCH, normalize, generator, augment=augment)
    images, labels = next(batches)
    images, labels = images[:256], labels[:256]  # the step's rate per image barely depends on the batch

    net = AirbenchNet(3, 10, PARAMS["widths"]).to(DEVICE)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, nesterov=True)

    def train_step():
        loss = torch.nn.functional.cross_entropy(net(images), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    step = measure(train_step, DEVICE, items=len(images), warmup=1, repeats=3)
    loader = measure(
        lambda: one_epoch(data, normalize, generator, augment), DEVICE, items=len(data), warmup=1, repeats=5
    )
    run(train_step, rounds=3, batch_size=len(images))
    ratio = loader["items_per_s"] / step["items_per_s"]
    print(
        f"\ndata path {loader['items_per_s']:,.0f} img/s, airbench94 training {step['items_per_s']:,.0f} img/s: {ratio:,.0f}x"
    )
    assert ratio >= 10, f"the data path is only {ratio:.1f}x faster than training consumes"
