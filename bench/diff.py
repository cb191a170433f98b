"""`bench diff A B`: what differs between two records, or between the rows two folders share.

Everything a number depends on besides chance, section by section: the code (the parts and modules
of ``code_identity``, see ``bench.identity``; the git commit as information), the installed
packages (the record's environment lock), the interpreter and machine, the device (driver, CUDA,
cuDNN) and its switches, the run's spec (protocol options, params, budget, seed), the data files'
checksums, the machine's load while it ran, and then the metrics with their deltas. Two rows are
diffed seed by seed (a difference any pair shows is listed once) and their metrics as means.
``bench compare`` prints :meth:`Diff.summary` beside every regression.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from bench import identity
from bench.metric_table import is_rate
from bench.records import Record
from bench.report import Group

#: The sections of a diff, in the order they are shown.
SECTIONS = ("code", "commit", "packages", "machine", "device", "spec", "data", "load")


@dataclass
class Diff:
    """Section -> its difference lines (``torch 2.12.0 -> 2.13.0``), and the metrics side by side."""

    sections: dict[str, list[str]] = field(default_factory=dict)
    metrics: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)

    def add(self, section: str, lines: list[str]) -> None:
        known = self.sections.setdefault(section, [])
        known += [line for line in lines if line not in known]

    def summary(self, items: int = 2) -> str:
        """One line: each section that differs with its first ``items`` lines (the load is
        information, not a cause: last)."""
        parts = []
        for section in SECTIONS:
            lines = self.sections.get(section) or []
            if lines:
                more = f", +{len(lines) - items} more" if len(lines) > items else ""
                parts.append(f"{section}: {', '.join(lines[:items])}{more}")
        return "; ".join(parts) if parts else "nothing recorded differs"

    def render(self) -> str:
        out = []
        for section in SECTIONS:
            lines = self.sections.get(section) or []
            out.append(f"{section}: " + ("same" if not lines else ""))
            out += [f"  {line}" for line in lines]
        out.append("metrics:")
        for name, (a, b) in self.metrics.items():
            out.append(f"  {name}: {_number(a)} -> {_number(b)}{_change(a, b)}")
        return "\n".join(out) + "\n"


def diff_records(a: Record, b: Record) -> Diff:
    """What differs from record ``a`` to record ``b`` (both checked by ``bench.records``)."""
    d = Diff()
    _sections(d, a, b)
    for name in _metric_names([a], [b]):
        d.metrics[name] = (_figure(a, name), _figure(b, name))
    return d


def diff_groups(a: Group, b: Group) -> Diff:
    """What differs from row ``a`` to row ``b``: their records paired by seed (every record of
    one side against the other's first where seeds do not match), metrics as means over seeds."""
    d = Diff()
    left, right = a.ok or a.records, b.ok or b.records
    by_seed = {r.spec["seed"]: r for r in right}
    for record in left:  # a row holds one record at least
        _sections(d, record, by_seed.get(record.spec["seed"], right[0]))
    for name in _metric_names(a.ok, b.ok):
        d.metrics[name] = (_mean(a.values(name)), _mean(b.values(name)))
    return d


def _sections(d: Diff, a: Record, b: Record) -> None:
    d.add("code", _code(a.code_identity, b.code_identity))
    d.add("commit", _commit(a.code, b.code))
    env_a, env_b = a.environment, b.environment
    d.add("packages", _packages(env_a, env_b))
    d.add("machine", _changed(env_a, env_b, ("python", "platform", "cpu", "cpu_count", "torch_threads")))
    d.add("device", _changed(env_a.get("device") or {}, env_b.get("device") or {}))
    d.add("device", _changed(a.accel, b.accel))
    spec_a, spec_b = a.spec, b.spec
    for section in ("protocol_options", "params", "budget"):
        d.add("spec", _changed(spec_a[section], spec_b[section]))
    d.add("spec", _changed(spec_a, spec_b, ("protocol", "seed", "budget_scale", "precision")))
    d.add("data", _data(a.data_files, b.data_files))
    d.add("load", _load(env_a.get("load_average"), env_b.get("load_average")))


def _code(a, b) -> list[str]:
    if not isinstance(a, dict) or not isinstance(b, dict):
        return [] if a == b else [f"code identity not recorded in {'A' if not isinstance(a, dict) else 'B'}"]
    lines = []
    for part in identity.PARTS:
        pa, pb = a.get(part) or {}, b.get(part) or {}
        if pa == pb:
            continue
        items = identity.module_changes(pa.get("modules") or {}, pb.get("modules") or {})
        if pa.get("version") != pb.get("version"):
            items.append(f"version {pa.get('version')} -> {pb.get('version')}")
        lines.append(f"{part} ({', '.join(items)})" if items else part)  # no modules: schema 1
    return lines


def _commit(a: dict, b: dict) -> list[str]:
    def text(code: dict) -> str:
        commit = str(code.get("git_commit") or "?")[:9]
        return commit + (" (dirty)" if code.get("git_dirty") else "")

    same = (a.get("git_commit"), a.get("git_dirty")) == (b.get("git_commit"), b.get("git_dirty"))
    return [] if same else [f"{text(a)} -> {text(b)}"]


def _packages(a: dict, b: dict) -> list[str]:
    """From the environment locks; from the few libraries records named before locks were kept."""
    lock_a, lock_b = (a.get("lock") or {}).get("packages"), (b.get("lock") or {}).get("packages")
    if isinstance(lock_a, dict) and isinstance(lock_b, dict):
        return _changed(lock_a, lock_b)
    lines = _changed(a.get("libraries") or {}, b.get("libraries") or {})
    return lines + [f"environment lock not recorded in {'A' if lock_a is None else 'B'}"]


def _data(a: dict, b: dict) -> list[str]:
    return [f"{name} checksum" if name in a and name in b else f"{'+' if name in b else '-'}{name}"
            for name in sorted(set(a) | set(b)) if a.get(name) != b.get(name)]  # fmt: skip


def _load(a, b) -> list[str]:
    if not isinstance(a, dict) or not isinstance(b, dict):
        return []
    before, after = (max((v for v in side.values() if isinstance(v, (int, float))), default=None) for side in (a, b))
    if before is None or after is None or abs(before - after) < 1:
        return []
    return [f"load average {before:g} -> {after:g}"]


def _changed(a: dict, b: dict, keys=None) -> list[str]:
    """``key a -> b`` for each key whose value differs; ``+key b`` / ``-key a`` for one side only."""
    lines = []
    for key in keys or sorted(set(a) | set(b)):
        if key in a and key in b and a[key] != b[key]:
            lines.append(f"{key} {_short(a[key])} -> {_short(b[key])}")
        elif key in b and key not in a and keys is None:
            lines.append(f"+{key} {_short(b[key])}")
        elif key in a and key not in b and keys is None:
            lines.append(f"-{key} {_short(a[key])}")
    return lines


def _short(value) -> str:
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _metric_names(a: list[Record], b: list[Record]) -> list[str]:
    names: dict[str, None] = {}
    for record in [*a, *b]:
        names.update(dict.fromkeys(record.metrics))
    for record in [*a, *b]:
        names.update(dict.fromkeys(k for k in record.throughput if is_rate(k)))
    return list(names)


def _figure(record: Record, name: str) -> float | None:
    if name in record.metrics:
        return record.metrics[name]
    return record.throughput.get(name, {}).get("items_per_s")


def _mean(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"


def _change(a: float | None, b: float | None) -> str:
    if a is None or b is None:
        return ""
    rel = f", {(b - a) / abs(a):+.1%}" if a else ""
    return f"  ({b - a:+.4g}{rel})"
