"""Real gunicorn against real SecantusDB and redis-server that the tests kill, freeze and bring back."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from tests.support.service import FAST, FAULT_APP

pytestmark = pytest.mark.slow


def get(server: Any, path: str, timeout: float = 10.0) -> requests.Response:
    return requests.get(server.base_url + path, timeout=timeout)


def health_status(server: Any) -> str:
    return get(server, "/health").json()["status"]


def finds_in_progress(mongo: Any) -> int:
    """Finds the server is running now (SecantusDB lists a blocked find as op "find", without its namespace)."""
    ops = mongo.client().admin.command("currentOp").get("inprog", [])
    return sum(1 for op in ops if op.get("op") == "find")


@pytest.fixture
def service_env() -> dict[str, str]:
    """Booting with a dependency down takes a second, quick start-up attempt."""
    return FAST | {"STARTUP_RETRIES": "2", "STARTUP_RETRY_DELAY_SECONDS": "0.2"}


def test_both_up_is_healthy_live_and_ready(stack: Callable[..., Any]) -> None:
    _, _, service = stack()
    response = get(service, "/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    assert {k: v["status"] for k, v in body["checks"].items()} == {"mongodb": "healthy", "redis": "healthy"}
    assert get(service, "/health/live").status_code == 200
    assert get(service, "/health/ready").status_code == 200
    assert "MongoDB connection verified" in service.log_file_text()
    assert "Redis connection verified" in service.log_file_text()


def test_redis_killed_degrades_then_recovers_without_restart(
    stack: Callable[..., Any], wait_until: Callable[..., Any]
) -> None:
    _, redis, service = stack()
    assert get(service, "/_test/cache/a?value=1").json() == {"source": "redis", "value": "1"}
    redis.kill()
    killed_at = time.monotonic()
    wait_until(lambda: health_status(service) == "degraded", 10, message="health never said degraded")
    assert time.monotonic() - killed_at < 10
    body = get(service, "/health").json()
    assert body["checks"]["redis"]["status"] == "unavailable"
    assert get(service, "/health/ready").status_code == 200
    # Requests that use Redis still succeed, from the fallback, and fast once the breaker knows.
    for _ in range(5):
        response = get(service, "/_test/cache/a?value=2")
        assert response.status_code == 200 and response.json()["source"] == "fallback"
    started = time.monotonic()
    assert get(service, "/_test/cache/a").json()["source"] == "fallback"
    assert time.monotonic() - started < 0.1
    redis.restart()
    back_at = time.monotonic()
    wait_until(lambda: health_status(service) == "healthy", 20, message="never healthy after Redis came back")
    wait_until(lambda: get(service, "/_test/cache/b?value=3").json()["source"] == "redis", 5)
    assert time.monotonic() - back_at < 20
    assert service.is_running


def test_mongo_killed_is_unhealthy_then_recovers(stack: Callable[..., Any], wait_until: Callable[..., Any]) -> None:
    mongo, _, service = stack()
    assert get(service, "/_test/mongo/find").status_code == 200
    mongo.kill()
    wait_until(lambda: get(service, "/health").status_code == 503, 15, message="health never turned 503")
    body = get(service, "/health").json()
    assert body["status"] == "unhealthy" and body["checks"]["mongodb"]["status"] == "unhealthy"
    assert get(service, "/health/live").status_code == 200
    assert get(service, "/health/ready").status_code == 503
    failed = get(service, "/_test/mongo/find")
    assert failed.status_code == 503
    assert failed.json()["code"] == 503 and "Retry-After" in failed.headers
    assert "mongodb://" not in failed.text and "127.0.0.1" not in failed.text
    mongo.restart()
    wait_until(lambda: health_status(service) == "healthy", 20, message="never healthy after MongoDB came back")
    wait_until(lambda: get(service, "/_test/mongo/find").status_code == 200, 5)


def test_mongo_frozen_is_unhealthy_and_health_never_takes_3s(
    stack: Callable[..., Any], wait_until: Callable[..., Any]
) -> None:
    mongo, _, service = stack()
    mongo.freeze()
    durations: list[float] = []

    def probe(path: str) -> int:
        started = time.monotonic()
        status = get(service, path).status_code
        durations.append(time.monotonic() - started)
        return status

    wait_until(lambda: probe("/health") == 503, 15, message="frozen MongoDB never made health 503")
    # A probe storm against a frozen dependency: every answer still within 3 s.
    with ThreadPoolExecutor(20) as pool:
        statuses = list(pool.map(lambda _: probe("/health"), range(60)))
    assert set(statuses) == {503}
    assert probe("/health/live") == 200
    assert probe("/health/ready") == 503
    assert max(durations) < 3.0, f"slowest /health took {max(durations):.2f}s"
    # Once the breaker knows, a request that needs MongoDB fails in milliseconds instead of a timeout.
    wait_until(
        lambda: get(service, "/health").json()["checks"]["mongodb"]["circuit"] != "closed",
        10,
        message="the MongoDB circuit never opened",
    )
    started = time.monotonic()
    assert get(service, "/_test/mongo/find").status_code == 503
    assert time.monotonic() - started < 0.1
    mongo.thaw()
    wait_until(lambda: health_status(service) == "healthy", 20, message="never healthy after thaw")
    wait_until(lambda: get(service, "/_test/mongo/find").status_code == 200, 5)


def test_boot_with_both_down_then_both_come_up(stack: Callable[..., Any], wait_until: Callable[..., Any]) -> None:
    mongo, redis, service = stack(start_deps=False)
    response = get(service, "/health")
    assert response.status_code == 503
    assert response.json()["checks"]["redis"]["status"] == "unavailable"
    assert "MongoDB connection attempt 1/2 failed" in service.log_file_text()
    assert "MongoDB not verified after 2 attempts (connection refused)" in service.log_file_text()
    assert service.is_running and len(service.worker_pids()) == 1
    mongo.start()
    redis.start()
    up_at = time.monotonic()
    wait_until(lambda: health_status(service) == "healthy", 30, message="never healthy after dependencies came up")
    assert time.monotonic() - up_at < 30
    assert get(service, "/_test/mongo/find").status_code == 200


def test_boot_with_only_redis_down_is_degraded_and_serving(
    make_mongo: Callable[..., Any],
    make_redis: Callable[..., Any],
    make_gunicorn: Callable[..., Any],
    service_env: dict[str, str],
) -> None:
    mongo = make_mongo()
    redis = make_redis(start=False)
    service = make_gunicorn(mongo_uri=mongo.uri, redis_url=redis.url, app=FAULT_APP, env=service_env)
    assert get(service, "/health").json()["status"] == "degraded"
    assert get(service, "/health/ready").status_code == 200
    assert get(service, "/_test/mongo/find").status_code == 200
    assert get(service, "/_test/cache/x").json()["source"] == "fallback"


def test_redis_pool_exhausted_callers_fall_back_after_pool_timeout(stack: Callable[..., Any]) -> None:
    _, _, service = stack({"REDIS_MAX_CONNECTIONS": "2", "REDIS_POOL_TIMEOUT_SECONDS": "0.5"})
    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda _: get(service, "/_test/cache-hold?seconds=2").json(), range(6)))
    held = [r for r in results if r["result"] == "held"]
    fell_back = [r for r in results if r["result"] == "fallback"]
    assert len(held) == 2 and len(fell_back) == 4, results
    assert all(1.9 <= r["seconds"] < 3.0 for r in held)
    assert all(0.4 <= r["seconds"] < 1.0 for r in fell_back), fell_back
    # Nothing leaked: the pool serves normally afterwards, and a busy pool did not open the breaker.
    assert get(service, "/_test/cache/after?value=ok").json() == {"source": "redis", "value": "ok"}
    assert get(service, "/health").json()["checks"]["redis"]["circuit"] == "closed"


def test_a_request_late_in_its_budget_waits_for_a_redis_connection_only_half_of_what_is_left(
    stack: Callable[..., Any], wait_until: Callable[..., Any]
) -> None:
    _, redis, service = stack(
        {"REDIS_MAX_CONNECTIONS": "1", "REDIS_POOL_TIMEOUT_SECONDS": "10", "REQUEST_TIMEOUT_SECONDS": "1"}
    )
    with ThreadPoolExecutor(1) as pool:
        # On the chat budget, the one pooled connection is held by a BLPOP for 3 s.
        holder = pool.submit(get, service, "/api/chat/_test/cache-hold?seconds=3")
        wait_until(
            lambda: any(c["cmd"] == "blpop" for c in redis.client().client_list()),
            5,
            message="the connection was never taken",
        )
        started = time.monotonic()
        late = get(service, "/_test/cache/late")
        elapsed = time.monotonic() - started
        assert holder.result(10).json()["result"] == "held"
    # Its set waited half of its 1 s budget for a connection, its get half of the rest: a fallback answered in
    # time, where the pool's own 10 s wait would have run into the backstop (a 504 at 1.3 s).
    assert late.status_code == 200 and late.json() == {"source": "fallback", "value": None}, late.text
    assert 0.6 <= elapsed < 1.0, elapsed


def test_mongo_pool_exhausted_callers_get_503_within_budget(
    stack: Callable[..., Any], wait_until: Callable[..., Any]
) -> None:
    mongo, _, service = stack(
        {
            "MONGO_MAX_POOL_SIZE": "2",
            "MONGO_MIN_POOL_SIZE": "0",
            "REQUEST_TIMEOUT_SECONDS": "1.5",
            "CHAT_TIMEOUT_SECONDS": "8",
        }
    )
    assert get(service, "/_test/mongo/find").status_code == 200
    mongo.fail_command(["find"], block_ms=3000, times=2, app_name="travel_agent")

    def call(path: str) -> tuple[int, float, dict[str, Any]]:
        started = time.monotonic()
        response = get(service, path)
        return response.status_code, time.monotonic() - started, response.json()

    with ThreadPoolExecutor(6) as pool:
        # Two callers on the long (chat) budget take both connections into a find blocked for 3 s ...
        holders = [pool.submit(call, "/api/chat/_test/mongo-hold") for _ in range(2)]
        wait_until(lambda: finds_in_progress(mongo) == 2, 5, message="the holders never reached the server")
        # ... so four callers on the 1.5 s budget find the pool exhausted and give up within their budget.
        waiters = list(pool.map(call, ["/_test/mongo/find"] * 4))
        held = [h.result() for h in holders]
    assert [status for status, _, _ in held] == [200, 200], held
    assert all(2.5 < seconds < 4.0 for _, seconds, _ in held), held
    assert [status for status, _, _ in waiters] == [503] * 4, waiters
    assert all(seconds < 1.6 for _, seconds, _ in waiters), waiters
    assert all(body["code"] == 503 and "busy" in body["message"] for _, _, body in waiters)
    # Nothing leaked: the pool serves normally afterwards, and a busy pool did not open the breaker.
    with ThreadPoolExecutor(6) as pool:
        assert {status for status, _, _ in pool.map(call, ["/_test/mongo/find"] * 6)} == {200}
    assert get(service, "/health").json()["checks"]["mongodb"]["circuit"] == "closed"
