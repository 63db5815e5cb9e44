"""``travel_agent_chat_turns_total{mode, outcome}``: every chat turn counted once, by how it ended."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from travel_agent.agent.waiting import ClientGone
from travel_agent.errors import TravelAgentError
from travel_agent.observability import metrics

F = TypeVar("F", bound=Callable[..., tuple[Any, bool]])


def answered(mode: str, answer: Any) -> None:
    """A turn answered: "degraded" when the offline assistant wrote the answer, else "answered"."""
    metrics.record_chat_turn(mode, "degraded" if answer.degraded else "answered")


def failed(mode: str, exc: BaseException) -> None:
    """A turn that ended with ``exc``: labelled with the status it answers (or "cancelled": the client left)."""
    if isinstance(exc, TravelAgentError):
        outcome = str(exc.status_code)
    else:
        outcome = "cancelled" if isinstance(exc, GeneratorExit | ClientGone) else "500"
    metrics.record_chat_turn(mode, outcome)


def counted_send(send: F) -> F:
    """``ChatService.send`` counted: a replay of an Idempotency-Key's stored answer is not a turn of its own."""

    @functools.wraps(send)
    def counted(*args: Any, **kwargs: Any) -> tuple[Any, bool]:
        try:
            answer, replayed = send(*args, **kwargs)
        except BaseException as exc:
            failed("send", exc)
            raise
        if not replayed:
            answered("send", answer)
        return answer, replayed

    return counted  # type: ignore[return-value]
