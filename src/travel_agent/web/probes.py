"""The health probes, answered by the outermost WSGI layer: their one implementation, every answer included.

Load balancers, orchestrators and monitors call ``/health/live``, ``/health/ready`` and ``/health`` several
times a second per instance; through Flask each answer cost more than a bare Flask app's whole request
(docs/PERFORMANCE.md). So this layer answers them all, healthy or not, draining or not: no Flask twin to drift
from (their OpenAPI description is ``api/health.py``'s). It echoes a sane ``X-Request-ID`` and records the
same request metrics as any other route. Probes are never shed: they are cheap (a cached result) and an
orchestrator that cannot reach them restarts a worker that is merely busy.

The layer takes what it needs, not the whole ``Services``: the health monitor, the worker's state and the
metrics recorder.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from time import perf_counter
from typing import Any

from travel_agent import formats
from travel_agent.backends.health import HealthMonitor, Report
from travel_agent.observability.metrics import ROUTE_KEY, RequestMetrics
from travel_agent.request_context import sane_request_id
from travel_agent.services import WorkerState

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
# status code, body, headers after Content-Type and Content-Length
Answer = tuple[int, bytes, tuple[tuple[str, str], ...]]

NO_STORE = (("Cache-Control", "no-store"),)
READY = formats.encode_json({"status": "ready"})
DRAINING = formats.encode_json({"status": "draining"})
UNAVAILABLE = formats.encode_json({"status": "unavailable"})
ALLOWED = "GET, HEAD"


class ProbeMiddleware:
    """Answers the health probes; every other path goes to ``app``."""

    def __init__(
        self, app: WSGIApp, health: HealthMonitor, state: WorkerState, recorder: RequestMetrics | None
    ) -> None:
        self.app = app
        self.health = health
        self.state = state
        self.recorder = recorder
        self._answers: dict[str, Callable[[], Answer]] = {
            "/health/live": self._live,
            "/health/ready": self._ready,
            "/health": self._health,
        }
        self._report: Report | None = None
        self._report_body = b""

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        answer_for = self._answers.get(path)
        if answer_for is None:
            return self.app(environ, start_response)
        started = perf_counter()
        req_id = sane_request_id(environ.get("HTTP_X_REQUEST_ID"))
        environ["travel_agent.request_id"] = req_id
        environ[ROUTE_KEY] = path  # the URL rule of each of these routes is its path
        method = environ.get("REQUEST_METHOD")
        if method == "GET" or method == "HEAD":
            code, body, extra = answer_for()
        else:
            code, body, extra = self._not_allowed(method, req_id)
        status = formats.status_line(code)
        start_response(
            status,
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(body))),
                *extra,
                ("X-Request-ID", req_id),
            ],
        )
        if self.recorder is not None:
            # When the answer is handed to the server rather than when its one small write ends: no body
            # wrapper for the server to close, which would cost more than the rest of this layer.
            self.recorder.finished(environ, status, started)
        # HEAD: the headers of GET (Content-Length included) and no body, as werkzeug answers it.
        return [] if method == "HEAD" else [body]

    def _live(self) -> Answer:
        # The probe itself counts, as it would if the request scope had admitted it.
        in_flight = len(self.state.inflight) + 1
        return 200, b'{"status":"alive","in_flight":%d}\n' % in_flight, ()

    def _ready(self) -> Answer:
        if self.state.draining:
            return 503, DRAINING, (("Retry-After", "1"),)
        if self.health.report().checks["mongodb"].status != "healthy":
            return 503, UNAVAILABLE, (("Retry-After", "2"),)
        return 200, READY, ()

    def _health(self) -> Answer:
        report = self.health.report()
        if report is not self._report:  # one encoding per health result, not per probe
            self._report_body = formats.encode_json(report.as_dict())
            self._report = report
        return report.http_status, self._report_body, NO_STORE

    def _not_allowed(self, method: str | None, req_id: str) -> Answer:
        message = f"The method {method} is not allowed here: the probes answer {ALLOWED}."
        body = formats.encode_json(formats.error_body(405, message, request_id=req_id))
        return 405, body, (("Allow", ALLOWED),)
