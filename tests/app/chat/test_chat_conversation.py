"""Conversations with each provider: the history exact and in order, what the upstream received, sessions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from flask import Flask, jsonify
from flask.testing import FlaskClient
from tests.support.chat import API_KEY, MODEL, SEND, session_path

from tools.harness.envelope import assert_envelope
from tools.harness.upstream import UpstreamServer
from travel_agent.agent import offline
from travel_agent.agent.interface import Turn
from travel_agent.agent.openai_client import SYSTEM_PROMPT
from travel_agent.api.chat_schemas import AnswerSchema
from travel_agent.chat.context_cache import key as context_key


def send(client: FlaskClient, message: str, session_id: str | None = None) -> dict[str, Any]:
    response = client.post(SEND, json={"message": message} | ({"session_id": session_id} if session_id else {}))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def history(client: FlaskClient, session_id: str) -> list[tuple[str, str, str | None]]:
    response = client.get(session_path(session_id))
    assert response.status_code == 200
    return [(m["role"], m["content"], m.get("status")) for m in response.get_json()["messages"]]


def test_two_turns_with_the_offline_agent(app: Flask) -> None:
    client = app.test_client()
    first = send(client, "  I want to go to Lisbon for 5 days \n")  # trimmed before it is stored
    m1, r1 = "I want to go to Lisbon for 5 days", first["reply"]
    assert r1 == offline.reply([], m1)
    second = send(client, "We are 2 people, mid-range", first["session_id"])
    r2 = second["reply"]
    # The offline agent remembered Lisbon and the 5 days: it was given the first turn as history.
    assert r2 == offline.reply([Turn("user", m1), Turn("assistant", r1)], "We are 2 people, mid-range")
    assert "Lisbon" in r2 and "2 travellers" in r2
    assert second["session_id"] == first["session_id"]
    assert history(client, first["session_id"]) == [
        ("user", m1, "answered"),
        ("assistant", r1, None),
        ("user", "We are 2 people, mid-range", "answered"),
        ("assistant", r2, None),
    ]
    messages = client.get(session_path(first["session_id"])).get_json()["messages"]
    assert [m["id"] for m in messages[1::2]] == [first["message_id"], second["message_id"]]
    assert [m["reply_to"] for m in messages[1::2]] == [m["id"] for m in messages[::2]]
    assert [m["created_at"] for m in messages] == sorted(m["created_at"] for m in messages)
    assert messages[-1]["created_at"] == second["created_at"]


def test_send_answers_the_bytes_of_its_documented_schema(openai_app: Callable[..., Flask]) -> None:
    # The view builds its body itself (no marshmallow dump): it must be exactly what AnswerSchema's dump,
    # written by jsonify, would be, non-ASCII text and the timestamp's form included.
    app = openai_app()
    response = app.test_client().post(SEND, json={"message": "Zürich im März ☀"})
    assert response.status_code == 200 and response.mimetype == "application/json"
    body = response.get_json()
    assert list(body) == ["session_id", "message_id", "reply", "created_at", "degraded"]
    with app.app_context():
        dumped = AnswerSchema().dump(body | {"created_at": datetime.fromisoformat(body["created_at"])})
        assert response.get_data() == jsonify(dumped).get_data()
    assert body["reply"] == "echo: Zürich im März ☀"


def test_two_turns_with_the_openai_provider(openai_app: Callable[..., Flask], upstream: UpstreamServer) -> None:
    client = openai_app().test_client()
    first = send(client, "I want to go to Lisbon")
    second = send(client, "For 5 days", first["session_id"])
    # The upstream's text is the reply, verbatim.
    assert (first["reply"], second["reply"]) == ("echo: I want to go to Lisbon", "echo: For 5 days")
    requests = upstream.requests
    assert [r["path"] for r in requests] == ["/v1/chat/completions"] * 2
    last = requests[-1]
    assert last["headers"]["Authorization"] == f"Bearer {API_KEY}"
    assert last["json"] == {
        "model": MODEL,
        "stream": False,
        "messages": [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": "I want to go to Lisbon"},
            {"role": "assistant", "content": "echo: I want to go to Lisbon"},
            {"role": "user", "content": "For 5 days"},
        ],
    }
    assert history(client, first["session_id"]) == [
        ("user", "I want to go to Lisbon", "answered"),
        ("assistant", "echo: I want to go to Lisbon", None),
        ("user", "For 5 days", "answered"),
        ("assistant", "echo: For 5 days", None),
    ]


def test_history_sent_upstream_is_bounded_to_the_most_recent(
    openai_app: Callable[..., Flask], upstream: UpstreamServer
) -> None:
    client = openai_app(CHAT_HISTORY_MESSAGES=3).test_client()
    session_id = send(client, "one")["session_id"]
    for text in ("two", "three"):
        send(client, text, session_id)
    sent = [(m["role"], m["content"]) for m in upstream.requests[-1]["json"]["messages"]]
    assert sent == [
        ("system", SYSTEM_PROMPT),
        ("assistant", "echo: one"),
        ("user", "two"),
        ("assistant", "echo: two"),
        ("user", "three"),
    ]


def test_session_ids_are_long_random_strings(app: Flask, mongo_server: Any) -> None:
    client = app.test_client()
    ids = {send(client, "hello")["session_id"] for _ in range(3)}
    assert len(ids) == 3
    for session_id in ids:
        # 32 URL-safe characters = 192 random bits; not an ObjectId (24 hex digits), not a counter.
        assert len(session_id) == 32 and session_id.replace("-", "").replace("_", "").isalnum()
        assert mongo_server.client()["travel_agent"]["chat_sessions"].find_one({"_id": session_id})


@pytest.mark.parametrize("method", ["get", "delete"])
def test_unknown_session_is_404(app: Flask, method: str) -> None:
    client = app.test_client()
    for session_id in ("no-such-session-aaaaaaaaaaaaaaaaaaaa", "x", "%24ne", "a" * 300):
        assert_envelope(getattr(client, method)(session_path(session_id)), 404)


def test_send_to_an_unknown_session_is_404_and_stores_nothing(app: Flask, mongo_server: Any) -> None:
    response = app.test_client().post(SEND, json={"message": "hi", "session_id": "made-up-session-id"})
    assert_envelope(response, 404)
    db = mongo_server.client()["travel_agent"]
    assert db["chat_sessions"].find_one({"_id": "made-up-session-id"}) is None
    assert db["chat_messages"].find_one({"session_id": "made-up-session-id"}) is None


def test_delete_removes_the_session_its_messages_and_its_cached_context(
    app: Flask, mongo_server: Any, redis_server: Any
) -> None:
    client = app.test_client()
    session_id = send(client, "Paris for a weekend")["session_id"]
    send(client, "just me", session_id)
    assert redis_server.client().exists(context_key(session_id))
    response = client.delete(session_path(session_id))
    assert response.status_code == 204 and response.get_data() == b""
    assert_envelope(client.get(session_path(session_id)), 404)
    assert_envelope(client.post(SEND, json={"message": "again", "session_id": session_id}), 404)
    assert mongo_server.client()["travel_agent"]["chat_messages"].count_documents({"session_id": session_id}) == 0
    assert not redis_server.client().exists(context_key(session_id))
