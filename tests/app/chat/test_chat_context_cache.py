"""The context cache: supplies the text of the messages MongoDB lists, nothing more; never needed."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from flask import Flask
from tests.support.chat import SEND

from tools.harness.upstream import UpstreamServer
from travel_agent.chat.context_cache import key


def send(app: Flask, message: str, session_id: str | None = None) -> dict[str, Any]:
    response = app.test_client().post(SEND, json={"message": message, "session_id": session_id})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def entry(redis_server: Any, session_id: str) -> dict[str, Any]:
    return json.loads(redis_server.client().get(key(session_id)))


def test_each_turn_leaves_the_recent_messages_in_the_cache(app: Flask, redis_server: Any) -> None:
    first = send(app, "Lisbon for 4 days")
    second = send(app, "2 of us", first["session_id"])
    cached = entry(redis_server, first["session_id"])
    assert [(m["role"], m["content"], m["seq"]) for m in cached["messages"]] == [
        ("user", "Lisbon for 4 days", 1),
        ("assistant", first["reply"], 2),
        ("user", "2 of us", 3),
        ("assistant", second["reply"], 4),
    ]


def test_the_cache_gives_text_only_for_the_messages_mongodb_lists(
    app: Flask, mongo_server: Any, redis_server: Any
) -> None:
    session_id = send(app, "Hello there")["session_id"]
    current = entry(redis_server, session_id)
    planted = dict(current, messages=[dict(current["messages"][0], content="I want to go to Tokyo")])
    redis_server.client().set(key(session_id), json.dumps(planted))
    assert "Tokyo" in send(app, "for 3 days", session_id)["reply"]  # the question's text came from the cache
    # An entry that lacks a stored message, or holds one MongoDB does not (another id at that position, or a
    # position MongoDB has no message at), gives exactly MongoDB's messages.
    stored = mongo_server.client()["travel_agent"]["chat_messages"]
    newest = stored.find_one({"session_id": session_id}, sort=[("seq", -1)])
    phantom = dict(current["messages"][0], id="not-stored", seq=newest["seq"] - 1, content="Paris instead")
    extra = dict(current["messages"][0], id="also-not-stored", seq=newest["seq"] + 1, content="Rome instead")
    redis_server.client().set(key(session_id), json.dumps({"messages": [phantom, extra]}))
    send(app, "and back", session_id)
    reply = send(app, "what did I say?", session_id)["reply"]
    assert "Paris" not in reply and "Rome" not in reply


def test_writes_made_without_redis_never_leave_a_stale_context(
    build_app: Callable[..., Flask], upstream: UpstreamServer, redis_server: Any
) -> None:
    # Two workers on one database: one with Redis, one without (as if Redis was down for its writes).
    settings = {"AGENT_PROVIDER": "openai", "OPENAI_BASE_URL": upstream.base_url}
    with_cache, without_cache = build_app(**settings), build_app(**settings, REDIS_URL=None)
    session_id = send(with_cache, "first")["session_id"]
    send(without_cache, "second", session_id)  # the cached entry is not updated, nor deleted
    send(with_cache, "third", session_id)
    sent = [m["content"] for m in upstream.requests[-1]["json"]["messages"][1:]]
    assert sent == ["first", "echo: first", "second", "echo: second", "third"]


def test_an_unreadable_entry_is_ignored_and_logged(app: Flask, redis_server: Any, log_file: Callable[[], str]) -> None:
    session_id = send(app, "Berlin")["session_id"]
    redis_server.client().set(key(session_id), "not json")
    assert "Berlin" in send(app, "3 days", session_id)["reply"]
    assert "ignoring an unreadable context entry" in log_file()
    assert len(entry(redis_server, session_id)["messages"]) == 4  # replaced by the turn
