"""Prometheus metrics: what each worker records (``metrics_view`` serves them as ``GET /metrics``).

Under gunicorn the master sets ``PROMETHEUS_MULTIPROC_DIR`` (see ``runtime.metrics_files``) before forking, so each
worker's prometheus_client writes its values to files there and a scrape answered by any one worker reads
them all. Outside gunicorn (tests, a shell) the values live in this process only.

Recording must never break a request: every recorder catches its own failure and logs it (throttled).
The runtime calls ``record_shed`` and ``record_budget_timeout``; the agent ``observe_upstream`` and
``record_upstream_tokens`` for every model call; the chat ``record_chat_turn`` for every turn.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from prometheus_client import Counter, Gauge, Histogram
from pymongo import monitoring
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map

from travel_agent.request_context import STREAM_ERROR_KEY
from travel_agent.resilience.breaker import State

log = logging.getLogger("travel_agent.metrics")

MULTIPROC_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
ROUTE_KEY = "travel_agent.route"
UNMATCHED = "<unmatched>"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Client errors that say something about the service (a body too slow to arrive, rate limiting), unlike a 404.
NOTABLE_CLIENT_ERRORS = frozenset({"408", "429"})
SHED_REASONS = frozenset({"overload", "draining"})
# A model call's outcome: answered; the budget (or the first upstream's share of it) ran out; an unusable or
# broken answer (5xx after the retries); unreachable, overloaded or rate limiting; a 4xx refusal; an answer past
# MAX_REPLY_CHARS; refused by its own open circuit without a call; the client left mid-call.
UPSTREAM_OUTCOMES = frozenset(
    {"ok", "timeout", "error", "unavailable", "refused", "too_long", "circuit_open", "cancelled"}
)
UPSTREAMS = frozenset({"primary", "fallback"})
TOKEN_KINDS = ("prompt", "completion")
CHAT_MODES = frozenset({"send", "stream"})

CIRCUIT_VALUES = {State.CLOSED: 0, State.HALF_OPEN: 1, State.OPEN: 2}
# Request budgets are 30 s and 90 s (chat); the top buckets show requests that used most of theirs.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 90.0)
# A checkout counts as a wait from 1 ms on (a free connection is handed out in microseconds).
SLOW_CHECKOUT_SECONDS = 0.001
CHECKOUT_BUCKETS = (0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0)
FAILURE_LOG_INTERVAL_SECONDS = 60.0


class _Metrics:
    """Created once per process, on first use: prometheus_client decides at import whether values go to
    files, and a file-backed value needs its directory to exist when it is created."""

    def __init__(self) -> None:
        self.requests = Counter("travel_agent_http_requests", "HTTP requests answered", ["method", "route", "status"])
        self.latency = Histogram(
            "travel_agent_http_request_duration_seconds",
            "Time from the request's arrival to the end of its response body",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
        )
        # Sampled (``sample_in_flight``), not counted up and down by every request: two file writes a
        # request cost more than the rest of the metrics, and a gauge scraped every few seconds is a sample.
        self.in_flight = Gauge(
            "travel_agent_http_requests_in_flight", "Requests being served now", multiprocess_mode="livesum"
        )
        self.budget_timeouts = Counter(
            "travel_agent_budget_timeouts", "Requests stopped because their time budget ran out", ["route"]
        )
        self.shed = Counter("travel_agent_shed_requests", "Requests refused to protect the worker", ["reason"])
        # The scraping worker refreshes these from its health monitor just before answering.
        self.dependency_up = Gauge(
            "travel_agent_dependency_up",
            "1 when the dependency's health check passes",
            ["dependency"],
            multiprocess_mode="livemostrecent",
        )
        # Per worker; summed as the worst live worker: 0 closed, 1 half-open, 2 open.
        self.circuit = Gauge(
            "travel_agent_circuit_state",
            "Circuit breaker: 0 closed, 1 half-open, 2 open",
            ["dependency"],
            multiprocess_mode="livemax",
        )
        self.checkout = Histogram(
            "travel_agent_mongo_pool_checkout_seconds",
            "Checkouts of a MongoDB pool connection that waited 1 ms or more, and how long",
            buckets=CHECKOUT_BUCKETS,
        )
        self.checkout_failures = Counter(
            "travel_agent_mongo_pool_checkout_failures", "MongoDB pool checkouts that failed", ["reason"]
        )
        self.upstream_requests = Counter(
            "travel_agent_upstream_requests", "Calls to a language-model upstream", ["upstream", "outcome"]
        )
        self.upstream = Histogram(
            "travel_agent_upstream_request_duration_seconds",
            "A whole call to a language-model upstream, retries included",
            ["upstream", "outcome"],
            buckets=LATENCY_BUCKETS,
        )
        self.upstream_first_token = Histogram(
            "travel_agent_upstream_first_token_seconds",
            "From a model call's start to its first piece of text (a send's whole answer)",
            ["upstream"],
            buckets=LATENCY_BUCKETS,
        )
        self.upstream_tokens = Counter(
            "travel_agent_upstream_tokens", "Tokens a model upstream reported using", ["upstream", "kind"]
        )
        self.chat_turns = Counter("travel_agent_chat_turns", "Chat turns, by how they ended", ["mode", "outcome"])
        self.stream_errors = Counter(
            "travel_agent_stream_errors", "Streams (status 200) that ended in an error event", ["route", "status"]
        )
        self.rate_limit = Counter(
            "travel_agent_rate_limit_decisions", "Rate-limit checks, by counter store", ["store", "outcome"]
        )
        # labels() validates and locks on every call (about 2 us); the series of a label set never changes, and
        # the label sets are bounded (methods, URL rules, statuses), so each request's pair is looked up once.
        self._http: dict[tuple[str, str, str], tuple[Any, Any]] = {}
        self._series: dict[tuple[int, tuple[str, ...]], Any] = {}

    def series(self, metric: Any, *labels: str) -> Any:
        """``metric.labels(*labels)``, looked up once per label set (the sets are bounded, as above)."""
        key = (id(metric), labels)
        found = self._series.get(key)
        if found is None:
            found = self._series[key] = metric.labels(*labels)
        return found

    def http_series(self, method: str, route: str, status: str) -> tuple[Any, Any]:
        """The request counter and the latency histogram of one method, route and status."""
        key = (method, route, status)
        series = self._http.get(key)
        if series is None:
            series = (self.requests.labels(method, route, status), self.latency.labels(method, route))
            self._http[key] = series
        return series


_metrics: _Metrics | None = None
_create_lock = threading.Lock()
_last_failure_log = 0.0


def _get() -> _Metrics:
    global _metrics
    if _metrics is None:
        with _create_lock:
            if _metrics is None:
                directory = os.environ.get(MULTIPROC_DIR_VARIABLE)
                if directory:
                    os.makedirs(directory, exist_ok=True)  # outside gunicorn nobody prepared it
                _metrics = _Metrics()
    return _metrics


def _safely(record: Callable[[_Metrics], object]) -> None:
    """Run a recording; a failure (a full disk, a removed directory) is logged at most once a minute."""
    try:
        record(_get())
    except Exception:  # noqa: BLE001  (logged by _log_failure; metrics are best effort, the request goes on)
        _log_failure()


def _log_failure() -> None:
    """Called from an ``except`` block: logs the exception being handled, at most once a minute."""
    global _last_failure_log
    now = time.monotonic()
    if now - _last_failure_log >= FAILURE_LOG_INTERVAL_SECONDS:
        _last_failure_log = now
        log.exception("recording a metric failed; requests continue without it")


# -- what other modules call -------------------------------------------------------------------------------


def record_shed(reason: str = "overload") -> None:
    """A request refused to protect the worker (load shedding, or draining for shutdown)."""
    label = reason if reason in SHED_REASONS else "other"
    _safely(lambda m: m.shed.labels(label).inc())


def record_budget_timeout(route: str) -> None:
    """A request stopped by its time budget. 504 responses are counted here automatically; call it yourself
    only when the timeout could not become a 504 (a stream ended with an in-band error event)."""
    _safely(lambda m: m.budget_timeouts.labels(route).inc())


def observe_upstream(upstream: str, outcome: str, seconds: float, first_token_seconds: float | None) -> None:
    """One call to a model upstream ("primary" or "fallback"), retries included; ``outcome`` is one of
    UPSTREAM_OUTCOMES; ``first_token_seconds`` when any text came."""
    name = upstream if upstream in UPSTREAMS else "primary"
    label = outcome if outcome in UPSTREAM_OUTCOMES else "error"

    def record(m: _Metrics) -> None:
        m.series(m.upstream_requests, name, label).inc()
        m.series(m.upstream, name, label).observe(seconds)
        if first_token_seconds is not None:
            m.series(m.upstream_first_token, name).observe(first_token_seconds)

    _safely(record)


def record_upstream_tokens(upstream: str, usage: dict[str, int]) -> None:
    """The token counts an upstream reported (``prompt_tokens``, ``completion_tokens``)."""
    name = upstream if upstream in UPSTREAMS else "primary"

    def record(m: _Metrics) -> None:
        for kind in TOKEN_KINDS:
            count = usage.get(f"{kind}_tokens")
            if isinstance(count, int) and count > 0:
                m.series(m.upstream_tokens, name, kind).inc(count)

    _safely(record)


def record_chat_turn(mode: str, outcome: str) -> None:
    """A chat turn ended: ``outcome`` is answered, degraded, cancelled (the client left a stream before its
    end), or the status of its failure ("503")."""
    label = mode if mode in CHAT_MODES else "send"
    if outcome not in ("answered", "degraded", "cancelled") and not (outcome.isdigit() and len(outcome) == 3):
        outcome = "500"
    _safely(lambda m: m.series(m.chat_turns, label, outcome).inc())


def record_rate_limit(store: str, allowed: bool) -> None:
    _safely(lambda m: m.rate_limit.labels(store, "allowed" if allowed else "limited").inc())


def sample_in_flight(count: int) -> None:
    """This worker's requests in flight now: from the gunicorn worker's heartbeat (each second) and the scrape."""
    _safely(lambda m: m.in_flight.set(count))


def record_dependency_up(dependency: str, up: bool) -> None:
    _safely(lambda m: m.dependency_up.labels(dependency).set(1 if up else 0))


def create_now() -> None:
    """Create the metrics at worker start: a broken directory is logged then, and the worker still boots."""
    _safely(lambda m: None)


def record_circuit(dependency: str, state: State) -> None:
    _safely(lambda m: m.circuit.labels(dependency).set(CIRCUIT_VALUES[state]))


class MongoPoolMetrics(monitoring.ConnectionPoolListener):
    """How long requests wait for a pooled MongoDB connection, and how often they give up."""

    # PyMongo types an event's duration as optional; it sets it on both events measured here.
    def connection_checked_out(self, event: monitoring.ConnectionCheckedOutEvent) -> None:
        duration = event.duration
        # Only a checkout that waited: a turn checks out five connections, nearly always at once, and
        # observing each in the histogram's shared files cost a chat turn a few per cent of its CPU
        # (docs/PERFORMANCE.md) to record "no wait" again and again. Contention is what the metric is for.
        if duration is not None and duration >= SLOW_CHECKOUT_SECONDS:
            _safely(lambda m: m.checkout.observe(duration))

    def connection_check_out_failed(self, event: monitoring.ConnectionCheckOutFailedEvent) -> None:
        duration, reason = event.duration, str(event.reason)

        def record(m: _Metrics) -> None:
            if duration is not None:
                m.checkout.observe(duration)
            m.checkout_failures.labels(reason).inc()

        _safely(record)

    # The listener interface requires every event; the others are not measured.
    def pool_created(self, event: Any) -> None: ...
    def pool_ready(self, event: Any) -> None: ...
    def pool_cleared(self, event: Any) -> None: ...
    def pool_closed(self, event: Any) -> None: ...
    def connection_created(self, event: Any) -> None: ...
    def connection_ready(self, event: Any) -> None: ...
    def connection_closed(self, event: Any) -> None: ...
    def connection_check_out_started(self, event: Any) -> None: ...
    def connection_checked_in(self, event: Any) -> None: ...


# -- HTTP ---------------------------------------------------------------------------------------------------


class RequestMetrics:
    """The per-request series, recorded by the request-scope middleware, so they also count answers made outside
    Flask (a shed 503, a backstop 504), and by the probe layer outside it (web/probes.py) for the probes it
    answers itself.

    Not a middleware of its own: a second WSGI layer would add a second set of wrappers and closures to every
    request (docs/PERFORMANCE.md, section 1). The route label is the URL rule
    (``/api/chat/<session_id>``), never the raw path, so the number of series stays bounded; Flask reports the
    rule it matched, and a request that never reached Flask is matched here against the same map.
    """

    def __init__(self, url_map: Map) -> None:
        self.url_map = url_map
        # Told of every error answer (5xx, 408, 429) with (environ, status, route): the console's error list.
        # Only error answers pay for it; a 200 pays one comparison.
        self.error_sink: Callable[[dict[str, Any], str, str], None] | None = None

    def finished(self, environ: dict[str, Any], status_line: str | None, started: float) -> None:
        """One answered request, shed ones included; ``status_line`` is None when the app raised before starting
        a response (the server then sends a 500)."""
        elapsed = time.perf_counter() - started
        try:
            self._record(_get(), environ, status_line, elapsed)
        except Exception:  # noqa: BLE001  (logged by _log_failure; the request goes on)
            _log_failure()

    def _record(self, m: _Metrics, environ: dict[str, Any], status_line: str | None, elapsed: float) -> None:
        method = environ.get("REQUEST_METHOD", "GET")
        method = method if method in METHODS else "other"
        status = status_line.split(" ", 1)[0] if status_line else "500"
        route = self.route(environ)
        count, latency = m.http_series(method, route, status)
        count.inc()
        latency.observe(elapsed)
        if status == "200" and STREAM_ERROR_KEY in environ:
            # The status line said 200 and stays in the request counter; the error event that ended the
            # stream is what the client got: counted apart, and told to the console as the error it is.
            status = str(environ[STREAM_ERROR_KEY])
            m.stream_errors.labels(route, status).inc()
        if status == "504":
            m.budget_timeouts.labels(route).inc()
        if self.error_sink is not None and (status[0] == "5" or status in NOTABLE_CLIENT_ERRORS):
            self.error_sink(environ, status, route)

    def route(self, environ: dict[str, Any]) -> str:
        route = environ.get(ROUTE_KEY)
        if route is None:
            try:
                rule, _ = self.url_map.bind_to_environ(environ).match(return_rule=True)
                route = rule.rule
            except HTTPException:
                route = UNMATCHED
        return str(route)
