"""Host-owned evaluation protocols: how a kind of method is trained, measured and scored.

Each protocol declares which method kinds and dataset tasks it pairs, and its options: a plain
default or a :class:`bench.Param` with the values allowed, so suites are validated (types,
choices, ranges) without importing torch. The implementation module is imported only when a run
starts.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bench.data.randaugment import parse_config
from bench.labels import FORMS, OPTION, parse_budget
from bench.params import Param, declared
from bench.specs import Setting

#: Seeds of the host's splits and noise (as a run's seeds: they fit every RNG).
_SEED: dict[str, Any] = dict(ge=0, lt=2**32)


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


#: The host's label budget (bench.labels), on every protocol that hands out labels.
_LABELS = Param(
    "all", parse=parse_budget, expected=FORMS, help="the label budget, class-balanced; the split_seed draws it"
)

#: Options added after runs were recorded whose default reproduces the old behaviour: left out of a
#: run's options (and so of its key) unless the suite gives another value, so that no existing
#: record changes its key. Protocols read them with ``options.get``.
UNKEYED_DEFAULTS = frozenset({OPTION})


def keyed_options(options: dict, declarations: Mapping[str, Param]) -> dict:
    """``options`` without the :data:`UNKEYED_DEFAULTS` that mean their default (``labels: all``
    is absent)."""
    return {k: v for k, v in options.items() if k not in UNKEYED_DEFAULTS or not _means_default(v, declarations[k])}


def _means_default(value: Any, declaration: Param) -> bool:
    if value == declaration.default:
        return True
    return declaration.parse is not None and declaration.parse(value) == declaration.parse(declaration.default)


#: Options every representation protocol shares (see bench.protocols.representation).
_REPRESENTATION = {
    "weights": Param(
        "pretrained",
        choices=("pretrained", "random"),
        help="random: the control, the same architecture with random weights",
    ),
    "holdout": Param(0.1, ge=0, lt=1, help="labelled part of the training split held out for the probe's choices"),
    "split_seed": Param(0, **_SEED),
    "eval_batch_size": Param(500, ge=1, help="feature extraction / inference batch"),
    # Small-compute presets: a seeded subset of the labelled training split the probe may use
    # (pre-training always sees every training image, unlabelled), and of the test split; 0: all.
    "labelled_images": Param(
        0, ge=0, help="a compute preset: a seeded subset of the training split, not class-balanced (0: all)"
    ),
    OPTION: _LABELS,
    "test_images": Param(0, ge=0, help="a seeded subset of the test split (0: all)"),
    # Papers that fine-tune CIFAR at 224 px upscale its images (bench.protocols.input_size).
    "input_size": Param(
        0,
        ge=0,
        le=2048,  # a resized copy of the training split is kept: a typo of 22400 would exhaust memory
        help="side images are resized to (bicubic, on the device) before the encoder, which is built and "
        "pre-trained for it; 0: their own size",
    ),
    "crop_pct": Param(
        1.0,
        gt=0,
        le=1,
        help="with input_size: images read in eval mode are resized to input_size / crop_pct and "
        "centre-cropped (timm's eval transform: 0.875); 1: the whole image",
    ),
}
#: Frozen-feature protocols may choose the read-out: {feature param: [values]} (e.g. DDAE's block
#: and timestep), every combination scored on the held-out part; {}: the run's params as they are.
_FROZEN = {**_REPRESENTATION, "feature_sweep": Param({}, help="{feature param: [values]} chosen on the held-out part")}

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
                "holdout": Param(
                    0.1,
                    ge=0,
                    lt=1,
                    help="fraction of the training split held out for validation (under a label budget: "
                    "of each class's budgeted labels, rounded down)",
                ),
                "split_seed": Param(0, **_SEED, help="draws the validation split and the labelled set"),
                OPTION: _LABELS,
                "eval_batch_size": Param(1000, ge=1, help="inference batch"),
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
                "task": Param("sr", choices=("denoise", "sr", "inpaint")),
                # Any integer factor works (modcrop + MATLAB bicubic 1/scale, uint8); papers use 2, 3, 4, 8.
                "scale": Param(4, ge=2, le=16, help="sr: the downscaling factor"),
                "sigma": Param(25.0, gt=0, le=255, help="denoise: AWGN std on the 0-255 scale"),
                "noise_clip": Param(
                    "none", choices=("none", "clip"), help="denoise: none (KAIR/DnCNN) or clip to [0, 1] (DIP's code)"
                ),
                "noise_seed": Param(0, **_SEED, help="seeds noise and random masks, per image (with its name)"),
                "drop_ratio": Param(0.5, ge=0, lt=1, help="inpaint with mask random: fraction of pixels missing"),
                "mask": Param(
                    "random", choices=("random", "dataset"), help="inpaint: random pixels, or the set's own mask images"
                ),
                "images": Param([], item=str, name=True, help="names of the images to restore (empty: all)"),
                "max_images": Param(0, ge=0, help="the first n images (0: all)"),
                "monitor_every": Param(0, ge=0, help="host PSNR of intermediate outputs every n iterations (0: never)"),
                "warmup": Param(True, help="one untimed call on a small crop before timing"),
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
                "epochs": Param(30, ge=1),
                "batch_size": Param(256, ge=1),
                # The sweep, scored on the held-out part; the best point is re-trained on all of it.
                "lrs": Param([1e-3, 1e-2], gt=0, min_items=1, help="learning rates tried"),
                "weight_decays": Param([0.0, 1e-4], ge=0, min_items=1, help="weight decays tried"),
                # A named setting (SETTINGS): cached (features extracted once), or a per-step probe
                # the method registers (features re-extracted every step from augmented images; it
                # sets options above and below); overrides: {option: value} changes some of them.
                "probe": Param(
                    "cached",
                    help="cached, or a per-step probe the method registers (bench plugins METHOD lists them)",
                ),
                "overrides": {},
                # The per-step probes only: augmentation of the images features are read from, the head, its training.
                "flip": False,
                "crop_padding": Param(0, ge=0),
                "resized_crop": Param(
                    [], gt=0, le=1, item=float, help="random-resized-crop area range, e.g. [0.08, 1.0]; []: none"
                ),
                "optimizer": Param("adam", choices=("adam", "lars"), help="Adam (L2 on weights) | LARS (MAE's)"),
                "head_norm": Param(
                    "none", choices=("none", "batchnorm"), help="batchnorm: BatchNorm1d without affine before the head"
                ),
                "head_init_std": Param(
                    0.0, ge=0, help="truncated-normal std of the head's weights, bias 0 (0: PyTorch's default)"
                ),
                "lr_schedule": Param(
                    "epoch",
                    choices=("epoch", "step"),
                    help="cosine stepped per epoch | warm-up + cosine per step",
                ),
                "warmup_epochs": Param(0.0, ge=0, help="lr_schedule step: linear warm-up"),
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
            options={
                **_FROZEN,
                "holdout": Param(0.0, ge=0, lt=1, help="labelled part held out for choosing the read-out"),
                "k": Param(20, ge=1, help="neighbours voting"),
                "temperature": Param(0.07, gt=0),
            },
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
                "epochs": Param(100, ge=1),
                "batch_size": Param(128, ge=1),
                "lr": Param(1e-3, gt=0),
                "weight_decay": Param(0.05, ge=0),
                "warmup_epochs": Param(5.0, ge=0),
                "label_smoothing": Param(0.1, ge=0, lt=1),
                "crop_padding": Param(4, ge=0),
                "flip": Param(True),
                # A named setting (SETTINGS): bench (the options as given) or a recipe the method
                # registers, which sets the options it lists; overrides: {option: value} changes some.
                "recipe": Param(
                    "bench", help="bench, or a recipe the method registers (bench plugins METHOD lists them)"
                ),
                "overrides": {},
                "optimizer": Param(
                    "adamw", choices=("adamw", "sgd"), help="AdamW | SGD with Nesterov momentum 0.9 (timm's sgd)"
                ),
                "min_lr": Param(0.0, ge=0, help="the cosine's floor"),
                "lr_schedule": Param(
                    "step",
                    choices=("step", "epoch", "timm"),
                    help="warm-up + cosine per step | per epoch (the reimplementation's) | timm's cosine per epoch",
                ),
                "warmup_lr": Param(0.0, ge=0, help="lr_schedule timm: the LR the warm-up starts from"),
                "layer_decay": Param(1.0, gt=0, le=1, help="layer-wise LR decay (needs the encoder's layer_groups())"),
                "drop_path": Param(0.0, ge=0, lt=1, help="stochastic depth (needs the encoder's set_drop_path())"),
                "decay_all": Param(False, help="weight decay on every parameter, 1-D ones included"),
                "mixup": Param(0.0, ge=0, help="mixup alpha (0: off)"),
                "cutmix": Param(0.0, ge=0, help="cutmix alpha (0: off); with both, each batch picks one"),
                "random_erasing": Param(0.0, ge=0, le=1, help="probability per image"),
                "resized_crop": Param(
                    [], gt=0, le=1, item=float, help="random-resized-crop area range, e.g. [0.08, 1.0]; []: none"
                ),
                "rand_augment": Param(
                    "",
                    parse=lambda config: parse_config(config) if config else None,  # refused when the suite loads
                    help="timm's RandAugment config, e.g. rand-m9-mstd0.5-inc1 (after crop and flip); '': none",
                ),
                "head": Param(
                    "batchnorm",
                    choices=("batchnorm", "layernorm", "linear"),
                    help="BatchNorm1d without affine | LayerNorm (fc_norm) | plain linear",
                ),
                "head_init_std": Param(
                    0.0, ge=0, help="truncated-normal std of the head's weights (0: PyTorch's default)"
                ),
            },
            description="The whole encoder plus a linear head trained end to end (AdamW or SGD, warm-up "
            "+ cosine); top-1 on the test split; training and inference throughput.",
            implementation="bench.protocols.finetune:run",
        ),
    ]
}


@dataclass(frozen=True)
class NamedSettings:
    """How a protocol's runs name a setting: the ``option`` naming it, the host's neutral
    ``default`` (the options as given) and the :class:`bench.RepresentationLearner` ``field`` in
    which a method registers its own (:class:`bench.Setting`)."""

    option: str
    default: str
    field: str


#: The protocols with named settings.
SETTINGS = {
    "finetune": NamedSettings("recipe", "bench", "recipes"),
    "linear-probe": NamedSettings("probe", "cached", "probes"),
}


def named_setting(protocol: str, options: dict) -> str:
    """The named setting a run's protocol options select, as reports and published numbers name it
    (``"recipe mae-official"``, ``"probe ddae-official"``); "" for the default or a protocol without."""
    named = SETTINGS.get(protocol)
    if named is None:
        return ""
    value = options.get(named.option, named.default)
    return f"{named.option} {value}" if value != named.default else ""


def settings_of(protocol: str, method) -> dict[str, Setting]:
    """The settings a run of ``protocol`` may name for ``method``: the host's default, then the method's own."""
    named = SETTINGS[protocol]
    return {named.default: Setting(), **getattr(method, named.field, {})}


def check_setting(protocol: str, method, options: Mapping[str, Any]) -> list[str]:
    """What is wrong with the setting ``options`` name for ``method`` (the suite loader reports these
    with the file and key; ``representation.apply_setting`` raises them): a name the method does not
    register, or options the setting may not set."""
    named = SETTINGS.get(protocol)
    if named is None:
        return []
    name = options.get(named.option, named.default)
    if named.default in getattr(method, named.field, {}):
        return [f"method {method.name!r} registers {named.option} {named.default!r}, the host's own: rename it"]
    settings = settings_of(protocol, method)
    if name not in settings:
        return [f"method {method.name!r} has no {named.option} {name!r}; its {named.field}: {', '.join(settings)}"]
    declarations = declared(PROTOCOLS[protocol].options)
    problems = []
    for key, value in settings[name].options.items():
        where = f"method {method.name!r}, {named.option} {name!r}"
        if key not in declarations or key in (named.option, "overrides"):
            problems.append(f"{where} sets {key!r}, which is not an option of protocol {protocol!r} it may set")
        elif problem := declarations[key].check(value):
            problems.append(f"{where} sets {key}: {problem}")
    return problems


def check_feature_sweep(sweep: dict, method, holdout: float) -> list[str]:
    """What is wrong with a ``feature_sweep`` option for ``method`` (the suite loader reports these
    with the file and key; ``representation.choose_features`` raises them)."""
    problems = []
    if sweep and not holdout:
        problems.append(
            "needs holdout > 0: the read-out is chosen on a held-out part of the training split, "
            "never on the test split"
        )
    for key, values in sweep.items():
        if key not in method.feature_params:
            known = ", ".join(method.feature_params) or "none"
            problems.append(
                f"{key!r} is not a feature parameter of method {method.name!r} (its feature parameters: {known})"
            )
        elif not isinstance(values, list) or not values:
            problems.append(f"{key}: expected a non-empty list of values, got {values!r}")
    return problems
