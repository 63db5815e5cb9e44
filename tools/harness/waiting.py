"""Bounded polling and latency measurement: the only ways the harness waits."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    predicate: Callable[[], T],
    timeout: float,
    interval: float = 0.05,
    message: str | Callable[[], str] = "condition not met",
) -> T:
    """Call ``predicate`` until it returns something truthy and return that; AssertionError after ``timeout``.

    Exceptions raised by the predicate propagate at once: a predicate that knows the wait is hopeless
    (the process died) should say so instead of burning the whole timeout. ``message`` may be a callable
    so that expensive context (a log tail) is only built on failure.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            text = message() if callable(message) else message
            raise AssertionError(f"{text} (gave up after {timeout:.1f}s)")
        time.sleep(min(interval, remaining))


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    """Run ``fn`` and return its result with the wall-clock seconds it took."""
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start
