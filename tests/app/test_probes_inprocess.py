"""The health probes answered by the outermost WSGI layer (web/probes.py): never reaching Flask in their common
case, the same bytes as the Flask routes, their metrics recorded, and every other case left to Flask."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask, request
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families
from werkzeug.test import Client, TestResponse

from travel_agent.services import EXTENSION_KEY
from travel_agent.web.probes import ProbeMiddleware

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


def through_flask(app: Flask) -> Client:
    """A client of everything inside the probe layer: the request scope and Flask, the routes' own answers."""
    layer = app.wsgi_app
    assert isinstance(layer, ProbeMiddleware)
    return Client(layer.app)


def same(a: TestResponse, b: TestResponse) -> None:
    assert (a.status, a.headers.to_wsgi_list(), a.get_data()) == (b.status, b.headers.to_wsgi_list(), b.get_data())


def requests_counted(client: FlaskClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = client.get("/metrics").get_data(as_text=True)
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_probes_do_not_reach_flask_and_answer_what_its_routes_answer(probed: tuple[Flask, list[str]]) -> None:
    app, reached = probed
    client, flask_side = app.test_client(), through_flask(app)
    for path in PROBES:
        for method in ("GET", "HEAD"):
            outer = client.open(path, method=method, headers=RID)
            assert reached == [], f"{method} {path} reached Flask"
            inner = flask_side.open(path, method=method, headers=RID, buffered=True)
            assert reached == [path]
            reached.clear()
            same(outer, inner)
    assert client.get("/health/live").get_json() == {"status": "alive", "in_flight": 1}
    health = client.get("/health")
    assert health.headers["Cache-Control"] == "no-store" and health.get_json()["status"] == "healthy"
    assert len(health.headers["X-Request-ID"]) == 32  # a fresh id when the caller sent none
    assert client.get("/health/live", headers={"X-Request-ID": "bad id\x7f"}).headers["X-Request-ID"] != "bad id\x7f"
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


def test_every_other_case_is_left_to_flask(probed: tuple[Flask, list[str]]) -> None:
    app, reached = probed
    svc = app.extensions[EXTENSION_KEY]
    client = app.test_client()
    post = client.post("/health/live")
    assert post.status_code == 405 and post.get_json()["code"] == 405
    assert reached == ["/health/live"]
    svc.state.draining = True
    ready = client.get("/health/ready")
    assert ready.status_code == 503 and ready.get_json() == {"status": "draining"}
    assert ready.headers["Retry-After"] == "1"
    assert client.get("/health/live").status_code == 200  # still answered outside
    assert reached == ["/health/live", "/health/ready"]
    svc.state.draining = False
    svc.health.cache_seconds = 0  # stale: the refresh is Flask's (request scope: deadline, drain cut-off)
    assert client.get("/health").status_code == 200 and client.get("/health/ready").status_code == 200
    assert reached[2:] == ["/health", "/health/ready"]
