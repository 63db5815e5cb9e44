"""The context cache: read when current, ignored when any write happened without it, never needed."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from flask import Flask
from tests.support.chat import SEND

from harness.upstream import UpstreamServer
from travel_agent.chat.context_cache import key


def send(app: Flask, message: str, session_id: str | None = None) -> dict[str, Any]:
    response = app.test_client().post(SEND, json={"message": message, "session_id": session_id})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def entry(redis_server: Any, session_id: str) -> dict[str, Any]:
    return json.loads(redis_server.client().get(key(session_id)))


def version(mongo_server: Any, session_id: str) -> int:
    return int(mongo_server.client()["travel_agent"]["chat_sessions"].find_one({"_id": session_id})["version"])


def test_each_turn_leaves_the_recent_context_tagged_with_the_session_version(
        app: Flask, mongo_server: Any, redis_server: Any) -> None:
    first = send(app, "Lisbon for 4 days")
    second = send(app, "2 of us", first["session_id"])
    cached = entry(redis_server, first["session_id"])
    assert cached["version"] == version(mongo_server, first["session_id"]) == 4
    assert [(m["role"], m["content"]) for m in cached["messages"]] == [
        ("user", "Lisbon for 4 days"), ("assistant", first["reply"]),
        ("user", "2 of us"), ("assistant", second["reply"])]


def test_a_current_entry_is_used_and_a_stale_one_is_not(app: Flask, mongo_server: Any, redis_server: Any) -> None:
    session_id = send(app, "Hello there")["session_id"]
    current = entry(redis_server, session_id)
    planted = dict(current, messages=[dict(current["messages"][0], content="I want to go to Tokyo")])
    redis_server.client().set(key(session_id), json.dumps(planted))
    assert "Tokyo" in send(app, "for 3 days", session_id)["reply"]  # the history came from the cache
    stale = dict(planted, version=planted["version"] + 1)  # tagged with a version that has since changed
    redis_server.client().set(key(session_id), json.dumps(stale))
    assert "Tokyo" not in send(app, "for 3 days", session_id)["reply"]  # from MongoDB: the real history


def test_writes_made_without_redis_never_leave_a_stale_context(
        build_app: Callable[..., Flask], upstream: UpstreamServer, redis_server: Any) -> None:
    # Two workers on one database: one with Redis, one without (as if Redis was down for its writes).
    settings = {"AGENT_PROVIDER": "openai", "OPENAI_BASE_URL": upstream.base_url}
    with_cache, without_cache = build_app(**settings), build_app(**settings, REDIS_URL=None)
    session_id = send(with_cache, "first")["session_id"]
    send(without_cache, "second", session_id)  # the cached entry is not updated, nor deleted
    send(with_cache, "third", session_id)
    sent = [m["content"] for m in upstream.requests[-1]["json"]["messages"][1:]]
    assert sent == ["first", "echo: first", "second", "echo: second", "third"]


def test_an_unreadable_entry_is_ignored_and_logged(app: Flask, redis_server: Any,
                                                   log_file: Callable[[], str]) -> None:
    session_id = send(app, "Berlin")["session_id"]
    redis_server.client().set(key(session_id), "not json")
    assert "Berlin" in send(app, "3 days", session_id)["reply"]
    assert "ignoring an unreadable context entry" in log_file()
    assert entry(redis_server, session_id)["version"] == 4  # replaced by the turn
