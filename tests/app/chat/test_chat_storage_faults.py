"""MongoDB trouble around the chat's own bookkeeping: indexes at start, idempotency records."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from flask import Flask
from tests.support.chat import SEND, assert_envelope

from harness.upstream import UpstreamServer


def test_a_worker_booted_without_mongodb_creates_the_indexes_on_first_use(
        make_mongo: Callable[..., Any], build_app: Callable[..., Flask], log_file: Callable[[], str],
        wait_until: Callable[..., Any]) -> None:
    mongo = make_mongo(start=False)
    app = build_app(MONGODB_URI=mongo.uri, STARTUP_PING_TIMEOUT_SECONDS=0.3, BREAKER_RESET_SECONDS=0.2,
                    MONGO_OPERATION_TIMEOUT_MS=1000)
    assert "chat indexes not created at start" in log_file()
    assert_envelope(app.test_client().post(SEND, json={"message": "hi"}), 503)
    mongo.start()
    wait_until(lambda: app.test_client().post(SEND, json={"message": "hi"}).status_code == 200, 15, interval=0.3)
    names = {index["name"] for index in mongo.client()["travel_agent"]["chat_messages"].list_indexes()}
    assert "session_seq" in names


def test_an_index_that_cannot_be_created_is_logged_and_chat_still_works(
        make_mongo: Callable[..., Any], build_app: Callable[..., Flask], log_file: Callable[[], str]) -> None:
    mongo = make_mongo()
    # An operator made an index of the same name with other options: ours cannot be created.
    mongo.client()["travel_agent"]["chat_idempotency"].create_index("created_at", name="expire_after_24h")
    app = build_app(MONGODB_URI=mongo.uri)
    assert "could not create index expire_after_24h on chat_idempotency" in log_file()
    response = app.test_client().post(SEND, json={"message": "hi"}, headers={"Idempotency-Key": "k1"})
    assert response.status_code == 200


def test_idempotency_record_updates_that_fail_never_hide_the_turns_outcome(
        make_mongo: Callable[..., Any], build_app: Callable[..., Flask], upstream: UpstreamServer,
        log_file: Callable[[], str]) -> None:
    mongo = make_mongo()
    # Under pymongo.timeout a retryable write is retried until the deadline, so the fault stays on and the
    # deadline is short.
    app = build_app(MONGODB_URI=mongo.uri, AGENT_PROVIDER="openai", OPENAI_BASE_URL=upstream.base_url,
                    MONGO_OPERATION_TIMEOUT_MS=400)
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
