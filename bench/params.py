"""Declared parameters: a default, the values allowed, and a line of help.

A method's ``params``, a protocol's and an executor's ``options`` map each name either to a plain
default (its type is taken from the default, as before) or to a :class:`Param`, which also
declares the allowed values::

    params={"lr": Param(0.01, gt=0, help="Adam learning rate"),
            "average": Param("denoise", choices=("denoise", "always", "never")),
            "widths": Param((64, 256, 256), ge=1, help="channels of the three groups")}

The host checks every value a suite gives against its declaration when the suite loads, so a
typo fails ``--dry-run`` with the file, the key and what was expected instead of failing (or
silently changing meaning) at run time. This module imports nothing else from bench.
"""

from __future__ import annotations

import math
import re
import reprlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: Integers must fit 64 bits: every value ends up in torch, numpy or a C library.
INT_LIMIT = 2**63
#: A name used as a folder or file name (suite, image): one path component, nothing to escape.
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
NAME_TEXT = "a name of letters, digits, '.', '_' or '-' (at most 100, not starting with '.' or '-')"

_SHOW = reprlib.Repr()
_SHOW.maxstring = _SHOW.maxother = 120
_SHOW.maxlevel, _SHOW.maxlist, _SHOW.maxtuple, _SHOW.maxdict, _SHOW.maxset = 3, 8, 8, 8, 8
_SHOW.maxlong = 40


def show(value: Any, limit: int = 200) -> str:
    """``value`` for an error message: its type and a repr bounded in time and length (a YAML alias
    bomb must not be printed in full)."""
    if value is None:
        return "nothing"
    text = _SHOW.repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"{type(value).__name__} {text}"


def is_name(value: Any) -> bool:
    """Whether ``value`` is safe as one path component (see :data:`NAME`)."""
    return isinstance(value, str) and NAME.fullmatch(value) is not None


@dataclass(frozen=True)
class Param:
    """A declared parameter: ``default``, its type (taken from the default), and optionally
    ``choices`` (the only values allowed), a numeric range (``ge``/``gt``: at least / above,
    ``le``/``lt``: at most / below) and a one-line ``help``.

    For a list or tuple default, ``choices`` and the range apply to each element, whose type is
    taken from the default's first element or from ``item`` (needed when the default is empty).
    ``min_items``: the fewest elements a list may have. ``name=True`` requires text (or each
    element) to be one safe path component. ``parse``, for
    values with a grammar of their own (a config string), is called on a value of the right type
    and raises ValueError, with the reason, when it rejects it. ``since``, for a param added to a
    method that already has records (the plugin's version that added it, e.g. ``"0.3"``): a run
    that leaves it at its default keeps the key it had before, so its records are still found
    (the default must reproduce what the method did without it). ``expected`` says in words what
    a value must be when it may take several types (a label budget: 4 or 0.01 or "all"): ``parse``
    alone then decides, whatever the default's type.
    """

    default: Any
    choices: tuple | None = None
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    help: str = ""
    item: type | None = None
    name: bool = False
    parse: Callable[[Any], Any] | None = field(default=None, compare=False)
    since: str = ""
    #: For a list: the fewest elements it may have (a sweep needs at least one value to try).
    min_items: int = 0
    expected: str = ""

    def __post_init__(self) -> None:
        if self.choices is not None:
            object.__setattr__(self, "choices", tuple(self.choices))

    # -- what is allowed ---------------------------------------------------------------------

    @property
    def is_list(self) -> bool:
        return isinstance(self.default, (list, tuple))

    @property
    def element_type(self) -> type | None:
        """The type each value (or each element of a list) must have; None: anything."""
        if self.is_list:
            return self.item or _common_type(self.default)
        return None if self.default is None else type(self.default)

    def describe(self) -> str:
        """What a value must be, as a phrase: "an integer >= 1", "one of pretrained, random"."""
        if self.expected:
            return self.expected
        one = self._describe_one()
        if self.is_list:
            least = f"at least {self.min_items} " if self.min_items else ""
            return f"a list of {least}{_plural(one) if one else 'values'}" if one or least else "a list"
        return one or "any value"

    def _describe_one(self) -> str:
        if self.choices is not None:
            return "one of " + ", ".join(_text(c) for c in self.choices)
        element = self.element_type
        if element is bool:
            return "true or false"
        if element is int or element is float:
            noun = "an integer" if element is int else "a number"
            bounds = [
                f"{op} {_text(v)}"
                for op, v in ((">=", self.ge), (">", self.gt), ("<=", self.le), ("<", self.lt))
                if v is not None
            ]
            return noun + (" " + " and ".join(bounds) if bounds else "")
        if element is str:
            return NAME_TEXT if self.name else "text"
        if element is dict:
            return "a mapping"
        return "" if element is None else f"a {element.__name__}"

    def check(self, value: Any) -> str | None:
        """None if ``value`` is allowed, else one line: "expected an integer >= 1, got int 0"."""
        if self.is_list:
            if not isinstance(value, (list, tuple)):
                return f"expected {self.describe()}, got {show(value)}"
            if len(value) < self.min_items:
                return f"expected {self.describe()}, got {show(value)}"
            wrong = next((x for x in value if not self._allowed(x)), _OK)
            if wrong is not _OK:
                return f"expected {self.describe()}, got {show(wrong)} in {show(value)}"
            return None
        if not self._allowed(value):
            return f"expected {self.describe()}, got {show(value)}"
        if self.parse is not None:
            try:
                self.parse(value)
            except ValueError as exc:
                return str(exc)
        return None

    def _allowed(self, value: Any) -> bool:
        if self.expected and self.parse is not None:  # several types: parse decides
            return True
        if self.choices is not None:
            return any(type(value) is type(c) and value == c for c in self.choices)  # True is not 1
        element = self.element_type
        if element is None:
            return True
        if element is bool:
            return isinstance(value, bool)
        if element is int or element is float:
            if isinstance(value, bool) or not isinstance(value, (int, float) if element is float else int):
                return False
            if isinstance(value, int) and not -INT_LIMIT <= value < INT_LIMIT:
                return False
            if isinstance(value, float) and not math.isfinite(value):
                return False
            return (
                (self.ge is None or value >= self.ge)
                and (self.gt is None or value > self.gt)
                and (self.le is None or value <= self.le)
                and (self.lt is None or value < self.lt)
            )
        if element in (list, tuple):
            return isinstance(value, (list, tuple))
        if element is str and self.name:
            return is_name(value)
        return isinstance(value, element)

    def to_dict(self) -> dict:
        """A JSON-ready description (``bench plugins --json``)."""
        out = {"default": self.default, "expected": self.describe(), "help": self.help}
        if self.choices is not None:
            out["choices"] = list(self.choices)
        out.update(
            {k: v for k, v in (("ge", self.ge), ("gt", self.gt), ("le", self.le), ("lt", self.lt)) if v is not None}
        )
        return out


