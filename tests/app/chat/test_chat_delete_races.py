"""A DELETE landing at the exact points where a turn's round trips were merged (``ChatService.begin``): the turn
answers 404 and nothing of the session remains. The DELETE is the real one (``ChatService.delete``), run by a
hook that wraps the store's own method at that point; everything else is the real app on real servers."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from flask import Flask

from tools.harness.envelope import assert_envelope
from travel_agent.chat.context_cache import key
from travel_agent.chat.errors import SessionNotFound
from travel_agent.chat.store import Message
from travel_agent.services import EXTENSION_KEY

SEND = "/api/chat/send"


def traces(mongo_server: Any, redis_server: Any, session_id: str) -> list[str]:
    db = mongo_server.client()["travel_agent"]
    found = [f"session {doc}" for doc in db["chat_sessions"].find({"_id": session_id})]
    found += [f"message {doc}" for doc in db["chat_messages"].find({"session_id": session_id})]
    if redis_server.client().exists(key(session_id)):
        found.append("cached context")
    return found


def delete_now(app: Flask, session_id: str) -> None:
    """Another request's DELETE of the session, run to its end."""
    try:
        app.extensions[EXTENSION_KEY].chat.delete(session_id)
    except SessionNotFound:
        pass  # not created yet: the delete still tombstoned the records of its keyed turns


def test_a_delete_between_the_reservation_and_the_question_leaves_nothing(
    app: Flask, mongo_server: Any, redis_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = app.test_client()
    session_id = client.post(SEND, json={"message": "Lisbon in May"}).get_json()["session_id"]
    store = app.extensions[EXTENSION_KEY].chat.store
    insert = store.insert

    def insert_after_a_delete(message: Message) -> None:
        if message.role == "user":
            delete_now(app, message.session_id)
        insert(message)

    monkeypatch.setattr(store, "insert", insert_after_a_delete)
    assert_envelope(client.post(SEND, json={"message": "for 4 days", "session_id": session_id}), 404)
    assert traces(mongo_server, redis_server, session_id) == []


def test_a_keyed_new_session_deleted_before_its_reservation_is_not_recreated(
    app: Flask, mongo_server: Any, redis_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The case of a first attempt that stalled while a retry answered and the client deleted the session: the
    reservation creates the session again, and the turn must remove it, not answer in it."""
    client = app.test_client()
    store = app.extensions[EXTENSION_KEY].chat.store
    reserve_turn = store.reserve_turn
    seen: list[str] = []

    def reserve_after_a_delete(session_id: str, *, create: bool) -> int:
        seen.append(session_id)
        delete_now(app, session_id)
        return reserve_turn(session_id, create=create)

    monkeypatch.setattr(store, "reserve_turn", reserve_after_a_delete)
    idempotency_key = secrets.token_hex(16)
    sent = {"message": "Kyoto in autumn"}
    assert_envelope(client.post(SEND, json=sent, headers={"Idempotency-Key": idempotency_key}), 404)
    (session_id,) = seen
    assert traces(mongo_server, redis_server, session_id) == []
    monkeypatch.setattr(store, "reserve_turn", reserve_turn)
    assert_envelope(client.post(SEND, json=sent, headers={"Idempotency-Key": idempotency_key}), 404)
    assert traces(mongo_server, redis_server, session_id) == []
