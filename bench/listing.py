"""What the host read from the plugins and protocols, for people (``bench plugins NAME``,
``bench protocols``) and programs (``--json``): names, kinds, parameters with their defaults,
allowed values and help, budgets, feature parameters, restorations, recipes and probe settings and
published numbers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tabulate import tabulate

from bench.labels import FORMS
from bench.params import declared, defaults


def params_json(mapping: Mapping[str, Any]) -> dict:
    """Each param or option: default, what is allowed, help (plain defaults included)."""
    return {key: param.to_dict() for key, param in declared(mapping).items()}


def _params_table(mapping: Mapping[str, Any], title: str = "params") -> list[str]:
    if not mapping:
        return [f"{title}: none"]
    rows = [[key, _value(p.default), p.describe(), p.help] for key, p in declared(mapping).items()]
    return [f"{title}:", tabulate(rows, headers=["name", "default", "allowed", "help"], tablefmt="simple")]


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return repr(value) if isinstance(value, str) else str(value)


# -- plugins -------------------------------------------------------------------------------------


def method_json(spec) -> dict:
    return {
        "contract": f"bench.{type(spec).__name__}",
        "task_list": list(spec.tasks),
        "restorations": list(spec.restorations),
        "check_params": dict(spec.check_params),
        "check_budget": dict(spec.check_budget),
        "budget": dict(spec.budget),
        "params": params_json(spec.params),
        "feature_params": list(spec.feature_params),
        "citation": spec.citation,
        "published": [p.to_dict() for p in spec.published],
        **{field: settings_json(getattr(spec, field, {})) for field in ("recipes", "probes")},
    }


def settings_json(settings: Mapping[str, Any]) -> dict:
    """A method's named settings (bench.Setting): the options each sets, what it lacks, its source."""
    return {
        name: {"options": dict(s.options), "missing": list(s.missing), "source": s.source}
        for name, s in settings.items()
    }


def dataset_json(spec) -> dict:
    return {
        "task": spec.task,
        "num_classes": spec.num_classes,
        "image_shape": list(spec.image_shape) if spec.image_shape else None,
        "splits": list(spec.splits),
        "citation": spec.citation,
    }


def registry_json(reg) -> dict:
    """Every dataset, method and executor with its plugin and what it declares; broken plugins."""
    rows = []
    for kind, table in (("dataset", reg.datasets), ("method", reg.methods), ("executor", reg.executors)):
        for name, spec in sorted(table.items()):
            info = reg.plugin_of(kind, name)
            row = {
                "kind": kind,
                "name": name,
                "plugin": info.name,
                "distribution": info.distribution,
                "version": info.version,
                "description": spec.description,
            }
            if kind == "dataset":
                row.update(type=spec.task, tasks=spec.task, **dataset_json(spec))  # tasks: as the table shows it
            elif kind == "method":
                row.update(type=spec.kind, tasks=", ".join(spec.tasks), **method_json(spec))
            else:
                missing = spec.missing()
                row.update(
                    type="executor",
                    tasks=f"needs: {spec.install or ', '.join(missing)}" if missing else "",
                    options=defaults(spec.options),
                    declared_options=params_json(spec.options),
                    options_help=spec.options_help,
                    installed=not missing,
                )
            rows.append(row)
    broken = [
        {"plugin": b.name, "distribution": b.distribution, "error": b.error, "loaded": b.loaded, "what": b.what}
        for b in reg.broken
    ]
    return {"plugins": rows, "broken": broken}


