"""/health, /health/live and /health/ready of an app whose dependencies answer (faults: tests/service)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from flask import Flask

from travel_agent import __version__


def test_healthy_report_has_the_contract_shape(app: Flask) -> None:
    response = app.test_client().get("/health")
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"status", "service", "version", "timestamp", "checks"}
    assert (body["status"], body["service"], body["version"]) == ("healthy", "travel_agent", __version__)
    assert datetime.fromisoformat(body["timestamp"].replace("Z", "+00:00")).tzinfo is not None
    for name in ("mongodb", "redis"):
        check = body["checks"][name]
        assert check["status"] == "healthy" and check["message"] == "Connection OK"
        assert 0 <= check["latency_ms"] < 1000
        assert check["circuit"] == "closed"


def test_live_and_ready(app: Flask) -> None:
    client = app.test_client()
    assert client.get("/health/live").get_json() == {"status": "alive", "in_flight": 1}
    ready = client.get("/health/ready")
    assert ready.status_code == 200 and ready.get_json() == {"status": "ready"}


def test_draining_worker_is_not_ready_but_live(app: Flask) -> None:
    app.extensions["travel_agent"].state.draining = True
    client = app.test_client()
    ready = client.get("/health/ready")
    assert ready.status_code == 503 and ready.get_json() == {"status": "draining"}
    assert client.get("/health/live").status_code == 200


def test_redis_unset_is_disabled_and_still_healthy(build_app: Callable[..., Flask]) -> None:
    app = build_app(REDIS_URL=None)
    body = app.test_client().get("/health").get_json()
    assert body["status"] == "healthy"
    assert body["checks"]["redis"] == {"status": "disabled", "message": "REDIS_URL is not set"}


def test_report_is_cached_briefly(app: Flask) -> None:
    client = app.test_client()
    first = client.get("/health").get_json()["timestamp"]
    assert client.get("/health").get_json()["timestamp"] == first


def test_openapi_documents_health_and_error_envelope(app: Flask) -> None:
    spec = app.test_client().get("/openapi.json").get_json()
    assert {"/health", "/health/live", "/health/ready"} <= set(spec["paths"])
    assert "request_id" in spec["components"]["schemas"]["Error"]["properties"]
