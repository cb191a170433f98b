"""What the representation protocols share: data, the encoder (pre-trained, loaded or random), features.

1. The official training split moves to the device once, as uint8; the normalisation is fitted on
   its images. The labelled split the probes use is carved from it by ``split_holdout`` (the same
   split for every method and seed); the test split is never shown to a method.
2. The encoder, by the ``weights`` option:
   - ``pretrained``: ``method.pretrain(PretrainData, ctx)`` on the whole training split's images (no
     labels), saved as an artifact beside the records (``<method folder>/encoders/``) and keyed by
     what determines the pre-training (dataset, method, its params but its ``feature_params``,
     budget, seed). Any protocol that finds the artifact loads it instead of pre-training again,
     so linear probe, k-NN and fine-tune of one configuration share one pre-training.
   - ``random``: ``method.build(image_shape, ctx)``: the same architecture with random weights,
     the control that shows what pre-training adds.
3. After the encoder is ready every generator is re-seeded, so a protocol's numbers are the same
   whether the encoder was just trained or loaded.
4. Rates the method measured during pre-training (``ctx.measure``, e.g. a renderer's images/s) are
   saved with the encoder and written into every record that uses it, beside the pre-training rate.
5. With the ``input_size`` option S > 0 the encoder is built and pre-trained for (C, S, S) and
   every image is resized to S x S before it (``bench.protocols.input_size``: bicubic, on the
   device, after the host's augmentation; ``crop_pct`` < 1: evaluation reads the centre of a larger
   resize, as timm's eval transform); S is part of the pre-training's key. 0: the images' size.
6. With the ``feature_sweep`` option (``{feature param: [values]}``, e.g. DDAE's block and noise
   level) the host chooses how features are read out: every combination re-reads the same weights
   (all from one pass when the encoder has ``read_outs``), is scored by the protocol on the held-out
   part of the training split, and the best one is then
   evaluated exactly as a run fixed to it would be (``choose_features``). The test split plays no
   part in the choice.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from filelock import FileLock

from bench.context import PretrainData, RunContext, bookkeeping, run_context, seed_everything
from bench.data.images import LabelledImages
from bench.data.loader import Normalize
from bench.identity import pretraining
from bench.labels import OPTION, apply_budget, parse_budget
from bench.metric_table import METRICS
from bench.protocols import PROTOCOLS, SETTINGS, check_feature_sweep, check_setting, settings_of
from bench.protocols.classify import split_holdout
from bench.protocols.input_size import input_shape, resize_images, resize_inputs
from bench.specs import Setting
from bench.timing import measure, synchronize

#: The ``weights`` option's values (the options themselves are declared in ``bench.protocols``).
WEIGHTS = ("pretrained", "random")
ACCURACY_CONVENTION = "top-1 accuracy in %"


@dataclass
class Prepared:
    """Everything a representation protocol evaluates: splits on the device, encoder, context."""

    train: LabelledImages  # the labelled part the probe is trained on
    val: LabelledImages | None  # the held-out part of the training split (choices only)
    test: LabelledImages
    encoder: torch.nn.Module
    ctx: RunContext  # evaluation context: freshly seeded generator
    normalize: Normalize
    pretrain: dict  # how the encoder came to be (record section "details.pretrain")
    pretrain_throughput: dict | None
    pretrain_rates: dict  # rates the method measured while pre-training (ctx.measure)
    load_seconds: float
    encoder_seconds: float
    weights: dict  # the encoder's state dict (re-read by other feature choices)
    image_shape: tuple  # what the encoder is built for (input_size x input_size when set)
    native_shape: tuple  # the dataset's own (C, H, W)
    features: dict | None = None  # the read-out choice (record section "details.features")
    labels: dict | None = None  # the label budget (record section "details.labels"); None: all labels
    choice_seconds: float = 0.0


def pretrain_identity(spec, method) -> dict:
    """What determines a pre-trained encoder: never the protocol or its options, but the input size
    it is trained for when one is set."""
    params = {k: v for k, v in spec.params.items() if k not in method.feature_params}
    identity = {
        "dataset": spec.dataset,
        "method": spec.method,
        "params": params,
        "budget": spec.budget,
        "seed": spec.seed,
    }
    size = spec.protocol_options.get("input_size", 0)
    return {**identity, "input_size": size} if size else identity  # unset: the keys encoders had before it


def artifact_path(spec, method, env) -> Path:
    # The code that made the encoder is part of its key: a changed method never reuses an old one;
    # the host's part is pre-training's, so the protocols that read one encoder share it.
    identity = {**pretrain_identity(spec, method), "code": pretraining(env.code)}
    key = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return Path(env.artifacts_dir).parent / "encoders" / f"seed{spec.seed}-{key}.pt"


def prepare(spec, method, dataset, env) -> Prepared:
    options = spec.protocol_options
    if options["weights"] not in WEIGHTS:
        raise ValueError(f"protocol option weights must be one of {WEIGHTS}, got {options['weights']!r}")
    t_load = time.perf_counter()
    full_train = env.data.load(dataset, "train").to(env.device)
    test = _subset(env.data.load(dataset, "test").to(env.device), options["test_images"], options["split_seed"])
    train, val, labels = _labelled_splits(full_train, options)
    normalize = Normalize.fit(full_train.images)
    synchronize(env.device)
    load_seconds = time.perf_counter() - t_load

    t_encoder = time.perf_counter()
    native_shape = tuple(full_train.images.shape[1:])
    image_shape = input_shape(native_shape, options["input_size"])
    ctx = run_context(spec, env, normalize)
    throughput, rates = None, {}
    if options["weights"] == "random":
        encoder = _check_encoder(method, method.build(image_shape, ctx), "build")
        pretrain = {"weights": "random", "source": "build"}
    else:
        encoder, pretrain, throughput, rates = _pretrained(spec, method, env, ctx, full_train.images, image_shape)
    weights = encoder.state_dict()
    encoder = ctx.prepare(resize_inputs(encoder, options["input_size"], normalize, options["crop_pct"])).eval()
    synchronize(env.device)
    encoder_seconds = time.perf_counter() - t_encoder

    seed_everything(spec.seed)
    return Prepared(
        train=train,
        val=val,
        test=test,
        encoder=encoder,
        ctx=run_context(spec, env, normalize),
        normalize=normalize,
        pretrain=pretrain,
        pretrain_throughput=throughput,
        pretrain_rates=rates,
        load_seconds=load_seconds,
        encoder_seconds=encoder_seconds,
        weights=weights,
        image_shape=image_shape,
        native_shape=native_shape,
        labels=labels,
    )


def _labelled_splits(full_train: LabelledImages, options: dict):
    """(train, val or None, the record's labels section or None): the probe's labelled images, by
    the ``labelled_images`` compute preset or by the host's label budget (``labels``,
    ``bench.labels``: class-balanced, validation carved from the budget). Not both."""
    if parse_budget(options.get(OPTION)) is None:
        labelled = _subset(full_train, options["labelled_images"], options["split_seed"])
        return (*split_holdout(labelled, options["holdout"], options["split_seed"]), None)
    if options["labelled_images"]:
        raise ValueError("protocol options labels and labelled_images exclude each other: give one")
    part = apply_budget(full_train, options[OPTION], options["holdout"], options["split_seed"])
    return part.train, part.val, part.record


def apply_setting(options: dict, protocol: str, method) -> tuple[dict, dict, Setting]:
    """The options the named setting ``options`` select makes (``recipe: mae-official``; one of
    :func:`bench.protocols.settings_of`): it sets every option it lists; the ``overrides`` option
    ({option: value}) wins over it. An option the suite gives its own value that the setting also
    sets is refused (say it in ``overrides``). Returns (the options the run uses, the overrides,
    the setting)."""
    problems = check_setting(protocol, method, options)
    if problems:
        raise ValueError(f"{protocol}: {'; '.join(problems)}")
    option = SETTINGS[protocol].option
    name = options[option]
    setting = settings_of(protocol, method)[name]
    declared = PROTOCOLS[protocol].options
    overrides = dict(options.get("overrides") or {})
    for key in overrides:
        if key not in declared or key in (option, "overrides"):
            raise ValueError(
                f"{protocol}: overrides.{key} is not an option the {option} sets; "
                f"options: {', '.join(k for k in declared if k not in (option, 'overrides'))}"
            )
    resolved = dict(options)
    for key, value in setting.options.items():
        given = options[key]
        if given != getattr(declared[key], "default", declared[key]) and given != value and key not in overrides:
            raise ValueError(
                f"{protocol}: option {key} is set by {option} {name} (to {value!r}); to change it "
                f"under this {option} write overrides: {{{key}: {given!r}}}"
            )
        resolved[key] = value
    resolved.update(overrides)
    return resolved, overrides, setting


def feature_candidates(options: dict) -> list[dict]:
    """Every combination of the ``feature_sweep`` option, in the order listed ([] without one)."""
    sweep = options.get("feature_sweep") or {}
    return [dict(zip(sweep, values)) for values in itertools.product(*sweep.values())] if sweep else []


def choose_features(
    prepared: Prepared, spec, method, env, score: Callable[[torch.Tensor, torch.Tensor, RunContext], float]
) -> None:
    """Choose the read-out among the ``feature_sweep`` combinations and switch ``prepared`` to it.

    Each combination rebuilds the encoder with those feature params, loads the same weights,
    extracts the train and held-out features from a freshly seeded state (or, when the encoder has
    ``read_outs``, every combination's features come from one seeded pass) and is scored by
    ``score(train_features, val_features, ctx)`` (the protocol's accuracy on the held-out part).
    The best (ties: the first listed) leaves ``prepared`` as ``prepare`` would have for a run fixed to it,
    and the choice in ``prepared.features``. Without a sweep ``prepared`` is left as it is.
    """
    options = spec.protocol_options
    candidates = feature_candidates(options)
    if not candidates:
        return
    t0 = time.perf_counter()
    problems = check_feature_sweep(options["feature_sweep"], method, options["holdout"])
    if problems:
        raise ValueError("feature_sweep: " + "; ".join(problems))
    assert prepared.val is not None, "check_feature_sweep refuses a sweep without a held-out part"
    batch, points = options["eval_batch_size"], []
    shared = _read_all(prepared, spec, method, env, candidates, batch)
    for i, params in enumerate(candidates, 1):
        if shared is None:
            encoder, ctx = read_out(prepared, spec, method, env, params)
            train_x = extract(encoder, prepared.train.images, ctx, batch)
            val_x = extract(encoder, prepared.val.images, ctx, batch)
        else:
            ctx, (train_x, val_x) = shared[0], shared[1][i - 1]
        points.append({**params, "val_accuracy": score(train_x, val_x, ctx)})
        text = " ".join(f"{k}={v}" for k, v in params.items())
        env.progress.status(
            f"read-out {i}/{len(candidates)} {text}: held-out accuracy {points[-1]['val_accuracy']:.2f}", force=True
        )
    best = max(points, key=lambda q: q["val_accuracy"])
    chosen = {k: best[k] for k in candidates[0]}
    prepared.encoder, prepared.ctx = read_out(prepared, spec, method, env, chosen)
    prepared.features = {
        "sweep": options["feature_sweep"],
        "points": points,
        "chosen": chosen,
        "criterion": "this protocol's accuracy on the held-out part of the training split",
    }
    prepared.choice_seconds = time.perf_counter() - t0


def _read_all(prepared: Prepared, spec, method, env, candidates: list[dict], batch_size: int):
    """(context, [(train features, held-out features)] per candidate) from one pass over the images
    when the encoder can give many read-outs from one call (optional ``read_outs(images, choices)``,
    e.g. DDAE: one UNet pass per timestep for all its blocks); None when it cannot."""
    encoder, ctx = read_out(prepared, spec, method, env, {})
    read_outs = getattr(encoder, "read_outs", None)  # an optional method of the plugin's encoder
    if read_outs is None:
        return None
    assert prepared.val is not None, "check_feature_sweep refuses a sweep without a held-out part"

    @torch.inference_mode()
    def features(images: torch.Tensor) -> list[torch.Tensor]:
        out: list[list[torch.Tensor]] = [[] for _ in candidates]
        for batch in ctx.image_batches(images, batch_size, shuffle=False):
            with ctx.autocast():
                for k, f in enumerate(read_outs(ctx.layout(batch), candidates)):
                    out[k].append(f.float())
        return [torch.cat(o) for o in out]

    return ctx, list(zip(features(prepared.train.images), features(prepared.val.images)))


def read_out(prepared: Prepared, spec, method, env, params: dict) -> tuple[torch.nn.Module, RunContext]:
    """The encoder with the same weights read out with ``params``, and a freshly seeded context."""
    run = replace(spec, params={**spec.params, **params})
    ctx = run_context(run, env, prepared.normalize)
    encoder = _check_encoder(method, method.build(prepared.image_shape, ctx), "build")
    encoder.load_state_dict(prepared.weights)
    options = spec.protocol_options
    encoder = resize_inputs(encoder, options["input_size"], prepared.normalize, options["crop_pct"])
    encoder = ctx.prepare(encoder).eval()
    seed_everything(spec.seed)
    return encoder, run_context(run, env, prepared.normalize)


def _subset(data: LabelledImages, n: int, seed: int) -> LabelledImages:
    """A seeded random subset of ``n`` images (all of them when n is 0 or too large)."""
    if n < 0:
        raise ValueError(f"labelled_images and test_images must be >= 0, got {n}")
    if not n or n >= len(data):
        return data
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed + 1))
    return data.subset(order[:n].sort().values.to(data.images.device))


def _pretrained(spec, method, env, ctx: RunContext, images: torch.Tensor, image_shape: tuple):
    """The pre-trained encoder for ``image_shape``: loaded when its artifact exists, else trained
    on ``images`` resized to that shape (all of them: pre-training sees no labels) and saved."""
    path = artifact_path(spec, method, env)
    path.parent.mkdir(parents=True, exist_ok=True)
    # One pre-training per configuration even when several processes share the results folder.
    with FileLock(str(path.with_suffix(".lock"))):
        if path.exists():
            saved = torch.load(path, map_location=env.device, weights_only=True)
            encoder = _check_encoder(method, method.build(image_shape, ctx), "build")
            encoder.load_state_dict(saved["state_dict"])
            info = {**saved["info"], "source": "artifact", "artifact": str(path)}
            return encoder, info, saved["throughput"], saved.get("rates", {})
        t0 = time.perf_counter()
        data = PretrainData(resize_images(images, spec.protocol_options["input_size"]))
        encoder = _check_encoder(method, method.pretrain(data, ctx), "pretrain")
        synchronize(env.device)
        seconds = time.perf_counter() - t0
        book = bookkeeping(ctx)
        throughput = book.train_throughput()
        info = {
            "weights": "pretrained",
            "identity": pretrain_identity(spec, method),
            "pretrain_seconds": round(seconds, 3),
            "images": int(images.shape[0]),
            "curves": book.curves,
            "device": str(env.device),
            "precision": ctx.precision,
        }
        state = {k: v.detach().cpu() for k, v in encoder.state_dict().items()}
        tmp = path.with_suffix(".tmp")
        torch.save({"state_dict": state, "info": info, "throughput": throughput, "rates": book.throughputs}, tmp)
        tmp.replace(path)
        return encoder, {**info, "source": "trained", "artifact": str(path)}, throughput, dict(book.throughputs)


def _check_encoder(method, encoder, where: str) -> torch.nn.Module:
    if not isinstance(encoder, torch.nn.Module):
        raise TypeError(
            f"method {method.name!r}: {where}() returned {type(encoder).__name__}, expected a torch.nn.Module encoder"
        )
    return encoder


def extract_splits(prepared: Prepared, batch_size: int):
    """Features of the train part, the held-out part (None without one) and the test split by the
    chosen encoder, and the seconds they took."""
    t0 = time.perf_counter()
    train_x = extract(prepared.encoder, prepared.train.images, prepared.ctx, batch_size)
    val_x = (
        extract(prepared.encoder, prepared.val.images, prepared.ctx, batch_size) if prepared.val is not None else None
    )
    test_x = extract(prepared.encoder, prepared.test.images, prepared.ctx, batch_size)
    return train_x, val_x, test_x, time.perf_counter() - t0


@torch.inference_mode()
def extract(encoder: torch.nn.Module, images: torch.Tensor, ctx: RunContext, batch_size: int) -> torch.Tensor:
    """Features (N, D) float32 of uint8 images (N, C, H, W), in order, with the encoder in eval mode."""
    out = []
    for batch in ctx.image_batches(images, batch_size, shuffle=False):
        with ctx.autocast():
            features = encoder(ctx.layout(batch))
        if features.ndim != 2 or features.shape[0] != batch.shape[0]:
            raise ValueError(
                f"the encoder returned features of shape {tuple(features.shape)}; expected (N, D) for a batch of {batch.shape[0]}"
            )
        out.append(features.float())
    return torch.cat(out)


def feature_throughput(encoder: torch.nn.Module, test: LabelledImages, ctx: RunContext, batch_size: int) -> dict:
    """Warm, synchronized images/s of the encoder on a fixed batch of (at most 256) test images,
    normalisation included: one untimed call, then the median of five."""
    images = test.images[: min(batch_size, 256)]

    @torch.inference_mode()
    def forward():
        with ctx.autocast():
            encoder(ctx.layout(ctx.normalize(images)))

    result = measure(forward, ctx.device, items=len(images), warmup=1, repeats=5)
    result["batch_size"] = len(images)
    result["precision"] = ctx.precision
    return result


def accuracy_info(protocol: str, what: str, prepared: Prepared, options: dict) -> dict:
    """metric_info for test/val accuracy, naming the protocol that produced the number."""
    test = (
        f"a seeded subset of {len(prepared.test)} images of the official test split"
        if options["test_images"]
        else f"the official test split ({len(prepared.test)} images)"
    )
    return {
        "test_accuracy": METRICS["test_accuracy"].info(
            f"{protocol}: {what}; {ACCURACY_CONVENTION} on {test}", protocol=protocol
        ),
        "val_accuracy": METRICS["val_accuracy"].info(
            f"{protocol}: {what}; {ACCURACY_CONVENTION} on the held-out part of the training split", protocol=protocol
        ),
    }


def common_sections(prepared: Prepared, protocol: str, options: dict) -> dict:
    """Record parts every representation protocol writes."""
    throughput = {}
    if prepared.pretrain_throughput:
        throughput["pretrain_images_per_s"] = {
            **prepared.pretrain_throughput,
            "measured_when": prepared.pretrain.get("source"),
        }
    for name, rate in prepared.pretrain_rates.items():
        throughput[name] = {**rate, "measured_when": prepared.pretrain.get("source")}
    details = {
        "protocol": protocol,
        "weights": options["weights"],
        "split": {
            "train": len(prepared.train),
            "val": len(prepared.val) if prepared.val is not None else 0,
            "test": len(prepared.test),
            "holdout": options["holdout"],
            "split_seed": options["split_seed"],
            "labelled_images": options["labelled_images"] or "all",
            "test_images": options["test_images"] or "all",
        },
        "normalization": prepared.normalize.as_dict(),
        "input": {
            "image_shape": list(prepared.image_shape),
            "resize": f"bicubic from {prepared.native_shape[1]}x{prepared.native_shape[2]} on the device, after augmentation"
            if options["input_size"]
            else "none",
            "crop_pct": options["crop_pct"],
        },
        "pretrain": prepared.pretrain,
    }
    timings = {"load_seconds": round(prepared.load_seconds, 3), "encoder_seconds": round(prepared.encoder_seconds, 3)}
    if prepared.labels is not None:
        details["labels"] = prepared.labels
    if prepared.features is not None:
        details["features"] = prepared.features
        timings["feature_choice_seconds"] = round(prepared.choice_seconds, 3)
    if prepared.pretrain.get("source") == "trained":
        timings["pretrain_seconds"] = prepared.pretrain["pretrain_seconds"]
    return {"throughput": throughput, "details": details, "timings": timings}
