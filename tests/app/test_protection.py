"""API keys and rate limits on /api/..., in process, with a Redis of the test's own that is up or killed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from prometheus_client import REGISTRY

KEY_A = "key-a-0123456789abcdef"
KEY_B = "key-b-0123456789abcdef"
PING = "/api/_test/ping"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def decisions(store: str, outcome: str) -> float:
    value = REGISTRY.get_sample_value("travel_agent_rate_limit_decisions_total", {"store": store, "outcome": outcome})
    return value or 0.0


@pytest.fixture(params=["redis up", "redis down"])
def redis_up(request: pytest.FixtureRequest, make_redis: Callable[..., Any]) -> tuple[Any, bool]:
    """A redis-server of this test's own; "redis down" kills it before the app starts."""
    server = make_redis()
    if request.param == "redis down":
        server.kill()
    return server, request.param == "redis up"


@pytest.fixture
def protected(build_app: Callable[..., Flask], redis_up: tuple[Any, bool]) -> Callable[..., Flask]:
    server, _ = redis_up
    return lambda **settings: build_app(REDIS_URL=server.url, API_KEYS=f"{KEY_A},{KEY_B}", **settings)


def test_api_keys_no_key_wrong_key_right_key(protected: Callable[..., Flask]) -> None:
    client = protected().test_client()
    missing = client.get(PING)
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"] == 'Bearer realm="travel_agent"'
    body = missing.get_json()
    assert body["code"] == 401 and body["status"] == "Unauthorized" and body["request_id"]
    assert "Bearer" in body["message"]
    wrong = client.get(PING, headers=bearer("key-c-0123456789abcdef"))
    assert wrong.status_code == 401
    assert 'error="invalid_token"' in wrong.headers["WWW-Authenticate"]
    for not_bearer in ({"Authorization": f"Basic {KEY_A}"}, {"Authorization": "Bearer"}, {"X-Api-Key": KEY_A}):
        assert client.get(PING, headers=not_bearer).status_code == 401
    for key in (KEY_A, KEY_B):
        ok = client.get(PING, headers=bearer(key))
        assert ok.status_code == 200 and ok.get_json() == {"pong": True}


def test_every_api_path_is_covered_and_the_rest_stays_open(protected: Callable[..., Flask]) -> None:
    client = protected().test_client()
    # By prefix, before routing answers: an unknown /api/ path or a wrong body says nothing without a key.
    assert client.get("/api/nothing-here").status_code == 401
    assert client.post(PING, data="x", content_type="text/plain").status_code == 401
    assert client.get("/api/nothing-here", headers=bearer(KEY_A)).status_code == 404
    for path in ("/health", "/health/live", "/health/ready", "/openapi.json", "/docs", "/metrics"):
        assert client.get(path).status_code in (200, 503), path  # /health is 200 or 503, never 401


def test_rate_limit_hit_and_reset(
    protected: Callable[..., Flask], redis_up: tuple[Any, bool], wait_until: Callable[..., Any]
) -> None:
    server, up = redis_up
    store = "redis" if up else "memory"
    before = decisions(store, "limited")
    # A breaker that opens on the first failure: with Redis down, no request pays for finding out again.
    client = protected(RATE_LIMIT="3/2 seconds", BREAKER_FAILURE_THRESHOLD=1).test_client()
    assert [client.get(PING, headers=bearer(KEY_A)).status_code for _ in range(3)] == [200, 200, 200]
    limited = client.get(PING, headers=bearer(KEY_A))
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] in ("1", "2")
    body = limited.get_json()
    assert body["code"] == 429 and body["status"] == "Too Many Requests" and "3 per 2 s" in body["message"]
    # Counted per key: the other key has its own window.
    assert client.get(PING, headers=bearer(KEY_B)).status_code == 200
    assert decisions(store, "limited") == before + 1
    if up:
        assert server.client().keys("travel_agent:ratelimit:key:*"), "the counters were not kept in Redis"
    # The window resets.
    wait_until(
        lambda: client.get(PING, headers=bearer(KEY_A)).status_code == 200, 10, message="the rate limit never reset"
    )
    # Health and docs are never limited.
    assert all(client.get("/health/live").status_code == 200 for _ in range(5))


