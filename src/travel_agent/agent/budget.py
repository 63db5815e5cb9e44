"""How much of the request's budget the agent may spend: all of it but a reserve to store the reply and answer."""

from __future__ import annotations

from travel_agent import request_context
from travel_agent.errors import BudgetExceeded

# Storing the reply takes two quick MongoDB writes, and an error still has to reach the client (for a stream,
# before the middleware's last-resort timeout cuts it): the agent stops this long before the deadline.
RESERVE_SECONDS = 0.5
# Below this there is no point in starting an upstream call: it could not even connect.
MIN_CALL_SECONDS = 0.05


def time_left() -> float | None:
    """Seconds the agent may still use; None outside a request (no budget)."""
    left = request_context.remaining()
    return None if left is None else left - RESERVE_SECONDS


def require_time(default: float) -> float:
    """What an upstream call may take: the time left (``default`` outside a request); BudgetExceeded if none."""
    left = time_left()
    if left is None:
        return default
    if left <= MIN_CALL_SECONDS:
        raise BudgetExceeded()
    return left
