"""The settings mechanism: a field's rule is its metadata, and one reader applies it.

``setting()`` states the rule beside the field: ``choices``, ``minimum``, ``maximum``, a ``check`` for text
(returns what is wrong, or None), ``why`` (said after a refused value), ``secret`` (never echoed, left out of
the repr) and ``kind`` (the type of a field whose default is None). Without metadata the default's type decides:
whole numbers are at least 1, seconds above 0 and below a day, text is taken as it is. Standard library only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any


def setting(
    default: Any,
    *,
    choices: tuple[str, ...] | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
    check: Callable[[str], str | None] | None = None,
    why: str | None = None,
    secret: bool = False,
    kind: type | None = None,
) -> Any:
    """A Settings field whose rule is stated beside it (see the module's docstring)."""
    rules = {"choices": choices, "minimum": minimum, "maximum": maximum, "check": check, "why": why, "kind": kind}
    metadata = {key: value for key, value in rules.items() if value is not None} | {"secret": secret}
    return dataclasses.field(default=default, repr=not secret, metadata=metadata)


def read_field(field: dataclasses.Field[Any], env: Mapping[str, str], errors: list[str]) -> Any:
    """The field's value from the environment by its rule, or its default (and a line in errors)."""
    name = field.name.upper()
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return field.default
    meta = field.metadata
    shown = name if meta.get("secret") else f"{name}={raw!r}"
    convert, accepts, rule = _rule(field)
    problem: str | None
    try:
        value = convert(raw.strip())
    except ValueError:
        value, problem = field.default, f"expected {rule}"
    else:
        problem = None if accepts(value) else f"expected {rule}"
    if problem is None and "check" in meta:
        problem = meta["check"](value)
    if problem is None:
        return value
    why = meta.get("why")
    errors.append(f"{shown}: {problem}" + (f" ({why})" if why else ""))
    return field.default


def _rule(field: dataclasses.Field[Any]) -> tuple[Callable[[str], Any], Callable[[Any], bool], str]:
    """(convert, accepts, the rule in words) for a field, from its metadata and its default's type."""
    meta = field.metadata
    kind = meta.get("kind", type(field.default))
    low, high = meta.get("minimum"), meta.get("maximum")
    if "choices" in meta:
        allowed = meta["choices"]
        return str.lower, lambda v: v in allowed, "one of " + ", ".join(allowed)
    if kind is bool:
        return _boolean, lambda v: True, "true or false (also 1/0, yes/no, on/off)"
    if kind is int:
        low = 1 if low is None else low
        if high is None:
            return int, lambda v: v >= low, f"a whole number >= {low}"
        return int, lambda v: low <= v <= high, f"a whole number from {low} to {high}"
    if kind is float:
        rule = "a number of seconds above 0" if low is None else f"a number of seconds >= {low:g}"
        rule += "" if high is None else f" and at most {high:g}"
        above = (lambda v: v > 0) if low is None else (lambda v: v >= low)
        below = (lambda v: v < 86400) if high is None else (lambda v: v <= high)
        return float, lambda v: above(v) and below(v), rule
    return str, lambda v: True, "text"


def _boolean(raw: str) -> bool:
    word = raw.lower()
    if word in ("1", "true", "yes", "on"):
        return True
    if word in ("0", "false", "no", "off"):
        return False
    raise ValueError(raw)
