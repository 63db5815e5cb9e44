"""Deleting a session while one of its turns runs leaves nothing of it, and nothing brings it back: real gunicorn,
SecantusDB and redis-server, and a slow real upstream so the turn is mid-flight when the DELETE lands."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import requests
from tests.support.chat import API_KEY, SEND, STREAM, parse_sse, session_path

from tools.harness.envelope import assert_envelope
from tools.harness.upstream import UpstreamServer

pytestmark = pytest.mark.slow


@pytest.fixture
def chat(
    make_mongo: Callable[..., Any],
    make_redis: Callable[..., Any],
    make_gunicorn: Callable[..., Any],
    upstream: UpstreamServer,
) -> tuple[Any, Any, Any]:
    mongo, redis = make_mongo(), make_redis()
    service = make_gunicorn(
        mongo_uri=mongo.uri,
        redis_url=redis.url,
        env={
            "STARTUP_RETRIES": "1",
            "AGENT_PROVIDER": "openai",
            "OPENAI_BASE_URL": upstream.base_url,
            "OPENAI_API_KEY": API_KEY,
        },
    )
    return service, mongo, redis


def traces(mongo: Any, redis: Any, session_id: str) -> list[str]:
    """Everything in MongoDB or Redis that mentions the session."""
    found = []
    database = mongo.client()["travel_agent"]
    for name in ("chat_sessions", "chat_messages", "chat_idempotency", "chat_turns"):
        found += [f"{name}: {doc}" for doc in database[name].find() if session_id in repr(doc)]
    client = redis.client()
    found += [f"redis {k!r}" for k in client.scan_iter() if session_id.encode() in k + (client.dump(k) or b"")]
    return found


@pytest.mark.parametrize("path", [SEND, STREAM])
def test_a_session_deleted_mid_turn_leaves_nothing_and_stays_deleted(
    chat: tuple[Any, Any, Any], upstream: UpstreamServer, wait_until: Callable[..., Any], path: str
) -> None:
    service, mongo, redis = chat
    base = service.base_url
    first_key, turn_key = str(uuid.uuid4()), str(uuid.uuid4())
    started = requests.post(base + SEND, json={"message": "Lisbon"}, headers={"Idempotency-Key": first_key}, timeout=30)
    assert started.status_code == 200
    session_id = started.json()["session_id"]

    upstream.configure(delay=2.0)
    outcome: dict[str, Any] = {}
    body = {"message": "for 4 days", "session_id": session_id}
    headers = {"Idempotency-Key": turn_key} if path == SEND else {}

    def run_turn() -> None:
        outcome["response"] = requests.post(base + path, json=body, headers=headers, timeout=30)

    thread = threading.Thread(target=run_turn)
    thread.start()
    wait_until(lambda: upstream.in_flight == 1, 10)  # the question is stored, the agent is answering
    deleted = requests.delete(base + session_path(session_id), timeout=30)
    assert deleted.status_code == 204
    thread.join(30)
    response = outcome["response"]
    if path == SEND:
        assert_envelope(response, 404)
    else:
        assert response.status_code == 200  # the stream had started; it ends with the 404 as its error event
        events = parse_sse(response.text)
        assert events[-1][0] == "error" and events[-1][1]["code"] == 404, events
    assert traces(mongo, redis, session_id) == []

    upstream.configure(delay=0.0)
    # Retries with either key (the turn cut by the delete, and the one that created the session) answer 404
    # and bring nothing back.
    for key, retried in ((turn_key, body), (first_key, {"message": "Lisbon"})):
        assert_envelope(requests.post(base + SEND, json=retried, headers={"Idempotency-Key": key}, timeout=30), 404)
    assert_envelope(requests.get(base + session_path(session_id), timeout=30), 404)
    assert traces(mongo, redis, session_id) == []
    assert "lost writes" not in service.log_file_text()
