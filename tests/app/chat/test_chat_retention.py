"""CHAT_RETENTION_DAYS against a real SecantusDB: the TTL indexes it makes, and the server removing what they
cover.

SecantusDB runs TTL deletion as mongod does: a monitor thread passes every 60 s (in 0.7.0b3 the config file's
``[storage] ttl_sweep_seconds`` is parsed but not passed to the server by its CLI, so 60 s it is), and its
``secantusAdmin.pruneTtl`` command runs the same pass at once. Days cannot pass in a test: the stand-in for
them is moving a chat's dates two days back through a harness client, after the service wrote them.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from tests.support.chat import SEND, session_path

from travel_agent.chat.indexes import MESSAGES, RETENTION_INDEXES, SESSIONS

DAY = 86_400


@pytest.fixture
def database(mongo_server: Any) -> Callable[..., Any]:
    """``database()`` -> (a URI of a database of this test's own, that database through a harness client)."""

    def make() -> tuple[str, Any]:
        name = "retention_" + secrets.token_hex(4)
        return mongo_server.uri_for(database=name), mongo_server.client()[name]

    return make


def retention_indexes(db: Any) -> dict[str, tuple[dict[str, int], int | None]]:
    found = {}
    for collection, _, name in RETENTION_INDEXES:
        for index in db[collection].list_indexes():
            if index["name"] == name:
                found[name] = (dict(index["key"]), index.get("expireAfterSeconds"))
    return found


def chat(client: FlaskClient, text: str, session_id: str | None = None) -> str:
    response = client.post(SEND, json={"message": text} | ({"session_id": session_id} if session_id else {}))
    assert response.status_code == 200, response.get_json()
    found: str = response.get_json()["session_id"]
    return found


def age(db: Any, session_id: str, days: float, *, messages: list[int] | None = None) -> None:
    """Move the session's last activity (and its messages, or only the messages at ``messages`` positions)
    ``days`` back: the stand-in for time passing."""
    back = timedelta(days=days)
    if messages is None:
        session = db[SESSIONS].find_one({"_id": session_id})
        db[SESSIONS].update_one({"_id": session_id}, {"$set": {"updated_at": session["updated_at"] - back}})
    query = {"session_id": session_id} | ({"seq": {"$in": messages}} if messages is not None else {})
    for doc in db[MESSAGES].find(query):
        db[MESSAGES].update_one({"_id": doc["_id"]}, {"$set": {"created_at": doc["created_at"] - back}})


def test_unset_makes_no_retention_index(build_app: Callable[..., Flask], database: Callable[..., Any]) -> None:
    uri, db = database()
    chat(build_app(MONGODB_URI=uri).test_client(), "Lisbon in May")
    assert retention_indexes(db) == {}
    assert db[SESSIONS].count_documents({}) == 1


def test_the_indexes_follow_the_setting_made_changed_and_dropped(
    build_app: Callable[..., Flask], database: Callable[..., Any]
) -> None:
    uri, db = database()
    build_app(MONGODB_URI=uri, CHAT_RETENTION_DAYS=30)
    assert retention_indexes(db) == {
        "retention_inactive_sessions": ({"updated_at": 1}, 30 * DAY),
        "retention_old_messages": ({"created_at": 1}, 30 * DAY),
    }
    build_app(MONGODB_URI=uri, CHAT_RETENTION_DAYS=7)  # a changed value: applied in place (collMod)
    assert {name: ttl for name, (_, ttl) in retention_indexes(db).items()} == {
        "retention_inactive_sessions": 7 * DAY,
        "retention_old_messages": 7 * DAY,
    }
    build_app(MONGODB_URI=uri, CHAT_RETENTION_DAYS=None)  # unset again: nothing more is removed
    assert retention_indexes(db) == {}


def test_the_server_removes_an_idle_session_with_its_messages_and_keeps_the_active_one(
    build_app: Callable[..., Flask], database: Callable[..., Any], mongo_server: Any
) -> None:
    uri, db = database()
    client = build_app(MONGODB_URI=uri, CHAT_RETENTION_DAYS=1).test_client()
    idle = chat(client, "A week in Kyoto")
    chat(client, "And Osaka?", idle)
    active = chat(client, "Porto in June")
    chat(client, "Where to eat?", active)
    age(db, idle, 2)  # idle for two days: the session and its four messages
    age(db, active, 2, messages=[1, 2])  # an active session's first turn is two days old
    assert mongo_server.client().admin.command("secantusAdmin.pruneTtl")["pruned"] == 1 + 4 + 2
    assert db[SESSIONS].count_documents({"_id": idle}) == 0
    assert db[MESSAGES].count_documents({"session_id": idle}) == 0
    gone = client.get(session_path(idle))
    assert gone.status_code == 404 and gone.get_json()["code"] == 404
    kept = client.get(session_path(active))
    assert kept.status_code == 200
    assert [m["content"] for m in kept.get_json()["messages"] if m["role"] == "user"] == ["Where to eat?"]
    chat(client, "And Lisbon?", active)  # the session goes on after its oldest turn went


@pytest.mark.slow
def test_the_servers_own_ttl_monitor_removes_an_idle_session_unprompted(
    build_app: Callable[..., Flask], database: Callable[..., Any], wait_until: Callable[..., Any]
) -> None:
    """No pruneTtl: SecantusDB's background monitor (every 60 s) does it by itself."""
    uri, db = database()
    client = build_app(MONGODB_URI=uri, CHAT_RETENTION_DAYS=1).test_client()
    idle, fresh = chat(client, "Two days in Rome"), chat(client, "Three in Florence")
    age(db, idle, 2)
    wait_until(
        lambda: (
            db[SESSIONS].count_documents({"_id": idle}) == 0 and db[MESSAGES].count_documents({"session_id": idle}) == 0
        ),
        timeout=150,
        interval=1.0,
        message="SecantusDB's TTL monitor did not remove the idle session within 150 s",
    )
    assert (
        db[SESSIONS].count_documents({"_id": fresh}) == 1 and db[MESSAGES].count_documents({"session_id": fresh}) == 2
    )
