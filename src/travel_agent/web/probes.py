"""The health probes' common answers, given by the outermost WSGI layer without Flask.

Load balancers, orchestrators and monitors call ``/health/live``, ``/health/ready`` and ``/health`` several
times a second per instance; through Flask each answer cost more than a bare Flask app's whole request
(docs/PERFORMANCE.md, section 1). This layer answers the common case itself, byte for byte what the Flask
routes in ``api/health.py`` answer (body, status, headers, the ``X-Request-ID`` echo), and records the same
request metrics. Whatever is not the common case goes on to the full stack, whose routes stay the contract
and the OpenAPI document: another method than GET or HEAD, a draining worker's readiness, a health result
that is stale (its refresh pings the dependencies, which is the request scope's business: deadline, drain
cut-off), one that is not healthy (an error answer the console records from Flask's path), and ``/health``
when the worker is at its in-flight cap (sheddable, unlike the two probes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from time import perf_counter
from typing import Any

from travel_agent.backends.health import Report
from travel_agent.observability.metrics import ROUTE_KEY, RequestMetrics
from travel_agent.request_context import sane_request_id
from travel_agent.services import Services
from travel_agent.web.plain_json import encode

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
# status line, body, headers after Content-Type and Content-Length
Answer = tuple[str, bytes, tuple[tuple[str, str], ...]]

OK = "200 OK"
NO_STORE = (("Cache-Control", "no-store"),)
READY = b'{"status":"ready"}\n'


class ProbeMiddleware:
    """Answers GET and HEAD of the health probes in their common case; everything else goes to ``app``."""

    def __init__(self, app: WSGIApp, services: Services, recorder: RequestMetrics | None) -> None:
        self.app = app
        self.services = services
        self.recorder = recorder
        self._answers: dict[str, Callable[[], Answer | None]] = {
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
        method = environ.get("REQUEST_METHOD")
        if method != "GET" and method != "HEAD":
            return self.app(environ, start_response)
        started = perf_counter()
        answer = answer_for()
        if answer is None:
            return self.app(environ, start_response)
        status, body, extra = answer
        req_id = sane_request_id(environ.get("HTTP_X_REQUEST_ID"))
        environ["travel_agent.request_id"] = req_id
        environ[ROUTE_KEY] = path  # the URL rule of each of these routes is its path
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
        return [body] if method == "GET" else []

    def _live(self) -> Answer:
        # The probe itself counts, as it does when the request scope has admitted it.
        in_flight = len(self.services.state.inflight) + 1
        return OK, b'{"status":"alive","in_flight":%d}\n' % in_flight, ()

    def _ready(self) -> Answer | None:
        state = self.services.state
        if state.draining:
            return None
        report = self.services.health.fresh()
        if report is None or report.checks["mongodb"].status != "healthy":
            return None
        return OK, READY, ()

    def _health(self) -> Answer | None:
        report = self.services.health.fresh()
        if report is None or report.http_status != 200:
            return None
        inflight = self.services.state.inflight
        if len(inflight) >= inflight.cap:
            return None
        if report is not self._report:  # one encoding per health result, not per probe
            self._report_body = encode(report.as_dict())
            self._report = report
        return OK, self._report_body, NO_STORE
