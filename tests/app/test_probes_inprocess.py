"""The health probes answered by the outermost WSGI layer (web/probes.py), their only implementation: never
reaching Flask, whatever they answer (healthy, draining, unhealthy, stale, another method), their metrics
recorded."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask, request
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from travel_agent.services import EXTENSION_KEY

PROBES = ("/health/live", "/health/ready", "/health")
RID = {"X-Request-ID": "probe-test-1"}


@pytest.fixture
def probed(build_app: Callable[..., Flask]) -> tuple[Flask, list[str]]:
    """An app whose health result is fresh for a minute, and the paths of the requests that reached Flask."""
    app = build_app(HEALTH_CACHE_SECONDS=60)
    reached: list[str] = []
    app.before_request(lambda: reached.append(request.path))
    app.extensions[EXTENSION_KEY].health.report()  # fresh, as after the first probe
    return app, reached


def requests_counted(client: FlaskClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = client.get("/metrics").get_data(as_text=True)
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_probes_never_reach_flask_whatever_they_answer(probed: tuple[Flask, list[str]]) -> None:
    app, reached = probed
    svc = app.extensions[EXTENSION_KEY]
    client = app.test_client()
    for path in PROBES:
        got, head = client.get(path, headers=RID), client.head(path, headers=RID)
        assert got.status_code == head.status_code == 200
        assert got.headers["X-Request-ID"] == head.headers["X-Request-ID"] == RID["X-Request-ID"]
        assert head.get_data() == b"" and head.headers["Content-Length"] == got.headers["Content-Length"]
    assert client.get("/health/live").get_json() == {"status": "alive", "in_flight": 1}
    health = client.get("/health")
    assert health.headers["Cache-Control"] == "no-store" and health.get_json()["status"] == "healthy"
    assert len(health.headers["X-Request-ID"]) == 32  # a fresh id when the caller sent none
    assert client.get("/health/live", headers={"X-Request-ID": "bad id\x7f"}).headers["X-Request-ID"] != "bad id\x7f"
    # Draining: not ready (Retry-After 1), still live.
    svc.state.draining = True
    ready = client.get("/health/ready")
    assert (ready.status_code, ready.get_json(), ready.headers["Retry-After"]) == (503, {"status": "draining"}, "1")
    assert client.get("/health/live").status_code == 200
    svc.state.draining = False
    # A stale result is refreshed here too (the monitor's own short deadlines), not by Flask.
    svc.health.cache_seconds = 0
    assert client.get("/health").status_code == 200 and client.get("/health/ready").status_code == 200
    # Another method: the envelope's 405, with Allow.
    post = client.post("/health/live")
    assert post.status_code == 405 and post.headers["Allow"] == "GET, HEAD"
    assert post.get_json()["error"] == "method_not_allowed" and post.get_json()["code"] == 405
    assert reached == []


def test_an_unhealthy_worker_answers_503_from_the_probe_layer(
    build_app: Callable[..., Flask], mongo_server: Any
) -> None:
    app = build_app()
    app.extensions[EXTENSION_KEY].health.cache_seconds = 0  # every probe checks again
    reached: list[str] = []
    app.before_request(lambda: reached.append(request.path))
    client = app.test_client()
    mongo_server.freeze()
    try:
        health = client.get("/health")
        assert health.status_code == 503 and health.get_json()["status"] == "unhealthy"
        ready = client.get("/health/ready")
        assert (ready.status_code, ready.get_json()) == (503, {"status": "unavailable"})
        assert ready.headers["Retry-After"] == "2"
        assert client.get("/health/live").status_code == 200
    finally:
        mongo_server.thaw()
    assert reached == []


def test_probe_metrics_are_recorded(probed: tuple[Flask, list[str]]) -> None:
    app, reached = probed
    client = app.test_client()
    before = requests_counted(client)
    for path in PROBES:
        for _ in range(3):
            assert client.get(path).status_code == 200
    assert client.head("/health/live").status_code == 200
    after = requests_counted(client)
    assert reached == ["/metrics", "/metrics"]

    def delta(name: str, **labels: str) -> float:
        key = (name, frozenset(labels.items()))
        return after.get(key, 0.0) - before.get(key, 0.0)

    for path in PROBES:
        assert delta("travel_agent_http_requests_total", method="GET", route=path, status="200") == 3, path
        assert delta("travel_agent_http_request_duration_seconds_count", method="GET", route=path) == 3, path
    assert delta("travel_agent_http_requests_total", method="HEAD", route="/health/live", status="200") == 1
