"""The reply pump: pieces in order, heartbeats while waiting, the deadline kept, a crashing agent contained."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from travel_agent import request_context
from travel_agent.agent.budget import RESERVE_SECONDS
from travel_agent.agent.errors import AgentError, AgentUnavailable
from travel_agent.chat.pump import ReplyPump
from travel_agent.errors import BudgetExceeded


@pytest.fixture(autouse=True)
def no_budget() -> Iterator[None]:
    """Each test starts outside any request's budget (an in-process request earlier in this thread may have
    left its scope bound: the Flask test client does not always give the middleware its close)."""
    tokens = request_context.bind("pump-test", None)
    yield
    request_context.unbind(tokens)


def test_pieces_arrive_in_order_with_heartbeats_while_the_agent_is_silent() -> None:
    def slow() -> Iterator[str]:
        yield "a "
        time.sleep(0.35)
        yield "b"

    pieces = list(ReplyPump(slow, heartbeat_seconds=0.1).pieces())
    assert [p for p in pieces if p is not None] == ["a ", "b"]
    assert pieces[0] == "a " and pieces[-1] == "b" and pieces.count(None) >= 2


def test_the_agents_own_error_is_raised_as_is() -> None:
    def refuse() -> Iterator[str]:
        raise AgentUnavailable(retry_after=7)

    with pytest.raises(AgentUnavailable) as caught:
        ReplyPump(refuse, heartbeat_seconds=1).text()
    assert caught.value.retry_after == 7


def test_an_unexpected_crash_in_the_agent_is_logged_and_becomes_a_502(caplog: pytest.LogCaptureFixture) -> None:
    def crash() -> Iterator[str]:
        raise RuntimeError("bug in a provider")

    with pytest.raises(AgentError) as caught:
        ReplyPump(crash, heartbeat_seconds=1).text()
    assert caught.value.status_code == 502
    assert "the agent failed unexpectedly" in caplog.text and "RuntimeError" in caplog.text


def test_the_deadline_is_kept_even_when_the_agent_is_stuck_and_the_agent_is_then_abandoned(
    wait_until: Callable[..., object],
) -> None:
    release, produced = threading.Event(), []

    def stuck() -> Iterator[str]:
        try:
            release.wait(5)
            yield "too late"
            produced.append("kept going")  # never: the pump stops asking and closes the agent's stream
        finally:
            produced.append("closed")

    tokens = request_context.bind("pump-test", RESERVE_SECONDS + 0.3)
    try:
        started = time.monotonic()
        with pytest.raises(BudgetExceeded):
            ReplyPump(stuck, heartbeat_seconds=5).text()
        assert time.monotonic() - started < 1.0
    finally:
        request_context.unbind(tokens)
        release.set()
    wait_until(lambda: produced, 2, message="the abandoned agent was never closed")
    assert produced == ["closed"]


def test_a_fast_agent_waits_for_the_reader_and_stops_once_abandoned(wait_until: Callable[..., object]) -> None:
    """Back-pressure: the agent runs at most QUEUE_PIECES ahead of the request, and a request that went away
    stops the agent (here: the consumer reads three pieces, then closes)."""
    produced = 0
    bound = 200  # QUEUE_PIECES (64) and a few in hand, with room to change the constant

    def endless() -> Iterator[str]:
        nonlocal produced
        while True:
            produced += 1
            yield "x"

    pieces = ReplyPump(endless, heartbeat_seconds=5).pieces()
    assert [next(pieces) for _ in range(3)] == ["x", "x", "x"]
    wait_until(lambda: produced >= 3 + 10, 2)
    time.sleep(0.3)  # a producer not held back would be millions ahead by now
    assert produced <= bound, produced
    pieces.close()
    at_close = produced
    time.sleep(0.6)  # longer than the producer's look at a full queue
    assert produced <= at_close + 1
