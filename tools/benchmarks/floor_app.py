"""The floor of the stack: a bare Flask app answering /health/live, /health/ready and /health with the
service's JSON shapes.

It runs under plain gunicorn gevent workers (tools/benchmarks/floor_gunicorn_conf.py): what someone comparing
frameworks would run. /health answers the shape of a healthy report from constants, as the service answers
it from a cached check.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Flask

app = Flask("floor")


@app.get("/health/live")
def live() -> dict[str, Any]:
    return {"status": "alive", "in_flight": 1}


@app.get("/health")
def health() -> dict[str, Any]:
    return {
        "status": "healthy",
        "service": "travel_agent",
        "version": "0.0.0",
        "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "checks": {
            "mongodb": {"status": "healthy", "message": "Connection OK", "latency_ms": 0.5, "circuit": "closed"},
            "redis": {"status": "healthy", "message": "Connection OK", "latency_ms": 0.3, "circuit": "closed"},
        },
    }


@app.get("/health/ready")
def ready() -> dict[str, Any]:
    return {"status": "ready"}
