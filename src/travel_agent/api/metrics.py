"""``GET /metrics``: every worker's recorded values summed, behind ``METRICS_TOKEN`` when it is set."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, Response, request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from travel_agent.observability.metrics import (
    MULTIPROC_DIR_VARIABLE,
    ROUTE_KEY,
    UNMATCHED,
    RequestMetrics,
    create_now,
    record_circuit,
    record_dependency_up,
    sample_in_flight,
)
from travel_agent.services import Services
from travel_agent.web.auth import check_bearer


def render(svc: Services) -> bytes:
    """The exposition text: all workers' files in multiprocess mode, else this process's registry."""
    report = svc.health.report()  # cached and bounded (about a second even with a dependency frozen)
    for name, check in report.checks.items():
        if check.status != "disabled":
            record_dependency_up(name, check.status == "healthy")
    for breaker in svc.breakers:
        record_circuit(breaker.name, breaker.state)
    sample_in_flight(len(svc.state.inflight))  # exact for this worker; the others' are at most a second old
    directory = os.environ.get(MULTIPROC_DIR_VARIABLE)
    if not directory:
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=directory)
    return generate_latest(registry)


def install_metrics(app: Flask, svc: Services) -> RequestMetrics:
    """``GET /metrics`` (behind METRICS_TOKEN when set), route labels and the gauge of every registered breaker
    (MongoDB, Redis, each model upstream); returns the recorder
    the request-scope middleware gives every request to."""
    create_now()
    for breaker in svc.breakers:
        breaker.add_listener(record_circuit)
        record_circuit(breaker.name, breaker.state)
    tokens = (svc.settings.metrics_token,) if svc.settings.metrics_token else ()

    @app.url_value_preprocessor
    def _label_route(endpoint: str | None, values: dict[str, Any] | None) -> None:
        # Runs for every request Flask handles, before any before_request hook can answer it.
        req = request._get_current_object()  # type: ignore[attr-defined]  # one proxy lookup, not three
        req.environ[ROUTE_KEY] = req.url_rule.rule if req.url_rule is not None else UNMATCHED

    @app.get("/metrics")
    def metrics() -> Response:
        denied = check_bearer(tokens, "a metrics token") if tokens else None
        if denied is not None:
            return denied
        return Response(render(svc), content_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})

    return RequestMetrics(app.url_map)
