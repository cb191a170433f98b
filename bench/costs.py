"""What a leaderboard row cost besides its quality, one value per seed, read from its records:

- ``peak_gpu_mib`` / ``peak_rss_mib``: the record's ``memory`` (:mod:`bench.peakmem`): CUDA's
  peak allocated memory, or on a CPU the peak resident memory's increase over the run's start
  (two names, so a table never mixes the two). A sharded seed counts its largest shard.
- ``run_seconds``: the run's wall seconds, everything included (loading, training, evaluation),
  summed over a seed's shards: the compute the number took.
- ``time_to_90_s`` / ``time_to_99_s``: seconds until the run first reached 90% / 99% of its final
  quality, read from the learning curves the records hold (:func:`time_to_quality`).
"""

from __future__ import annotations

from typing import Any

from bench.records import Record, is_number

#: The costs' names, labels, units and directions are in :mod:`bench.metric_table` (kind ``cost``).
FRACTIONS = {"time_to_90_s": 0.9, "time_to_99_s": 0.99}
MEMORY = {"cuda_max_allocated": "peak_gpu_mib", "cpu_peak_rss_increase": "peak_rss_mib"}
#: Quality keys of an epoch curve's points, first present wins (the protocols' names).
CURVE_QUALITY = ("val_accuracy", "test_accuracy", "accuracy", "psnr")


def _epoch_seconds(curve: list[dict]) -> dict:
    """Epoch -> seconds the epoch took (the points that carry ``seconds``)."""
    out: dict = {}
    for point in curve:
        if is_number(point.get("seconds")) and is_number(point.get("epoch")):
            out[point["epoch"]] = out.get(point["epoch"], 0.0) + point["seconds"]
    return out


def _first_reaching(points: list[tuple[float, float]], fraction: float) -> float | None:
    """The x of the first (x, quality) point at or above ``fraction`` of the last point's quality."""
    if not points:
        return None
    final = points[-1][1]
    target = fraction * final if final >= 0 else final / fraction
    return next(x for x, q in points if q >= target)


def time_to_quality(record: Record, fraction: float) -> float | None:
    """Seconds until the run first reached ``fraction`` of its final quality, None without a
    curve that says it.

    - Epoch curves (``details.curves``, classifiers): the first epoch whose validation accuracy
      is at least ``fraction`` x the last epoch's; the seconds of the epochs up to it.
    - Iteration curves by image (``details.curves[image]``, restorers monitored every few
      iterations): per image the first iteration at ``fraction`` x the last PSNR, at the image's
      seconds per iteration; summed over the images (the time the set needed).
    """
    curves = record.details.get("curves")
    if isinstance(curves, list):
        key = next((k for k in CURVE_QUALITY if any(is_number(p.get(k)) for p in curves)), None)
        seconds = _epoch_seconds(curves)
        if key is None or not seconds:
            return None
        points = [(p["epoch"], p[key]) for p in curves if is_number(p.get(key)) and is_number(p.get("epoch"))]
        epoch = _first_reaching(sorted(points), fraction)
        if epoch is None or any(e not in seconds for e, _ in points if e <= epoch):
            return None
        return sum(s for e, s in seconds.items() if e <= epoch)
    if isinstance(curves, dict) and curves:
        entries = {e["image"]: e for e in record.details["per_image"]}
        total = 0.0
        for image, curve in curves.items():
            entry = entries.get(image, {})
            spent = entry.get("loop_seconds") or entry.get("seconds")
            if not is_number(spent) or not entry.get("iterations"):
                return None
            points = [
                (p["iteration"], p["psnr"]) for p in curve if is_number(p.get("iteration")) and is_number(p.get("psnr"))
            ]
            iteration = _first_reaching(sorted(points), fraction)
            if iteration is None:
                return None
            total += iteration * spent / entry["iterations"]
        return total
    return None


def per_seed(group, key=lambda record: record.spec["seed"]) -> dict[str, list[float]]:
    """Cost name -> one value per seed (``key``: what one value stands for, e.g. a seed and a
    label budget's fold) of the group's successful records; records of one key are its shards.
    Names without any value are left out."""
    seeds: dict[object, list[Record]] = {}
    for record in group.ok:
        seeds.setdefault(key(record), []).append(record)
    out: dict[str, list[float]] = {}
    for records in seeds.values():
        memory = [r.memory for r in records if isinstance(r.memory, dict)]
        kinds: set[Any] = {m.get("kind") for m in memory}
        if len(memory) == len(records) and len(kinds) == 1 and kinds <= set(MEMORY):
            if all(is_number(m.get("bytes")) for m in memory):
                out.setdefault(MEMORY[kinds.pop()], []).append(max(m["bytes"] for m in memory) / 2**20)
        wall = [r.timings.get("wall_seconds") for r in records]
        if all(is_number(w) for w in wall):
            out.setdefault("run_seconds", []).append(sum(float(w or 0.0) for w in wall))
        for name, fraction in FRACTIONS.items():
            times = [t for r in records if (t := time_to_quality(r, fraction)) is not None]
            if len(times) == len(records):
                out.setdefault(name, []).append(sum(times))
    return out
