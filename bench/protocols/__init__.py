"""Host-owned evaluation protocols: how a kind of method is trained, measured and scored.

Each protocol declares which method kinds and dataset tasks it pairs, and its options with
defaults (types taken from the defaults), so suites are validated without importing torch. The
implementation module is imported only when a run starts.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping


@dataclass(frozen=True)
class Protocol:
    name: str
    method_kinds: tuple[str, ...]
    dataset_tasks: tuple[str, ...]
    options: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    implementation: str = ""  # "module:function", called as function(spec, method, dataset, env)

    def runner(self) -> Callable:
        module, _, function = self.implementation.partition(":")
        return getattr(importlib.import_module(module), function)


#: Options every representation protocol shares (see bench.protocols.representation).
_REPRESENTATION = {
    "weights": "pretrained",  # pretrained | random: the control, same architecture with random weights
    "holdout": 0.1,           # labelled part of the training split held out for the probe's choices
    "split_seed": 0,
    "eval_batch_size": 500,   # feature extraction / inference batch
    # Small-compute presets: a seeded subset of the labelled training split the probe may use
    # (pre-training always sees every training image, unlabelled), and of the test split; 0: all.
    "labelled_images": 0,
    "test_images": 0,
}
#: Frozen-feature protocols may choose the read-out: {feature param: [values]} (e.g. DDAE's block
#: and timestep), every combination scored on the held-out part; {}: the run's params as they are.
_FROZEN = {**_REPRESENTATION, "feature_sweep": {}}

PROTOCOLS: dict[str, Protocol] = {
    p.name: p
    for p in [
        Protocol(
            name="classify",
            method_kinds=("classifier",),
            dataset_tasks=("classification",),
            options={
                # Fraction of the official training split held out for validation (the split is
                # the same for every method and seed); 0 trains on the whole training split.
                "holdout": 0.1,
                "split_seed": 0,
                "eval_batch_size": 1000,
            },
            description="Supervised training on the training split, top-1 accuracy on the "
            "official test split; training and inference throughput.",
            implementation="bench.protocols.classify:run",
        ),
        Protocol(
            name="restore",
            method_kinds=("restorer",),
            dataset_tasks=("restoration",),
            options={
                "task": "sr",            # denoise | sr | inpaint
                "scale": 4,              # sr: 2, 3, 4, 8 (modcrop + MATLAB bicubic 1/scale, uint8)
                "sigma": 25.0,           # denoise: AWGN std on the 0-255 scale
                "noise_clip": "none",    # denoise: none (KAIR/DnCNN) | clip (to [0, 1], as DIP's code)
                "noise_seed": 0,         # seeds noise and random masks, per image (with its name)
                "drop_ratio": 0.5,       # inpaint with mask "random": fraction of pixels missing
                "mask": "random",        # inpaint: random | dataset (the set's mask images)
                "images": [],            # names to restore (empty: all)
                "max_images": 0,         # the first n images (0: all)
                "monitor_every": 0,      # host PSNR of intermediate outputs every n iterations (curves)
                "warmup": True,          # one untimed call on a small crop before timing
            },
            description="Single-image restoration: host-made degradation (noise, MATLAB bicubic "
            "downscaling, inpainting masks), one method call per image, PSNR/SSIM with the "
            "field's conventions, seconds per image and iterations/s.",
            implementation="bench.protocols.restore:run",
        ),
        Protocol(
            name="linear-probe",
            method_kinds=("representation",),
            dataset_tasks=("classification",),
            options={
                **_FROZEN,
                "epochs": 30,
                "batch_size": 256,
                # The sweep, scored on the held-out part; the best point is re-trained on all of it.
                "lrs": [1e-3, 1e-2],
                "weight_decays": [0.0, 1e-4],
                # A named setting (bench.protocols.linear_probe.PROBES): cached (features extracted
                # once) | ddae-official (re-extracted every step, augmented, fresh noise; sets the
                # options above); overrides: {option: value} changes some of them.
                "probe": "cached",
                "overrides": {},
                "flip": False,            # per-step probes: augmentation of the images features are read from
                "crop_padding": 0,
            },
            description="Frozen encoder, features extracted once and standardised; a linear "
            "classifier (Adam, cosine) with lr x weight decay (and optionally the read-out) chosen on "
            "held-out training images; top-1 on the test split; pre-training and feature-extraction throughput.",
            implementation="bench.protocols.linear_probe:run",
        ),
        Protocol(
            name="knn",
            method_kinds=("representation",),
            dataset_tasks=("classification",),
            options={**_FROZEN, "holdout": 0.0, "k": 20, "temperature": 0.07},
            description="Frozen encoder; weighted k-NN vote (cosine similarity, weights "
            "exp(s / temperature)) over the training features; top-1 on the test split.",
            implementation="bench.protocols.knn:run",
        ),
        Protocol(
            name="finetune",
            method_kinds=("representation",),
            dataset_tasks=("classification",),
            options={
                **_REPRESENTATION,
                # Its own budget (x the suite's budget_scale); defaults: the MAE CIFAR-10 reference.
                "epochs": 100,
                "batch_size": 128,
                "lr": 1e-3,
                "weight_decay": 0.05,
                "warmup_epochs": 5.0,
                "label_smoothing": 0.1,
                "crop_padding": 4,
                "flip": True,
                # A named setting (bench.protocols.finetune.RECIPES): bench | mae-official | mae-cifar-reimpl.
                # It sets the options it lists; overrides: {option: value} changes some of them.
                "recipe": "bench",
                "overrides": {},
                "min_lr": 0.0,            # the cosine's floor
                "lr_schedule": "step",    # step (warm-up + cosine per step) | epoch (per epoch, the reimplementation's)
                "layer_decay": 1.0,       # layer-wise LR decay (needs the encoder's layer_groups())
                "drop_path": 0.0,         # stochastic depth (needs the encoder's set_drop_path())
                "decay_all": False,       # weight decay on every parameter, 1-D ones included
                "mixup": 0.0,             # mixup alpha (0: off)
                "cutmix": 0.0,            # cutmix alpha (0: off); with both, each batch picks one
                "random_erasing": 0.0,    # probability per image
                "resized_crop": [],       # random-resized-crop area range, e.g. [0.08, 1.0]; []: none
                "head": "batchnorm",      # batchnorm (BatchNorm1d without affine) | layernorm (fc_norm) | linear
                "head_init_std": 0.0,     # truncated-normal std of the head's weights (0: PyTorch's default)
            },
            description="The whole encoder plus a linear head trained end to end (AdamW, warm-up "
            "+ cosine); top-1 on the test split; training and inference throughput.",
            implementation="bench.protocols.finetune:run",
        ),
    ]
}


#: The option naming a representation protocol's setting, and the value that is its default.
SETTING_OPTIONS = {"finetune": ("recipe", "bench"), "linear-probe": ("probe", "cached")}


def named_setting(protocol: str, options: dict) -> str:
    """The named setting a run's protocol options select, as reports and published numbers name it
    (``"recipe mae-official"``, ``"probe ddae-official"``); "" for the default or a protocol without."""
    option, default = SETTING_OPTIONS.get(protocol, ("", ""))
    value = options.get(option, default) if option else default
    return f"{option} {value}" if value != default else ""


def check_feature_sweep(sweep: dict, method, holdout: float) -> list[str]:
    """What is wrong with a ``feature_sweep`` option for ``method`` (the suite loader reports these
    with the file and key; ``representation.choose_features`` raises them)."""
    problems = []
    if sweep and not holdout:
        problems.append("needs holdout > 0: the read-out is chosen on a held-out part of the training split, "
                        "never on the test split")
    for key, values in sweep.items():
        if key not in method.feature_params:
            known = ", ".join(method.feature_params) or "none"
            problems.append(f"{key!r} is not a feature parameter of method {method.name!r} (its feature parameters: {known})")
        elif not isinstance(values, list) or not values:
            problems.append(f"{key}: expected a non-empty list of values, got {values!r}")
    return problems
