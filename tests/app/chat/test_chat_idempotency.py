"""Idempotency-Key on send: retries and racing duplicates get the original answer and store nothing twice."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from tests.support.chat import SEND, session_path

from tools.harness.envelope import assert_envelope
from tools.harness.upstream import UpstreamServer
from travel_agent.chat.idempotency import fingerprint


def new_key() -> str:
    return str(uuid.uuid4())


def post(app: Flask, key: str, body: dict[str, Any]) -> Any:
    return app.test_client().post(SEND, json=body, headers={"Idempotency-Key": key})


def records(mongo_server: Any) -> Any:
    return mongo_server.client()["travel_agent"]["chat_idempotency"]


def stored(app: Flask, session_id: str) -> list[tuple[str, str, str | None]]:
    messages = app.test_client().get(session_path(session_id)).get_json()["messages"]
    return [(m["role"], m["content"], m.get("status")) for m in messages]


def test_a_sequential_retry_replays_the_answer_and_stores_nothing_twice(
    openai_app: Callable[..., Flask], upstream: UpstreamServer
) -> None:
    app, key = openai_app(), new_key()
    first = post(app, key, {"message": "Lisbon in May"})
    again = post(app, key, {"message": "  Lisbon in May "})  # the same message once trimmed
    assert first.status_code == again.status_code == 200
    assert again.get_json() == first.get_json()
    assert "Idempotent-Replayed" not in first.headers and again.headers["Idempotent-Replayed"] == "true"
    assert len(upstream.requests) == 1
    assert stored(app, first.get_json()["session_id"]) == [
        ("user", "Lisbon in May", "answered"),
        ("assistant", "echo: Lisbon in May", None),
    ]


def race(app: Flask, key: str, body: dict[str, Any], count: int) -> list[Any]:
    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(lambda _: post(app, key, body), range(count)))


def test_racing_duplicates_run_once_and_all_get_the_same_answer(
    openai_app: Callable[..., Flask], upstream: UpstreamServer, mongo_server: Any
) -> None:
    app, key = openai_app(), new_key()
    session_id = app.test_client().post(SEND, json={"message": "start"}).get_json()["session_id"]
    upstream.delay = 0.5  # the first is still running when the others arrive
    responses = race(app, key, {"message": "Kyoto for a week", "session_id": session_id}, 4)
    assert [r.status_code for r in responses] == [200] * 4
    assert len({r.get_data() for r in responses}) == 1
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in responses) == 3
    assert len(upstream.requests) == 2  # "start", then the raced message once
    assert stored(app, session_id)[2:] == [
        ("user", "Kyoto for a week", "answered"),
        ("assistant", "echo: Kyoto for a week", None),
    ]
    assert records(mongo_server).count_documents({"_id": key}) == 1


def test_idempotency_works_with_redis_down(
    make_redis: Callable[..., Any], build_app: Callable[..., Flask], upstream: UpstreamServer
) -> None:
    dead = make_redis(start=False)
    app = build_app(REDIS_URL=dead.url, AGENT_PROVIDER="openai", OPENAI_BASE_URL=upstream.base_url)
    key = new_key()
    first = post(app, key, {"message": "Rome"})
    assert first.status_code == 200
    assert post(app, key, {"message": "Rome"}).get_json() == first.get_json()
    upstream.delay = 0.3
    raced = race(app, new_key(), {"message": "Oslo"}, 3)
    assert len({(r.status_code, r.get_data()) for r in raced}) == 1 and raced[0].status_code == 200
    assert len(upstream.requests) == 2
    assert stored(app, first.get_json()["session_id"]) == [
        ("user", "Rome", "answered"),
        ("assistant", "echo: Rome", None),
    ]


@pytest.mark.parametrize("second", [{"message": "Madrid"}, {"message": "Lisbon", "session_id": "other-session"}])
def test_the_same_key_with_another_body_is_422(app: Flask, second: dict[str, Any]) -> None:
    key = new_key()
    assert post(app, key, {"message": "Lisbon"}).status_code == 200
    body = assert_envelope(post(app, key, second), 422)
    assert "different request body" in body["message"]


def test_a_retry_after_a_failed_attempt_asks_again_without_storing_the_question_twice(
    openai_app: Callable[..., Flask], upstream: UpstreamServer
) -> None:
    app, key = openai_app(BREAKER_FAILURE_THRESHOLD=5), new_key()  # three failures must not open the circuit
    upstream.fail_next(500, 3)  # the first attempt and both of its retries
    failed = post(app, key, {"message": "Seville"})
    assert_envelope(failed, 502)
    retried = post(app, key, {"message": "Seville"})
    assert retried.status_code == 200 and retried.get_json()["reply"] == "echo: Seville"
    assert stored(app, retried.get_json()["session_id"]) == [
        ("user", "Seville", "answered"),
        ("assistant", "echo: Seville", None),
    ]


def abandon(mongo_server: Any, key: str) -> None:
    """Make the record look like its request died mid-turn: still running, lease run out."""
    past = datetime.now(UTC) - timedelta(seconds=1)
    records(mongo_server).update_one(
        {"_id": key}, {"$set": {"state": "running", "lease_until": past}, "$unset": {"response": ""}}
    )


def test_a_retry_of_a_turn_that_died_after_storing_its_answer_replays_that_answer(
    openai_app: Callable[..., Flask], upstream: UpstreamServer, mongo_server: Any
) -> None:
    app, key = openai_app(), new_key()
    first = post(app, key, {"message": "Prague"}).get_json()
    abandon(mongo_server, key)
    again = post(app, key, {"message": "Prague"})
    assert again.status_code == 200 and again.get_json() == first
    assert len(upstream.requests) == 1  # the stored answer was found; the agent was not asked again
    assert len(stored(app, first["session_id"])) == 2


def test_a_retry_of_a_turn_that_died_before_its_answer_completes_it(
    openai_app: Callable[..., Flask], upstream: UpstreamServer, mongo_server: Any
) -> None:
    app, key = openai_app(), new_key()
    first = post(app, key, {"message": "Vienna"}).get_json()
    abandon(mongo_server, key)
    mongo_server.client()["travel_agent"]["chat_messages"].delete_one({"_id": first["message_id"]})
    assert stored(app, first["session_id"]) == [("user", "Vienna", "unanswered")]
    again = post(app, key, {"message": "Vienna"})
    assert again.status_code == 200 and again.get_json()["message_id"] == first["message_id"]
    assert stored(app, first["session_id"]) == [("user", "Vienna", "answered"), ("assistant", "echo: Vienna", None)]
    assert len(upstream.requests) == 2


def test_a_request_waiting_on_a_running_twin_gives_up_with_409_within_its_budget(
    build_app: Callable[..., Flask], mongo_server: Any
) -> None:
    app, key = build_app(CHAT_TIMEOUT_SECONDS=1.5), new_key()
    now = datetime.now(UTC)
    records(mongo_server).insert_one(
        {
            "_id": key,
            "fingerprint": fingerprint("Athens", None),
            "state": "running",
            "plan": {},
            "created_at": now,
            "lease_until": now + timedelta(minutes=1),
        }
    )
    started = time.monotonic()
    response = post(app, key, {"message": "Athens"})
    assert_envelope(response, 409)
    assert response.headers["Retry-After"] == "1"
    assert time.monotonic() - started < 1.5


def test_a_record_older_than_24_hours_is_forgotten(app: Flask, mongo_server: Any) -> None:
    key, old = new_key(), datetime.now(UTC) - timedelta(hours=25)
    records(mongo_server).insert_one(
        {
            "_id": key,
            "fingerprint": "another body",
            "state": "done",
            "plan": {},
            "created_at": old,
            "lease_until": old,
            "response": {},
        }
    )
    response = post(app, key, {"message": "Dublin"})
    assert response.status_code == 200 and "Dublin" in response.get_json()["reply"]


def test_records_expire_through_a_ttl_index(app: Flask, mongo_server: Any) -> None:
    assert post(app, new_key(), {"message": "hi"}).status_code == 200
    indexes = {index["name"]: index for index in records(mongo_server).list_indexes()}
    assert indexes["expire_after_24h"]["expireAfterSeconds"] == 86400
    assert dict(indexes["expire_after_24h"]["key"]) == {"created_at": 1}


def test_a_running_attempt_renews_its_lease_so_a_retry_waits_for_its_answer(
    openai_app: Callable[..., Flask], upstream: UpstreamServer, mongo_server: Any, wait_until: Callable[..., Any]
) -> None:
    app, key = openai_app(IDEMPOTENCY_LEASE_SECONDS=1), new_key()
    upstream.delay = 2.5  # the turn outlives its 1 s lease more than twice
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(post, app, key, {"message": "Kyoto"})
        wait_until(lambda: len(upstream.requests) == 1, 5, message="the first attempt never asked the upstream")
        claimed = records(mongo_server).find_one({"_id": key})["lease_until"]
        # Renewed while it runs: an unrenewed lease would have run out, and this retry would take the turn over.
        wait_until(
            lambda: records(mongo_server).find_one({"_id": key})["lease_until"] > claimed,
            3,
            interval=0.1,
            message="the lease was never renewed",
        )
        retry = post(app, key, {"message": "Kyoto"})
        original = first.result(10)
    assert original.status_code == 200
    assert retry.status_code == 200 and retry.headers["Idempotent-Replayed"] == "true"
    assert retry.get_json() == original.get_json()
    assert len(upstream.requests) == 1  # the retry waited for the answer instead of asking again


def test_after_mongodb_died_under_a_keyed_turn_a_retry_succeeds_within_the_lease(
    make_mongo: Callable[..., Any],
    build_app: Callable[..., Flask],
    upstream: UpstreamServer,
    wait_until: Callable[..., Any],
) -> None:
    mongo = make_mongo()
    app = build_app(
        MONGODB_URI=mongo.uri,
        REDIS_URL=None,
        AGENT_PROVIDER="openai",
        OPENAI_BASE_URL=upstream.base_url,
        IDEMPOTENCY_LEASE_SECONDS=2,
        MONGO_OPERATION_TIMEOUT_MS=1000,
        BREAKER_RESET_SECONDS=0.2,
    )
    key, body = new_key(), {"message": "Oslo"}
    upstream.delay = 1.0
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(post, app, key, body)
        wait_until(lambda: len(upstream.requests) == 1, 5, interval=0.02, message="the turn never asked the upstream")
        mongo.kill()  # the question is stored; the answer cannot be, nor can the key be marked failed
        assert_envelope(first.result(10), 503)
    upstream.delay = 0.0
    mongo.start()
    back = time.monotonic()
    statuses = []
    while time.monotonic() - back < 15:
        response = post(app, key, body)
        statuses.append(response.status_code)
        if response.status_code == 200:
            break
        assert response.status_code in (409, 503), response.get_json()
        time.sleep(0.2)
    # With the lease tied to the chat budget (90 s) every retry got 409 for that long; now the unrenewed lease
    # of the dead attempt runs out 2 s after its last renewal.
    assert statuses[-1] == 200 and time.monotonic() - back < 6, statuses
    answer = response.get_json()
    assert stored(app, answer["session_id"]) == [("user", "Oslo", "answered"), ("assistant", "echo: Oslo", None)]
