"""A frozen Redis costs a request one socket timeout per cache call, never a retried one."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import redis
from flask import Flask

from travel_agent.backends.redis_store import create_pool
from travel_agent.config import Settings


def test_the_pool_retries_a_dropped_connection_but_not_a_timeout() -> None:
    pool = create_pool(Settings.from_env({"REDIS_URL": "redis://127.0.0.1:1/0"}))
    retry = pool.connection_kwargs["retry"]
    assert retry._supported_errors == (redis.ConnectionError,)


def test_a_frozen_redis_costs_one_timeout_per_cache_call(
    make_redis: Callable[..., Any], build_app: Callable[..., Flask]
) -> None:
    """Found by the chaos run: each cache call against a frozen Redis timed out, then retried and timed out
    again, so the requests in flight when it froze spent most of their budget on an optional cache."""
    frozen = make_redis()
    client = build_app(REDIS_URL=frozen.url, REDIS_SOCKET_TIMEOUT_SECONDS=1, BREAKER_FAILURE_THRESHOLD=5).test_client()
    session_id = client.post("/api/chat/send", json={"message": "Lisbon"}).get_json()["session_id"]
    frozen.freeze()
    try:
        started = time.monotonic()
        response = client.post("/api/chat/send", json={"message": "for 5 days", "session_id": session_id})
        elapsed = time.monotonic() - started
    finally:
        frozen.thaw()
    assert response.status_code == 200 and "Lisbon" in response.get_json()["reply"]  # context from MongoDB
    # Two cache calls (read the context, write it back), one 1 s timeout each; retried it was four.
    assert 1.8 < elapsed < 3.2, elapsed
