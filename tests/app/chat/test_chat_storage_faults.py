"""MongoDB trouble around the chat's own bookkeeping: indexes at start, idempotency records."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask import Flask
from tests.support.chat import SEND, STREAM

from tools.harness.envelope import assert_envelope
from tools.harness.upstream import UpstreamServer


def test_a_worker_booted_without_mongodb_creates_the_indexes_on_first_use(
    make_mongo: Callable[..., Any],
    build_app: Callable[..., Flask],
    log_file: Callable[[], str],
    wait_until: Callable[..., Any],
) -> None:
    mongo = make_mongo(start=False)
    app = build_app(
        MONGODB_URI=mongo.uri,
        STARTUP_PING_TIMEOUT_SECONDS=0.3,
        BREAKER_RESET_SECONDS=0.2,
        MONGO_OPERATION_TIMEOUT_MS=1000,
    )
    assert "chat indexes not created at start" in log_file()
    assert_envelope(app.test_client().post(SEND, json={"message": "hi"}), 503)
    mongo.start()
    wait_until(lambda: app.test_client().post(SEND, json={"message": "hi"}).status_code == 200, 15, interval=0.3)
    names = {index["name"] for index in mongo.client()["travel_agent"]["chat_messages"].list_indexes()}
    assert "session_seq" in names


def test_an_index_that_cannot_be_created_is_logged_and_chat_still_works(
    make_mongo: Callable[..., Any], build_app: Callable[..., Flask], log_file: Callable[[], str]
) -> None:
    mongo = make_mongo()
    # An operator made an index of the same name with other options: ours cannot be created.
    mongo.client()["travel_agent"]["chat_idempotency"].create_index("created_at", name="expire_after_24h")
    app = build_app(MONGODB_URI=mongo.uri)
    assert "could not create index expire_after_24h on chat_idempotency" in log_file()
    response = app.test_client().post(SEND, json={"message": "hi"}, headers={"Idempotency-Key": "k1"})
    assert response.status_code == 200


def test_idempotency_record_updates_that_fail_never_hide_the_turns_outcome(
    make_mongo: Callable[..., Any],
    build_app: Callable[..., Flask],
    upstream: UpstreamServer,
    log_file: Callable[[], str],
) -> None:
    mongo = make_mongo()
    # Under pymongo.timeout a retryable write is retried until the deadline, so the fault stays on and the
    # deadline is short.
    app = build_app(
        MONGODB_URI=mongo.uri,
        AGENT_PROVIDER="openai",
        OPENAI_BASE_URL=upstream.base_url,
        MONGO_OPERATION_TIMEOUT_MS=400,
    )
    records = mongo.client()["travel_agent"]["chat_idempotency"]
    # Only the record's completion and release are "update" commands.
    mongo.fail_command(["update"], close_connection=True, app_name="travel_agent")
    key = str(uuid.uuid4())
    answered = app.test_client().post(SEND, json={"message": "Nice"}, headers={"Idempotency-Key": key})
    assert answered.status_code == 200 and answered.get_json()["reply"] == "echo: Nice"  # stored, so answered
    assert "could not record the answer of an Idempotency-Key" in log_file()
    assert records.find_one({"_id": key})["state"] == "running"  # a retry takes over after the lease

    upstream.fail_next(401)
    key = str(uuid.uuid4())
    refused = app.test_client().post(SEND, json={"message": "Nice"}, headers={"Idempotency-Key": key})
    assert_envelope(refused, 502)  # the agent's error, not the bookkeeping's
    assert "could not release Idempotency-Key" in log_file()
    mongo.clear_fail_points()


def test_every_answered_turn_survives_a_crash_of_mongodb_right_after(
    make_mongo: Callable[..., Any], build_app: Callable[..., Flask]
) -> None:
    """Found by the chaos run: with w:1 and j:false the server's last ~100 ms of acknowledged writes died with it
    (SIGKILL), so messages answered 200 were missing afterwards; writes are now acknowledged once journaled."""
    mongo = make_mongo()
    app = build_app(MONGODB_URI=mongo.uri, REDIS_URL=None)
    client = app.test_client()
    session_id = None
    answered = []
    for turn in range(8):
        response = client.post(SEND, json={"message": f"turn {turn}", "session_id": session_id})
        assert response.status_code == 200
        session_id = response.get_json()["session_id"]
        answered.append(response.get_json()["message_id"])
    mongo.kill()  # at once: whatever the server had not journaled is gone
    mongo.start()
    stored = mongo.client()["travel_agent"]["chat_messages"]
    assert [doc["_id"] for doc in stored.find({"session_id": session_id, "role": "assistant"}).sort("seq")] == answered
    assert mongo.client()["travel_agent"]["chat_sessions"].find_one({"_id": session_id})["seq"] == 16


def test_a_position_the_database_already_holds_is_a_503_and_the_retry_works(
    app: Flask, mongo_server: Any, log_file: Callable[[], str]
) -> None:
    """Found by the chaos run: after MongoDB lost a session's counter update, the next reply collided with a
    stored message on (session_id, seq) and the DuplicateKeyError came out as a 500."""
    client = app.test_client()
    session_id = client.post(SEND, json={"message": "first"}).get_json()["session_id"]
    messages = mongo_server.client()["travel_agent"]["chat_messages"]
    # The next turn will be handed positions 3 and 4: make 3 taken, as a lost counter update would leave it.
    messages.insert_one(
        {
            "_id": "orphan",
            "session_id": session_id,
            "seq": 0,
            "role": "user",
            "content": "lost",
            "created_at": datetime.now(UTC),
        }
    )
    for path, taken in ((SEND, 3), (STREAM, 5)):
        messages.update_one({"_id": "orphan"}, {"$set": {"seq": taken}})
        refused = client.post(path, json={"message": "second", "session_id": session_id})
        assert_envelope(refused, 503)
        assert refused.headers["Retry-After"] == "1"
        assert "already taken: the database lost writes" in log_file()
    retried = client.post(SEND, json={"message": "second", "session_id": session_id})
    assert retried.status_code == 200 and retried.get_json()["reply"]
