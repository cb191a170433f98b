"""What each metric means, in one table: its column label, unit, decimals, direction and kind.

The protocols write their records' ``metric_info`` from it (:meth:`Metric.info`); ``bench table``,
the report, ``bench compare`` and the cost columns read labels, decimals and directions from it.
A method's own rates are not in the table: the method declares each with :func:`rate` and passes it
to ``ctx.measure`` / ``ctx.timed``, and its record carries the label and unit, so a report needs
the records alone. A leaf module: it imports nothing else from the host.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

#: What a metric is: a quality the protocol scores (compared with an absolute tolerance, shown
#: with its confidence interval), a throughput (a timing of the run: compared with a relative
#: tolerance, unreliable on a loaded machine), or a cost of the row (seconds, memory; shown only).
QUALITY, THROUGHPUT, COST = "quality", "throughput", "cost"
KINDS = (QUALITY, THROUGHPUT, COST)

#: Every rate's name ends so (items per second): its samples are timings and its shards combine
#: as items over the seconds they took.
RATE_SUFFIX = "_per_s"


@dataclass(frozen=True)
class Metric:
    """One metric. ``digits``: decimals shown; None (rates): whole numbers from 100 up, else three
    significant digits. ``note``: what the column is, for people (the report's header tooltip);
    empty: its direction and its records' convention."""

    name: str
    label: str
    unit: str = ""
    digits: int | None = 2
    higher_is_better: bool = True
    kind: str = QUALITY
    note: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"metric {self.name!r}: kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if is_rate(self.name) and self.kind != THROUGHPUT:
            raise ValueError(f"metric {self.name!r}: a name ending in {RATE_SUFFIX!r} is a rate (kind {THROUGHPUT!r})")

    @property
    def is_rate(self) -> bool:
        return is_rate(self.name)

    @property
    def better(self) -> str:
        return "higher is better" if self.higher_is_better else "lower is better"

    def info(self, convention: str, **extra: str) -> dict:
        """The record's ``metric_info`` entry: direction, unit and kind from the table, then
        ``extra`` (the protocol that produced it) and the run's ``convention``."""
        return {
            "higher_is_better": self.higher_is_better,
            "unit": self.unit,
            "kind": self.kind,
            **extra,
            "convention": convention,
        }


def is_rate(name: str) -> bool:
    """Whether ``name`` is a rate (items per second, from timed samples)."""
    return name.endswith(RATE_SUFFIX)


def rate(name: str, *, label: str, unit: str = "images/s") -> Metric:
    """A method's own rate, declared for ``ctx.measure`` / ``ctx.timed``: ``name`` ends in
    ``_per_s`` (``"render_images_per_s"``), ``label`` is its column header (``"render img/s"``) and
    ``unit`` what is counted per second. More of it is better."""
    if not is_rate(name):
        raise ValueError(f"throughput name {name!r} must end in {RATE_SUFFIX!r} (what is counted per second)")
    if name in METRICS:
        raise ValueError(f"throughput name {name!r} is the host's own: choose another name")
    return Metric(name, label or name, unit, digits=None, kind=THROUGHPUT)


def _rate(name: str, label: str, unit: str = "images/s") -> Metric:
    return Metric(name, label, unit, digits=None, kind=THROUGHPUT)


def _cost(name: str, label: str, unit: str, digits: int, note: str) -> Metric:
    return Metric(name, label, unit, digits, higher_is_better=False, kind=COST, note=f"lower is better; {note}")


#: The host's metrics, in the order tables show them (then any other, in the records' order).
METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("test_accuracy", "test acc %", "%"),
        Metric("val_accuracy", "val acc %", "%"),
        _rate("train_images_per_s", "train img/s"),
        _rate("inference_images_per_s", "infer img/s"),
        _cost("train_seconds", "train s", "s", 1, "seconds in the method's training, mean over seeds"),
        _rate("pretrain_images_per_s", "pretrain img/s"),
        _rate("feature_images_per_s", "features img/s"),
        _rate("probe_images_per_s", "probe img/s"),
        Metric("psnr", "PSNR dB", "dB"),
        Metric("ssim", "SSIM", "", digits=4),
        Metric("input_psnr", "input PSNR dB", "dB"),
        Metric("seconds_per_image", "s/image", "s", higher_is_better=False, kind=THROUGHPUT),
        _rate("iterations_per_s", "it/s", "it/s"),
        _rate("restore_images_per_s", "restore img/s"),
        _cost(
            "time_to_90_s",
            "to 90% s",
            "s",
            1,
            "seconds until the run first reached 90% of its final quality (learning curve)",
        ),
        _cost(
            "time_to_99_s",
            "to 99% s",
            "s",
            1,
            "seconds until the run first reached 99% of its final quality (learning curve)",
        ),
        _cost(
            "run_seconds", "run s", "s", 1, "the runs' wall seconds, loading and evaluation included, mean over seeds"
        ),
        _cost("peak_gpu_mib", "peak GPU MiB", "MiB", 0, "torch.cuda.max_memory_allocated over the run, MiB"),
        _cost(
            "peak_rss_mib",
            "peak RSS+ MiB",
            "MiB",
            0,
            "the process's peak resident memory minus its resident memory at the run's start, MiB",
        ),
    )
}

#: The metric a leaderboard ranks by (and the report plots on its quality axis), first present wins.
RANKING = ("test_accuracy", "psnr", "ssim", "val_accuracy")


def metric(name: str, recorded: Mapping | None = None, label: str = "") -> Metric:
    """What ``name`` is: the table's entry; for a name the table does not know, what its records
    say (``recorded``: a ``metric_info`` entry; ``label``: the label a method declared for its
    rate), else a rate for a ``_per_s`` name and a quality metric for any other."""
    if name in METRICS:
        return METRICS[name]
    recorded = recorded or {}
    if is_rate(name):
        return Metric(name, label or name, recorded.get("unit") or "", digits=None, kind=THROUGHPUT)
    kind = recorded.get("kind", QUALITY)
    return Metric(
        name,
        label or name,
        recorded.get("unit") or "",
        higher_is_better=bool(recorded.get("higher_is_better", True)),
        kind=kind if kind in KINDS else QUALITY,
    )


def ordered(names) -> list[str]:
    """``names`` in the table's order, those it does not know after, as given."""
    present = dict.fromkeys(names)
    return [m for m in METRICS if m in present] + [m for m in present if m not in METRICS]


def ranking(names) -> str | None:
    """The metric a table of these metrics ranks by: the first of :data:`RANKING` present."""
    present = set(names)
    return next((m for m in RANKING if m in present), None)
