"""/metrics in one process: labels, the token, the recorders other modules call, and failure isolation."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from tests.support.scrape import scrape, value
from werkzeug.test import TestResponse

from travel_agent.observability import metrics
from travel_agent.resilience.breaker import State
from travel_agent.services import EXTENSION_KEY

TOKEN = "metrics-token-0123456789"


def get(client: FlaskClient, path: str) -> TestResponse:
    """Buffered: the middleware records a request when the server closes its body, as gunicorn always does."""
    return client.get(path, buffered=True)


def test_requests_are_labelled_by_route_rule_not_raw_path(app: Flask) -> None:
    client = app.test_client()
    before = scrape(client)
    for key in ("a", "b", "c"):
        assert get(client, f"/_test/cache/{key}").status_code == 200
    assert get(client, "/no/such/path").status_code == 404
    assert get(client, "/_test/too-slow").status_code == 504
    after = scrape(client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("travel_agent_http_requests_total", method="GET", route="/_test/cache/<key>", status="200") == 3
    assert delta("travel_agent_http_requests_total", method="GET", route="<unmatched>", status="404") == 1
    assert not any("/_test/cache/a" in str(labels) for _, labels in after)
    assert delta("travel_agent_budget_timeouts_total", route="/_test/too-slow") == 1
    assert delta("travel_agent_http_request_duration_seconds_count", method="GET", route="/_test/cache/<key>") == 3
    assert value(after, "travel_agent_dependency_up", dependency="mongodb") == 1
    assert value(after, "travel_agent_circuit_state", dependency="redis") == 0


def test_recorders_for_the_runtime(app: Flask) -> None:
    # The model's calls are counted by real turns: tests/app/chat/test_upstream_observed.py.
    client = app.test_client()
    before = scrape(client)
    metrics.record_shed("draining")
    metrics.record_shed("anything else")  # unknown reasons are folded, never a new series
    after = scrape(client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("travel_agent_shed_requests_total", reason="draining") == 1
    assert delta("travel_agent_shed_requests_total", reason="other") == 1


def test_a_checkout_that_waits_for_a_pooled_connection_is_observed(
    build_app: Callable[..., Flask], mongo_server: Any
) -> None:
    """One connection in the pool, held 0.5 s by a blocked find: a second find waits for it, and that wait is
    what the histogram shows (a checkout that finds a free connection at once is not observed)."""
    app = build_app(MONGO_MAX_POOL_SIZE=1, MONGO_MIN_POOL_SIZE=0)
    client = app.test_client()
    gateway = app.extensions[EXTENSION_KEY].mongo

    def find() -> None:
        with app.app_context(), gateway.call() as db:
            db.probe.find_one({"_id": "metrics"})

    find()  # the pool's one connection exists and is free
    before = scrape(client)
    find()  # found free at once: not a wait
    assert value(scrape(client), "travel_agent_mongo_pool_checkout_seconds_count") == value(
        before, "travel_agent_mongo_pool_checkout_seconds_count"
    )
    mongo_server.fail_command(["find"], block_ms=500, times=1)
    try:
        with ThreadPoolExecutor(2) as pool:
            # Whichever reaches the server first is blocked holding the connection; the other waits for it.
            finds = [pool.submit(find), pool.submit(find)]
            for done in finds:
                done.result(10)
    finally:
        mongo_server.clear_fail_points()
    after = scrape(client)
    waited = value(after, "travel_agent_mongo_pool_checkout_seconds_count") - value(
        before, "travel_agent_mongo_pool_checkout_seconds_count"
    )
    assert waited == 1
    assert (
        value(after, "travel_agent_mongo_pool_checkout_seconds_sum")
        - value(before, "travel_agent_mongo_pool_checkout_seconds_sum")
        >= 0.2
    )


def test_circuit_gauge_follows_the_breaker(app: Flask) -> None:
    breaker = app.extensions[EXTENSION_KEY].mongo.breaker
    client = app.test_client()
    for _ in range(breaker.threshold):
        breaker.record_failure()
    # The scrape refreshes health too, and a real ping closes the circuit: read the gauge before that.
    assert metrics._get().circuit.labels("mongodb")._value.get() == 2
    breaker.record_success()
    assert value(scrape(client), "travel_agent_circuit_state", dependency="mongodb") == 0
    metrics.record_circuit("mongodb", State.HALF_OPEN)
    assert metrics._get().circuit.labels("mongodb")._value.get() == 1


def test_metrics_token(build_app: Callable[..., Flask]) -> None:
    client = build_app(METRICS_TOKEN=TOKEN).test_client()
    missing = client.get("/metrics")
    assert missing.status_code == 401 and missing.get_json()["code"] == 401
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong-token-0123456789"}).status_code == 401
    assert scrape(client, Authorization=f"Bearer {TOKEN}")


def test_a_failing_metric_never_breaks_a_request(
    build_app: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> None:
        raise OSError("No space left on device")

    monkeypatch.setattr(metrics, "_get", broken)
    monkeypatch.setattr(metrics, "_last_failure_log", -1e9)
    client = build_app().test_client()  # the worker boots with its metrics broken
    for _ in range(3):
        assert get(client, "/health/live").status_code == 200
    metrics.record_shed("overload")
    failures = [r for r in caplog.records if "recording a metric failed" in r.getMessage()]
    assert len(failures) == 1, "the failure is logged, and only once a minute"
