"""The health probes in the OpenAPI document: the full report, liveness (no dependency touched) and readiness.

They are answered by ``web/probes.py``, before Flask; this module only describes them."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from werkzeug.routing import Rule

from travel_agent.api.error_schema import ErrorSchema


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


def document_probes(spec: Any) -> None:
    """Describe the probes in the OpenAPI document. They are answered by ``web/probes.py`` before Flask, their
    only implementation, so the document is written here rather than derived from a route."""
    no_store = {"Cache-Control": {"schema": {"type": "string"}, "description": "no-store"}}
    retry = {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait before retrying"}}
    paths = {
        "/health": (
            "The full report",
            "MongoDB, Redis and their circuits, checked at most every HEALTH_CACHE_SECONDS",
            {
                "200": _answer(HealthSchema, "healthy, or degraded (MongoDB up, Redis not)", no_store),
                "503": _answer(HealthSchema, "unhealthy: MongoDB does not answer", no_store),
            },
        ),
        "/health/live": (
            "Liveness",
            "The process serves requests; touches no dependency",
            {"200": _answer(LiveSchema, "The process serves requests")},
        ),
        "/health/ready": (
            "Readiness",
            "Whether a router should send this worker requests",
            {
                "200": _answer(ProbeSchema, "MongoDB answers and the worker is not draining"),
                "503": _answer(ProbeSchema, "Not ready: `draining` (Retry-After 1), or MongoDB `unavailable`", retry),
            },
        ),
    }
    for path, (summary, description, responses) in paths.items():
        responses["405"] = _answer(ErrorSchema, "Only GET and HEAD")
        operation = {"tags": ["health"], "summary": summary, "description": description, "responses": responses}
        # flask-smorest's spec plugin takes the path from a werkzeug Rule, as for a route
        spec.path(rule=Rule(path), operations={"get": operation})


def _answer(schema: type[ma.Schema], description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": description, "content": {"application/json": {"schema": schema}}}
    if headers:
        answer["headers"] = headers
    return answer
