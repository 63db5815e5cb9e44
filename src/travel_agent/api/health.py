"""Health probes: the full report, liveness (no dependency touched) and readiness."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Response, jsonify
from flask_smorest import Blueprint

from travel_agent.services import services

blp = Blueprint("health", __name__, url_prefix="/health", description="Probes for monitors and orchestrators")


class CheckSchema(ma.Schema):
    status = ma.fields.String(required=True, metadata={"description": "healthy | unhealthy | unavailable | disabled"})
    message = ma.fields.String(required=True)
    latency_ms = ma.fields.Float()
    circuit = ma.fields.String(metadata={"description": "closed | open | half_open"})


class HealthSchema(ma.Schema):
    status = ma.fields.String(required=True, metadata={"description": "healthy | degraded | unhealthy"})
    service = ma.fields.String(required=True)
    version = ma.fields.String(required=True)
    timestamp = ma.fields.String(required=True, metadata={"description": "ISO 8601, UTC"})
    checks = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Nested(CheckSchema), required=True)


class ProbeSchema(ma.Schema):
    status = ma.fields.String(required=True)


class LiveSchema(ProbeSchema):
    in_flight = ma.fields.Integer(required=True, metadata={"description": "requests this worker runs now"})


@blp.get("")
@blp.response(200, HealthSchema, description="healthy, or degraded (MongoDB up, Redis not)")
@blp.alt_response(503, schema=HealthSchema, description="unhealthy: MongoDB does not answer")
def health() -> Response:
    report = services().health.report()
    return _json(report.as_dict(), report.http_status, {"Cache-Control": "no-store"})


@blp.get("/live")
@blp.response(200, LiveSchema, description="The process serves requests")
def live() -> Response:
    return _json({"status": "alive", "in_flight": len(services().state.inflight)})


@blp.get("/ready")
@blp.response(200, ProbeSchema, description="MongoDB answers and the worker is not draining")
@blp.alt_response(503, schema=ProbeSchema, description="Not ready: draining, or MongoDB down")
def ready() -> Response:
    svc = services()
    if svc.state.draining:
        return _json({"status": "draining"}, 503, {"Retry-After": "1"})
    if svc.health.report().checks["mongodb"].status != "healthy":
        return _json({"status": "unavailable"}, 503, {"Retry-After": "2"})
    return _json({"status": "ready"})


def _json(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """The body as built, without flask-smorest's marshmallow dump (a Response is passed through as is).

    Probes are polled constantly, and the dump costs more than the rest of /health (docs/PERFORMANCE.md). The
    bodies are built by our own code in the documented shapes, so the schemas above still describe them.
    """
    response = jsonify(body)
    response.status_code = status
    response.headers.update(headers or {})
    return response
