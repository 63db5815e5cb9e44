"""The upstream circuit's trial is taken by the first turn that asks after the cool-down, before it stores
anything; every other turn is refused at once, and the holder's call goes ahead."""

from __future__ import annotations

import contextvars

import pytest

from tools.harness import wait_until
from travel_agent import request_context
from travel_agent.agent.errors import AgentUnavailable
from travel_agent.agent.openai_client import OpenAIAgent
from travel_agent.config import Settings
from travel_agent.resilience.breaker import CircuitBreaker


def in_request(request_id: str) -> contextvars.Context:
    """A context of its own with a request bound, as each request's greenlet has."""
    context = contextvars.Context()
    context.run(request_context.bind, request_id, 30)
    return context


def test_the_first_turn_after_the_cool_down_holds_the_trial_and_the_rest_are_refused() -> None:
    """Found by the chaos run: turns arriving between the cool-down and the trial's call all passed the check,
    stored their question, and were refused only then."""
    breaker = CircuitBreaker("model-upstream", threshold=1, reset_seconds=0.05)
    agent = OpenAIAgent(Settings.from_env({}), breaker)
    try:
        breaker.record_failure()
        first, second = in_request("first"), in_request("second")
        with pytest.raises(AgentUnavailable):
            first.run(agent.check_available)  # open, not cooled down
        wait_until(lambda: not breaker.refusing(), 2, interval=0.01, message="the breaker never cooled down")
        first.run(agent.check_available)  # takes the trial
        first.run(agent.check_available)  # and keeps it (a keyed send asks twice)
        with pytest.raises(AgentUnavailable):
            second.run(agent.check_available)  # everyone else refused while it runs
        breaker.record_success()
        second.run(agent.check_available)  # closed again: no trial to hold
    finally:
        agent.close()
