"""Result records written as the runner writes them, planted for the tests of tables, compare,
history and the report: one ``record`` per call, with chosen numbers."""

from bench.records import key_of, write_json_atomic


def record(root, method, seed, acc, train_rate=1000.0, status="ok", epochs=3, suite="s", key=None, samples=None):
    """A result record as the runner writes it, in ``<key>.json`` (``key``: the file's name, by default
    method-seed-epochs); ``samples``: the train rate's raw timing samples."""
    spec = {
        "suite": suite,
        "dataset": "toy",
        "method": method,
        "protocol": "classify",
        "protocol_options": {"holdout": 0.1},
        "params": {},
        "budget": {"epochs": epochs},
        "budget_scale": 1.0,
        "seed": seed,
        "device": "auto",
        "precision": "auto",
    }
    rec = {
        "schema_version": 1,
        "key": key_of(spec),  # a record's key is its spec's hash, or it is not trusted
        "spec": spec,
        "status": status,
        "ended_at": "2026-01-01T00:00:00",
        "timings": {"wall_seconds": 1.0, "train_seconds": 2.0},
        "environment": {"device": {"name": "cpu"}},
    }
    if status == "ok":
        rec["metrics"] = {"test_accuracy": acc}
        rec["metric_info"] = {"test_accuracy": {"higher_is_better": True, "kind": "quality", "unit": "%"}}
        rec["throughput"] = {
            "train_images_per_s": {"items_per_s": train_rate, "samples_items_per_s": samples or [train_rate]},
            "inference_images_per_s": {"items_per_s": 10 * train_rate},
        }
    else:
        rec["error"] = {"message": "boom"}
    write_json_atomic(root / f"{key or f'{method}-{seed}-{epochs}'}.json", rec)


JITTER = [0.98, 1.0, 1.02, 0.99, 1.01]  # timing repeats of one run


def write_set(root, accs, rate=1000.0, method="cnn", epochs=3):
    for seed, acc in enumerate(accs):
        record(
            root,
            method,
            seed,
            acc,
            train_rate=rate,
            epochs=epochs,
            samples=[rate * j * (1 + 0.01 * seed) for j in JITTER],
        )


def classify_record(root, name, seed, acc, suite="s", curves=None, memory=None, method=None, options=None):
    """A classify record of ``method`` (``name`` unless given) in ``root/<name>-<seed>.json``."""
    spec = {
        "suite": suite,
        "dataset": "toy",
        "method": method or name,
        "protocol": "classify",
        "protocol_options": options or {},
        "params": {},
        "budget": {"epochs": 3},
        "seed": seed,
    }
    record = {
        "schema_version": 1,
        "key": key_of(spec),  # a record's key is its spec's hash, or it is not trusted
        "spec": spec,
        "status": "ok",
        "ended_at": "2026-01-01T00:00:00",
        "metrics": {"test_accuracy": acc},
        "metric_info": {"test_accuracy": {"higher_is_better": True, "kind": "quality", "unit": "%"}},
        "timings": {"wall_seconds": 10.0 + seed, "train_seconds": 8.0},
        "environment": {"device": {"name": "cpu"}},
        "details": {"curves": curves or []},
    }
    if memory is not None:
        record["memory"] = memory
    write_json_atomic(root / f"{name}-{seed}.json", record)


#: Six images' PSNR of the best of a table's methods.
BEST = [30.0, 28.0, 25.0, 31.0, 27.0, 29.0]


def restore_record(root, method, psnrs, seed=0, checksums=None, suite="r"):
    spec = {
        "suite": suite,
        "dataset": "set12",
        "method": method,
        "protocol": "restore",
        "protocol_options": {"task": "denoise", "sigma": 25.0},
        "params": {},
        "budget": {},
        "seed": seed,
    }
    per_image = [
        {"image": name, "psnr": p, "ssim": p / 40, "input_sha256": (checksums or {}).get(name, f"sha-{name}")}
        for name, p in zip([f"{i:02d}" for i in range(1, len(psnrs) + 1)], psnrs)
    ]
    write_json_atomic(
        root / f"{method}-{seed}.json",
        {
            "schema_version": 1,
            "key": key_of(spec),
            "spec": spec,
            "status": "ok",
            "ended_at": "2026-01-01T00:00:00",
            "metrics": {"psnr": sum(psnrs) / len(psnrs), "ssim": sum(psnrs) / len(psnrs) / 40},
            "timings": {"wall_seconds": 5.0},
            "environment": {"device": {"name": "cpu"}},
            "details": {"setting": "denoise sigma 25", "per_image": per_image},
        },
    )


def restore_dict(seed: int) -> dict:
    """A complete restoration record (per-image scores, curves, budget) as a dict, not written."""
    spec = {
        "suite": "s",
        "dataset": "set5",
        "method": "dip",
        "protocol": "restore",
        "params": {},
        "protocol_options": {"task": "denoise", "sigma": 25.0, "images": ["a"], "max_images": 2},
        "budget": {"iterations": 4},
        "seed": seed,
    }
    return {
        "schema_version": 1,
        "key": key_of(spec),
        "spec": spec,
        "status": "ok",
        "ended_at": "",
        "metrics": {"psnr": 30.0 + seed, "ssim": 0.9, "seconds_per_image": 0.1},
        "details": {
            "setting": "denoise sigma 25",
            "per_image": [{"image": "a", "psnr": 30.0, "ssim": 0.9}],
            "curves": {"a": [{"iteration": 1, "psnr": 20.0}]},
            "budget_vs_full": {"iterations": {"used": 4, "full": 100}},
        },
    }