def test_limit_is_shared_by_workers_through_redis(
    build_app: Callable[..., Flask], make_redis: Callable[..., Any]
) -> None:
    """Two apps stand for two workers: one count in Redis; once Redis dies, each counts on its own."""
    server = make_redis()
    settings = {"REDIS_URL": server.url, "RATE_LIMIT": "3/minute"}
    one, two = build_app(**settings).test_client(), build_app(**settings).test_client()
    assert [c.get(PING).status_code for c in (one, two, one)] == [200, 200, 200]
    assert two.get(PING).status_code == 429  # per client address (no keys): 127.0.0.1 used its 3
    server.kill()
    # Per worker in memory now: each app allows its own 3 again, then refuses.
    for client in (one, two):
        assert [client.get(PING).status_code for _ in range(4)] == [200, 200, 200, 429]


def test_client_address_behind_trusted_proxies(build_app: Callable[..., Flask]) -> None:
    def statuses(app: Flask, forwarded_for: str) -> list[int]:
        client = app.test_client()
        return [client.get(PING, headers={"X-Forwarded-For": forwarded_for}).status_code for _ in range(2)]

    behind_proxy = build_app(RATE_LIMIT="1/minute", TRUSTED_PROXY_HOPS=1)
    assert statuses(behind_proxy, "203.0.113.7") == [200, 429]
    # The client can prepend anything; the entry the trusted proxy appended is the one counted.
    assert statuses(behind_proxy, "198.51.100.1, 203.0.113.8") == [200, 429]
    assert statuses(behind_proxy, "203.0.113.7, 203.0.113.8") == [429, 429]
    # Without trusted proxies the header is ignored: forging it buys nothing.
    direct = build_app(RATE_LIMIT="1/minute")
    assert statuses(direct, "203.0.113.9") == [200, 429]
    assert statuses(direct, "203.0.113.10") == [429, 429]


def test_protection_is_off_by_default(app: Flask) -> None:
    client = app.test_client()
    assert all(client.get(PING).status_code == 200 for _ in range(40))


def test_idempotency_keys_are_per_api_key(build_app: Callable[..., Flask]) -> None:
    """Two callers who pick the same Idempotency-Key and body get their own answers, never each other's."""
    client = build_app(API_KEYS=f"{KEY_A},{KEY_B}").test_client()
    body = {"message": "a weekend in Porto"}
    first_a = client.post("/api/chat/send", json=body, headers=bearer(KEY_A) | {"Idempotency-Key": "same-key-1"})
    first_b = client.post("/api/chat/send", json=body, headers=bearer(KEY_B) | {"Idempotency-Key": "same-key-1"})
    again_a = client.post("/api/chat/send", json=body, headers=bearer(KEY_A) | {"Idempotency-Key": "same-key-1"})
    assert first_a.status_code == first_b.status_code == again_a.status_code == 200
    assert first_b.get_json()["session_id"] != first_a.get_json()["session_id"]
    assert "Idempotent-Replayed" not in first_b.headers
    assert again_a.get_json() == first_a.get_json() and again_a.headers["Idempotent-Replayed"] == "true"


def test_a_key_is_rotated_by_running_with_both_then_the_new_one(
    build_app: Callable[..., Flask], caplog: pytest.LogCaptureFixture
) -> None:
    """docs/operations.md's rotation: old and new accepted together, then only the new; a client left on the
    old key is told 401 and the log names the refusal."""
    import logging

    from travel_agent.config import new_key

    old, new = new_key(), new_key()
    during = build_app(API_KEYS=f"{old},{new}").test_client()
    assert [during.get(PING, headers=bearer(key)).status_code for key in (old, new)] == [200, 200]
    after = build_app(API_KEYS=new).test_client()
    with caplog.at_level(logging.INFO):
        assert after.get(PING, headers=bearer(old)).status_code == 401
    assert after.get(PING, headers=bearer(new)).status_code == 200
    assert "refused: unknown bearer token" in caplog.text and old not in caplog.text
