"""How much of the request's budget the agent may spend: all of it but a reserve to store the reply and answer,
and, while a fallback waits behind the agent being asked, all but the fallback's share (``capped``)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from travel_agent import request_context
from travel_agent.errors import BudgetExceeded

# Storing the reply takes two quick MongoDB writes, and an error still has to reach the client (for a stream,
# before the middleware's last-resort timeout cuts it): the agent stops this long before the deadline.
RESERVE_SECONDS = 0.5
# Below this there is no point in starting an upstream call: it could not even connect.
MIN_CALL_SECONDS = 0.05

# A deadline (time.monotonic()) earlier than the request's, for the agent being asked while a fallback waits.
_CAP: ContextVar[float | None] = ContextVar("agent_budget_cap", default=None)


def time_left() -> float | None:
    """Seconds the agent may still use; None outside a request (no budget) unless capped."""
    left = request_context.remaining()
    left = None if left is None else left - RESERVE_SECONDS
    cap = _CAP.get()
    if cap is not None:
        by_cap = cap - time.monotonic()
        left = by_cap if left is None else min(left, by_cap)
    return left


def uncapped_time_left() -> float | None:
    """``time_left`` without the cap: what a fallback would have."""
    left = request_context.remaining()
    return None if left is None else left - RESERVE_SECONDS


@contextmanager
def capped(deadline: float | None) -> Iterator[None]:
    """Within the block the agent stops at ``deadline`` (monotonic) if that comes before the request's. Set
    and reset around one synchronous step: never held across a generator's ``yield``."""
    token = _CAP.set(deadline)
    try:
        yield
    finally:
        _CAP.reset(token)


def require_time(default: float) -> float:
    """What an upstream call may take: the time left (``default`` outside a request); BudgetExceeded if none."""
    left = time_left()
    if left is None:
        return default
    if left <= MIN_CALL_SECONDS:
        raise BudgetExceeded()
    return left
