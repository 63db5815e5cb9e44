"""The shapes of the console's files, checked as they are read.

The files are written by the workers (``records``), but they live in a directory anyone with the service's
user may write, may be left by an older version, and are read by every ``/console/state``: a file that is JSON
of another shape must cost its own record, not the page (nor, for the history, every sample after it).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from travel_agent.console import traffic

Check = Callable[[Any], bool]


def number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def text(value: Any) -> bool:
    return isinstance(value, str)


def flag(value: Any) -> bool:
    return isinstance(value, bool)


def optional(check: Check) -> Check:
    return lambda value: value is None or check(value)


def list_of(check: Check) -> Check:
    return lambda value: isinstance(value, list) and all(check(item) for item in value)


def map_of(check: Check) -> Check:
    return lambda value: isinstance(value, dict) and all(text(k) and check(v) for k, v in value.items())


def record(**fields: Check) -> Check:
    """A dict with at least these keys, each passing its check (more keys are allowed)."""
    return lambda value: isinstance(value, dict) and all(k in value and c(value[k]) for k, c in fields.items())


def counts(value: Any) -> bool:
    """{route: its counts (traffic.WIDTH numbers), "upstream": [calls, failures, seconds]}."""
    return map_of(list_of(number))(value) and all(
        len(row) == (3 if route == traffic.UPSTREAM else traffic.WIDTH) for route, row in value.items()
    )


def _health(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and text(value[0]) and optional(number)(value[1])


SAMPLE = record(t=number, routes=counts, health=map_of(_health))
STATUS = record(value=text, since=number)
WORKER = record(
    pid=whole,
    started=number,
    updated=number,
    in_flight=whole,
    draining=flag,
    shed_total=whole,
    circuits=map_of(text),
)
ERROR = record(time=number, request_id=text, method=text, route=text, status=whole, message=text, pid=whole)
STARTED = record(started=number)
