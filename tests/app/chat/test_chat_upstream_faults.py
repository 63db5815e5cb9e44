"""The OpenAI provider against an upstream that fails, rations, dawdles or hangs: the mapped status within the
budget, and the user's message kept (unanswered) in the session."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from tests.support.chat import SEND, STREAM, parse_sse, session_path

from tools.harness.envelope import assert_envelope
from tools.harness.upstream import UpstreamServer

BUDGET = 3.0
# Enough slack for a loaded 2-core machine; the point is "answers by its deadline", not a benchmark.
WITHIN_BUDGET = BUDGET + 0.75


@pytest.fixture
def client(openai_app: Callable[..., Flask]) -> FlaskClient:
    return openai_app(CHAT_TIMEOUT_SECONDS=BUDGET, BREAKER_FAILURE_THRESHOLD=10).test_client()


def start_session(client: FlaskClient) -> str:
    response = client.post(SEND, json={"message": "Hello"})
    assert response.status_code == 200
    return str(response.get_json()["session_id"])


def failing_send(client: FlaskClient, session_id: str, code: int) -> tuple[dict[str, Any], Any, float]:
    started = time.monotonic()
    response = client.post(SEND, json={"message": "Plan Tokyo", "session_id": session_id})
    elapsed = time.monotonic() - started
    body = assert_envelope(response, code)
    assert body["session_id"] == session_id  # where the unanswered message is
    messages = client.get(session_path(session_id)).get_json()["messages"]
    assert [(m["role"], m["content"], m.get("status")) for m in messages[2:]] == [("user", "Plan Tokyo", "unanswered")]
    return body, response, elapsed


def test_upstream_500_is_retried_then_502(client: FlaskClient, upstream: UpstreamServer) -> None:
    session_id = start_session(client)
    upstream.fail_status = 500
    _, response, elapsed = failing_send(client, session_id, 502)
    assert elapsed < WITHIN_BUDGET
    assert len(upstream.requests) == 1 + 3  # the first turn, then an attempt and two retries
    assert "Retry-After" not in response.headers


def test_upstream_429_is_retried_then_503_with_its_retry_after(client: FlaskClient, upstream: UpstreamServer) -> None:
    session_id = start_session(client)
    upstream.configure(fail_status=429, retry_after=0.5)
    _, response, elapsed = failing_send(client, session_id, 503)
    assert elapsed < WITHIN_BUDGET
    assert response.headers["Retry-After"] == "1"
    assert len(upstream.requests) == 1 + 3


def test_a_retry_after_beyond_the_budget_gives_up_at_once(client: FlaskClient, upstream: UpstreamServer) -> None:
    session_id = start_session(client)
    upstream.configure(fail_status=429, retry_after=30)
    _, response, elapsed = failing_send(client, session_id, 503)
    assert response.headers["Retry-After"] == "30"
    assert len(upstream.requests) == 1 + 1 and elapsed < 1.5


@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_a_passing_failure_is_retried_and_answered(client: FlaskClient, upstream: UpstreamServer, status: int) -> None:
    upstream.fail_next(status, 2)
    response = client.post(SEND, json={"message": "Lima"})
    assert response.status_code == 200 and response.get_json()["reply"] == "echo: Lima"
    assert len(upstream.requests) == 3


@pytest.mark.parametrize("mode", ["slow", "hang"])
def test_an_upstream_slower_than_the_budget_is_504_on_time(
    client: FlaskClient, upstream: UpstreamServer, mode: str
) -> None:
    session_id = start_session(client)
    upstream.configure(**({"delay": 10.0} if mode == "slow" else {"mode": "hang"}))
    _, _, elapsed = failing_send(client, session_id, 504)
    assert BUDGET - 1.0 < elapsed < WITHIN_BUDGET


def test_an_upstream_that_refuses_the_request_is_502_without_retries(
    openai_app: Callable[..., Flask], upstream: UpstreamServer
) -> None:
    client = openai_app(OPENAI_BASE_URL=upstream.url + "/wrong").test_client()  # every path is a 404 there
    body = assert_envelope(client.post(SEND, json={"message": "Oslo"}), 502)
    assert "refused" in body["message"]
    assert len(upstream.requests) == 1


def test_an_unreachable_upstream_is_503(openai_app: Callable[..., Flask], upstream: UpstreamServer) -> None:
    client = openai_app(OPENAI_BASE_URL=upstream.base_url).test_client()
    upstream.stop()
    started = time.monotonic()
    response = client.post(SEND, json={"message": "Oslo"})
    assert_envelope(response, 503)
    assert int(response.headers["Retry-After"]) >= 1
    assert time.monotonic() - started < WITHIN_BUDGET


def test_the_circuit_opens_after_consecutive_failures_and_closes_when_it_answers(
    openai_app: Callable[..., Flask], upstream: UpstreamServer, wait_until: Callable[..., Any]
) -> None:
    client = openai_app(BREAKER_FAILURE_THRESHOLD=3, BREAKER_RESET_SECONDS=0.5).test_client()
    upstream.fail_status = 500
    assert_envelope(client.post(SEND, json={"message": "one"}), 502)  # three failed attempts open it
    seen = len(upstream.requests)
    started = time.monotonic()
    response = client.post(SEND, json={"message": "two"})
    assert_envelope(response, 503)
    assert time.monotonic() - started < 1.0 and len(upstream.requests) == seen  # refused without a call
    assert response.headers["Retry-After"] == "1"
    upstream.fail_status = None
    wait_until(lambda: client.post(SEND, json={"message": "three"}).status_code == 200, 5, interval=0.2)


def test_an_open_circuit_refuses_the_turn_before_storing_it(
    openai_app: Callable[..., Flask], upstream: UpstreamServer, mongo_server: Any
) -> None:
    """Found by the chaos run: a turn refused for an open circuit used to store its question first (three
    MongoDB writes before the 503), so failures of an upstream known down were not fast."""
    client = openai_app(BREAKER_FAILURE_THRESHOLD=1, BREAKER_RESET_SECONDS=30).test_client()
    session_id = start_session(client)
    upstream.fail_status = 500
    assert_envelope(client.post(SEND, json={"message": "opens it", "session_id": session_id}), 503)
    before = client.get(session_path(session_id)).get_json()["messages"]
    sessions = mongo_server.client()["travel_agent"]["chat_sessions"].count_documents({})
    for path in (SEND, STREAM):
        response = client.post(path, json={"message": "refused", "session_id": session_id})
        assert_envelope(response, 503)
        assert 1 <= int(response.headers["Retry-After"]) <= 30
        new = assert_envelope(client.post(path, json={"message": "no session either"}), 503)
        assert "session_id" not in new  # no session was made for it
    # With an Idempotency-Key: refused before the key's bookkeeping too (no record to write, then release).
    keyed = client.post(
        SEND, json={"message": "keyed", "session_id": session_id}, headers={"Idempotency-Key": "open-circuit-key"}
    )
    assert_envelope(keyed, 503)
    assert mongo_server.client()["travel_agent"]["chat_idempotency"].find_one({"_id": "open-circuit-key"}) is None
    assert client.get(session_path(session_id)).get_json()["messages"] == before
    assert mongo_server.client()["travel_agent"]["chat_sessions"].count_documents({}) == sessions


def test_the_failure_that_opens_the_circuit_answers_without_a_back_off(
    openai_app: Callable[..., Flask], upstream: UpstreamServer, log_file: Callable[[], str]
) -> None:
    client = openai_app(BREAKER_FAILURE_THRESHOLD=1, BREAKER_RESET_SECONDS=30).test_client()
    upstream.fail_status = 500
    assert_envelope(client.post(SEND, json={"message": "one"}), 503)
    assert len(upstream.requests) == 1  # no retry: the circuit it opened would refuse it
    assert "model upstream answered 500" in log_file()
    assert "retrying in" not in log_file()  # nor a back-off sleep before that refusal


class _NotOpenAI(BaseHTTPRequestHandler):
    """A real HTTP server that answers 200 with something that is not a chat completion."""

    def do_POST(self) -> None:
        streaming = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["stream"]
        body = b'data: {"choices": 7}\n\n' if streaming else b"<html>a login page</html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream" if streaming else "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def not_openai() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NotOpenAI)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_an_answer_that_is_not_a_chat_completion_is_502(openai_app: Callable[..., Flask], not_openai: str) -> None:
    client = openai_app(OPENAI_BASE_URL=not_openai).test_client()
    assert_envelope(client.post(SEND, json={"message": "Oslo"}), 502)
    events = parse_sse(client.post(STREAM, json={"message": "Oslo"}).get_data(as_text=True))
    assert [kind for kind, _ in events] == ["start", "error"] and events[-1][1]["code"] == 502