def plugin_page(reg, name: str) -> str | None:
    """A readable page for one plugin or distribution (all it registers) or one dataset, method or
    executor; None when nothing has that name."""
    plugins = reg.plugins_named(name)
    entries = [
        (kind, entry, spec)
        for kind, table in (("dataset", reg.datasets), ("method", reg.methods), ("executor", reg.executors))
        for entry, spec in sorted(table.items())
        if entry == name or reg.plugin_of(kind, entry).name in plugins
    ]
    if not entries:
        return None
    out = []
    for kind, entry, spec in entries:
        info = reg.plugin_of(kind, entry)
        out.append(f"{kind} {entry}  (plugin {info.name}, {info.distribution} {info.version})".rstrip())
        if spec.description:
            out.append(f"  {spec.description}")
        if kind == "method":
            out.append(
                f"kind: {spec.kind} (bench.{type(spec).__name__}); tasks: {', '.join(spec.tasks)}"
                + (f"; restores: {', '.join(spec.restorations)}" if spec.restorations else "")
            )
            out.append(
                "budget (full; suites may override, budget_scale scales): "
                + (", ".join(f"{k}={v}" for k, v in spec.budget.items()) or "none")
            )
            out += _params_table(spec.params)
            out += _label_budget_line(spec.kind)
            if spec.check_params or spec.check_budget:
                out.append(
                    "bench check runs it at: "
                    + ", ".join(f"{k}={v}" for k, v in {**spec.check_params, **spec.check_budget}.items())
                )
            if spec.feature_params:
                out.append(
                    f"feature params (read-out only; runs differing in them share one encoder): "
                    f"{', '.join(spec.feature_params)}"
                )
            out += _settings_lines(spec)
            if spec.published:
                out.append("published:")
                out.append(
                    tabulate(
                        [
                            [p.dataset, p.setting or "-", p.protocol or "any", p.metric, p.value, p.source]
                            for p in spec.published
                        ],
                        headers=["dataset", "setting", "protocol", "metric", "value", "source"],
                        tablefmt="simple",
                    )
                )
        elif kind == "dataset":
            shape = "x".join(map(str, spec.image_shape)) if spec.image_shape else "own sizes"
            out.append(
                f"task: {spec.task}; splits: {', '.join(spec.splits)}; images: {shape}"
                + (f"; classes: {spec.num_classes}" if spec.num_classes else "")
            )
        else:
            out += _params_table(spec.options, "options")
        if getattr(spec, "citation", ""):
            out.append(f"cite: {spec.citation}")
        out.append("")
    return "\n".join(out)


def _settings_lines(spec) -> list[str]:
    """The recipes and probe settings a representation learner registers, with what each sets."""
    out = []
    for field, protocol, option in (("recipes", "finetune", "recipe"), ("probes", "linear-probe", "probe")):
        settings = getattr(spec, field, {})
        if settings:
            out.append(f"{field} (protocol {protocol}, {option}: NAME; overrides: {{option: value}} changes some):")
        for name, setting in settings.items():
            out.append(f"  {name}: {setting.source or 'no source given'}")
            out.append("    sets " + ", ".join(f"{k}={_value(v)}" for k, v in setting.options.items()))
            out += [f"    lacks: {line}" for line in setting.missing]
    return out


def _label_budget_line(kind: str) -> list[str]:
    """How many labels a method of this kind gets is the host's (protocol option ``labels``)."""
    protocols = {"classifier": "classify", "representation": "linear-probe, knn, finetune"}.get(kind)
    if protocols is None:
        return []
    return [f"label budget (the host's; protocol option labels of {protocols}): {FORMS}"]


# -- protocols -----------------------------------------------------------------------------------


def protocols_json(protocols: Mapping[str, Any]) -> list[dict]:
    return [
        {
            "name": p.name,
            "method_kinds": list(p.method_kinds),
            "dataset_tasks": list(p.dataset_tasks),
            "description": p.description,
            "options": params_json(p.options),
        }
        for p in protocols.values()
    ]


def protocols_page(protocols: Mapping[str, Any], name: str | None = None) -> str:
    """Every protocol (or one) with what it pairs and its options."""
    out = []
    for p in protocols.values():
        if name is not None and p.name != name:
            continue
        out.append(f"protocol {p.name}: {', '.join(p.method_kinds)} methods on {', '.join(p.dataset_tasks)} data")
        out.append(f"  {p.description}")
        out += _params_table(p.options, "options")
        out.append("")
    return "\n".join(out)