_OK = object()


def _common_type(values) -> type | None:
    """The one type of a default list's elements (float when ints and floats mix), else None."""
    kinds = {type(x) for x in values}
    if kinds == {int, float}:
        return float
    return kinds.pop() if len(kinds) == 1 else None


def as_param(value: Any) -> Param:
    """A declaration as it is, a plain default as ``Param(default)``."""
    return value if isinstance(value, Param) else Param(value)


def declared(mapping: Mapping[str, Any]) -> dict[str, Param]:
    """Every entry of a params/options mapping as a :class:`Param`; ValueError naming the key when
    a declaration refuses its own default (``Param(0, ge=1)``, a plain NaN)."""
    out = {}
    for key, value in mapping.items():
        param = out[key] = as_param(value)
        # Checked here, where the declaration has its name, so the error says which param refuses it.
        if problem := param.check(param.default):
            raise ValueError(f"{key!r}: the default {param.default!r} does not satisfy its own declaration: {problem}")
    return out


def late_defaults(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """The defaults of the entries declared with ``since`` (added after runs had keys)."""
    return {key: value.default for key, value in mapping.items() if isinstance(value, Param) and value.since}


def defaults(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """The default of every entry of a params/options mapping (plain defaults as they are)."""
    return {key: value.default if isinstance(value, Param) else value for key, value in mapping.items()}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def _plural(phrase: str) -> str:
    for single, many in (("an integer", "integers"), ("a number", "numbers"), ("a mapping", "mappings")):
        if phrase.startswith(single):
            return many + phrase[len(single) :]
    if phrase.startswith("a name of"):
        return "names of" + phrase[len("a name of") :]
    if phrase.startswith("one of "):
        return "values, each " + phrase
    if phrase == "true or false":
        return "true/false values"
    return phrase


__all__ = ["INT_LIMIT", "NAME", "Param", "as_param", "declared", "defaults", "is_name", "show"]
