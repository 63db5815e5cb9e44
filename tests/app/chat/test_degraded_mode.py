"""The degraded mode against real upstreams (tools/harness/upstream.py): the first model failing, refusing,
hanging or behind an open circuit; the second upstream; the offline assistant; what the client and the stored
history are told of each."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from tests.support.chat import SEND, STREAM, chunks_text, parse_sse, session_path

from tools.harness import wait_until
from tools.harness.envelope import assert_envelope
from tools.harness.upstream import UpstreamServer
from travel_agent.services import EXTENSION_KEY

BUDGET = 4.0
FALLBACK_MODEL = "second-test-model"


@pytest.fixture
def second() -> Iterator[UpstreamServer]:
    """The second OpenAI-compatible upstream: a real server of its own."""
    with UpstreamServer() as server:
        yield server


@pytest.fixture
def degraded_app(openai_app: Callable[..., Flask]) -> Callable[..., Flask]:
    """``degraded_app(**settings)``: the first upstream, then the offline assistant (the production default)."""
    return lambda **overrides: openai_app(
        **({"AGENT_FALLBACK": "offline", "CHAT_TIMEOUT_SECONDS": BUDGET, "BREAKER_RESET_SECONDS": 1.0} | overrides)
    )


def assistant_messages(client: FlaskClient, session_id: str) -> list[dict[str, Any]]:
    messages = client.get(session_path(session_id)).get_json()["messages"]
    assert all(m["status"] == "answered" for m in messages if m["role"] == "user"), messages
    return [m for m in messages if m["role"] == "assistant"]


def test_a_failing_model_is_answered_by_the_offline_assistant_marked_degraded(
    degraded_app: Callable[..., Flask], upstream: UpstreamServer
) -> None:
    client = degraded_app().test_client()
    upstream.fail_status = 500
    sent = client.post(SEND, json={"message": "5 days in Lisbon for two"})
    assert sent.status_code == 200, sent.get_data(as_text=True)
    body = sent.get_json()
    assert body["degraded"] is True and not body["reply"].startswith("echo:")
    assert "Lisbon" in body["reply"]  # the offline assistant's plan, not an error text
    assert len(upstream.requests) == 3  # the model was asked (an attempt and two retries) before falling back
    streamed = parse_sse(client.post(STREAM, json={"message": "And Porto?", "session_id": body["session_id"]}).text)
    kinds = [kind for kind, _ in streamed]
    assert kinds[0] == "start" and kinds[-1] == "done" and "chunk" in kinds, kinds
    assert streamed[-1][1]["degraded"] is True
    stored = assistant_messages(client, body["session_id"])
    assert [(m["degraded"], m["model"]) for m in stored] == [(True, "offline"), (True, "offline")]
    assert stored[0]["content"] == body["reply"] and stored[1]["content"] == chunks_text(streamed)


def test_a_healthy_model_answers_undegraded_and_the_reply_names_it(
    degraded_app: Callable[..., Flask], upstream: UpstreamServer
) -> None:
    client = degraded_app().test_client()
    body = client.post(SEND, json={"message": "Kyoto"}).get_json()
    assert body["reply"] == "echo: Kyoto" and body["degraded"] is False
    done = parse_sse(client.post(STREAM, json={"message": "Osaka", "session_id": body["session_id"]}).text)[-1]
    assert done[0] == "done" and done[1]["degraded"] is False
    stored = assistant_messages(client, body["session_id"])
    assert [m["model"] for m in stored] == ["travel-test-model"] * 2
    assert all("degraded" not in m for m in stored)
    # The upstream reports usage in a send's body and, asked with stream_options, in a stream's last event.
    assert all(m["usage"]["completion_tokens"] == 2 and m["usage"]["prompt_tokens"] > 0 for m in stored), stored
    assert upstream.requests[-1]["json"]["stream_options"] == {"include_usage": True}


def test_an_open_circuit_goes_straight_to_the_offline_assistant_and_closes_when_the_model_returns(
    degraded_app: Callable[..., Flask], upstream: UpstreamServer
) -> None:
    app = degraded_app(BREAKER_FAILURE_THRESHOLD=1, OPENAI_MAX_RETRIES=0)
    client = app.test_client()
    breaker = app.extensions[EXTENSION_KEY].breakers.get("upstream")
    upstream.fail_status = 502
    assert client.post(SEND, json={"message": "Rome"}).get_json()["degraded"] is True
    assert breaker.state.value == "open"
    asked = len(upstream.requests)
    started = time.monotonic()
    body = client.post(SEND, json={"message": "Rome again"}).get_json()
    assert body["degraded"] is True and time.monotonic() - started < 1.0
    assert len(upstream.requests) == asked  # refused by the circuit: the model was not called
    upstream.reset()
    # Within BREAKER_RESET_SECONDS plus one call the model answers again, undegraded.
    wait_until(lambda: not breaker.refusing(), 3, interval=0.05, message="the circuit never cooled down")
    body = client.post(SEND, json={"message": "Milan"}).get_json()
    assert (body["reply"], body["degraded"]) == ("echo: Milan", False)
    assert breaker.state.value == "closed"


def test_a_hanging_model_is_given_up_in_time_for_the_offline_answer(
    degraded_app: Callable[..., Flask], upstream: UpstreamServer
) -> None:
    client = degraded_app().test_client()
    upstream.mode = "hang"
    for path in (SEND, STREAM):
        started = time.monotonic()
        response = client.post(path, json={"message": "Oslo for 3 days"})
        text = response.get_data(as_text=True)  # a stream's whole body: its end is when the turn ended
        elapsed = time.monotonic() - started
        assert response.status_code == 200, text
        degraded = response.get_json()["degraded"] if path == SEND else parse_sse(text)[-1][1]["degraded"]
        assert degraded is True
        # The model had the budget but the reserve and the offline assistant's share; the answer came in time.
        assert BUDGET - 1.5 < elapsed < BUDGET + 0.75, (path, elapsed)


def test_a_stream_that_breaks_after_its_first_chunk_is_not_taken_back(
    degraded_app: Callable[..., Flask], upstream: UpstreamServer
) -> None:
    client = degraded_app().test_client()
    upstream.configure(mode="stream_break", break_after=2)
    events = parse_sse(client.post(STREAM, json={"message": "one two three four five"}).text)
    assert [kind for kind, _ in events] == ["start", "chunk", "chunk", "error"]
    assert events[-1][1]["code"] == 502


def test_the_second_upstream_answers_undegraded_with_its_own_breaker_and_model(
    degraded_app: Callable[..., Flask], upstream: UpstreamServer, second: UpstreamServer
) -> None:
    app = degraded_app(
        OPENAI_FALLBACK_BASE_URL=second.base_url,
        OPENAI_FALLBACK_MODEL=FALLBACK_MODEL,
        OPENAI_FALLBACK_API_KEY="sk-second-0123456789",
        BREAKER_FAILURE_THRESHOLD=1,
        OPENAI_MAX_RETRIES=0,
    )
    client = app.test_client()
    upstream.fail_status = 500
    body = client.post(SEND, json={"message": "Quito"}).get_json()
    assert body["reply"] == "echo: Quito" and body["degraded"] is False
    events = parse_sse(client.post(STREAM, json={"message": "Cusco", "session_id": body["session_id"]}).text)
    assert chunks_text(events) == "echo: Cusco" and events[-1][1]["degraded"] is False
    assert [m["model"] for m in assistant_messages(client, body["session_id"])] == [FALLBACK_MODEL] * 2
    asked = second.requests[0]
    assert asked["json"]["model"] == FALLBACK_MODEL
    assert asked["headers"]["Authorization"] == "Bearer sk-second-0123456789"
    breakers = app.extensions[EXTENSION_KEY].breakers.states()
    assert {name: state.value for name, state in breakers.items() if name.startswith("upstream")} == {
        "upstream": "open",
        "upstream_fallback": "closed",
    }
    # Both down: the offline assistant, degraded.
    second.fail_status = 503
    assert client.post(SEND, json={"message": "Lima"}).get_json()["degraded"] is True


def test_a_hostile_second_upstream_meets_the_same_limits(
    openai_app: Callable[..., Flask], upstream: UpstreamServer, second: UpstreamServer
) -> None:
    client = openai_app(
        AGENT_FALLBACK="none",
        OPENAI_FALLBACK_BASE_URL=second.base_url,
        MAX_REPLY_CHARS=1000,
        OPENAI_MAX_RETRIES=0,
        CHAT_TIMEOUT_SECONDS=2,
    ).test_client()
    upstream.fail_status = 500
    second.configure(mode="huge", huge_chars=5000)
    body = assert_envelope(client.post(SEND, json={"message": "Bogota"}), 502)
    assert "too long" in body["message"]
    second.configure(mode="flood")  # empty chunks without end: the budget stops it, as it stops the first
    started = time.monotonic()
    events = parse_sse(client.post(STREAM, json={"message": "Medellin"}).text)
    assert events[-1][0] == "error" and events[-1][1]["code"] == 504, events[-1]
    assert time.monotonic() - started < 2 + 0.75


def test_without_a_fallback_the_model_statuses_stay(openai_app: Callable[..., Flask], upstream: UpstreamServer) -> None:
    client = openai_app(AGENT_FALLBACK="none", OPENAI_MAX_RETRIES=0, BREAKER_FAILURE_THRESHOLD=1).test_client()
    upstream.fail_status = 500
    assert_envelope(client.post(SEND, json={"message": "Paris"}), 502)
    assert_envelope(client.post(SEND, json={"message": "Paris"}), 503)  # the circuit is open now
