"""The MongoDB client of a worker: its pool settings and the guard around every call (the start-up check is in
``backends/startup.py``)."""

from __future__ import annotations

import logging
import time
from contextlib import AbstractContextManager
from types import TracebackType

import pymongo
from pymongo.database import Database
from pymongo.errors import ConfigurationError, ConnectionFailure, OperationFailure, PyMongoError, WaitQueueTimeoutError

from travel_agent import request_context
from travel_agent.backends.failures import connection_reason
from travel_agent.config import Settings
from travel_agent.errors import BudgetExceeded, DependencyUnavailable
from travel_agent.observability.metrics import MongoPoolMetrics
from travel_agent.resilience.breaker import CircuitBreaker

log = logging.getLogger("travel_agent.mongo")

# What a call leaves unused of the request budget, so the error can still be turned into a response
# before the middleware's last-resort timeout fires inside the driver (docs/architecture.md, budgets).
DEADLINE_MARGIN_SECONDS = 0.15


def create_client(settings: Settings) -> pymongo.MongoClient:
    """A lazy client: constructing it never touches the network, so a dead server cannot stop a boot."""
    return pymongo.MongoClient(
        settings.mongodb_uri,
        appname="travel_agent",
        serverSelectionTimeoutMS=settings.mongo_server_selection_timeout_ms,
        connectTimeoutMS=settings.mongo_connect_timeout_ms,
        socketTimeoutMS=settings.mongo_socket_timeout_ms,
        heartbeatFrequencyMS=settings.mongo_heartbeat_frequency_ms,
        retryWrites=True,
        retryReads=True,
        # w:1 with j:true: a write is acknowledged once it is in the server's journal. With j:false a server
        # that crashes loses its last ~100 ms of acknowledged writes (answered messages, a session's counter
        # rolled back); every write here is a chat turn the client is about to be told is stored.
        journal=True,
        maxPoolSize=settings.mongo_max_pool_size,
        minPoolSize=settings.mongo_min_pool_size,
        maxIdleTimeMS=settings.mongo_max_idle_time_ms,
        waitQueueTimeoutMS=settings.mongo_wait_queue_timeout_ms,
        tz_aware=True,
        connect=False,
        event_listeners=[MongoPoolMetrics()],  # pool checkout waits and failures, for /metrics
    )


# What dnspython's failures mean, by class name (dnspython is PyMongo's, imported only for mongodb+srv).
_DNS_FAILURES = {
    "NXDOMAIN": "the name does not exist",
    "LifetimeTimeout": "timed out",
    "Timeout": "timed out",
    "NoNameservers": "no DNS server answered",
    "NoAnswer": "no SRV record",
    "NoResolverConfiguration": "no DNS resolver configured",
}


def srv_lookup_failure(exc: BaseException) -> str | None:
    """Why the SRV lookup of a mongodb+srv:// URI failed, or None if ``exc`` is not such a failure.

    PyMongo resolves the SRV record on the client's first operation, not when the client is built, and
    reports a failed lookup as a ConfigurationError raised from dnspython's error. The URI is fine: DNS is
    down or does not know the name yet. That is an outage like a dead server (503, counted by the breaker,
    retried by the next operation), not a bug answered 500.
    """
    cause = exc.__cause__
    if not isinstance(exc, ConfigurationError) or cause is None or not type(cause).__module__.startswith("dns."):
        return None
    return _DNS_FAILURES.get(type(cause).__name__, "lookup failed")


# AuthenticationFailed, and Unauthorized (a user without the roles the service's commands need).
_AUTH_CODES = {18: "authentication failed", 13: "not authorized"}


def describe_failure(exc: BaseException) -> str:
    """A reason fit for logs and /health: the kind of failure, never the driver's text (it names hosts)."""
    dns_failure = srv_lookup_failure(exc)
    if dns_failure is not None:
        return f"DNS lookup of the mongodb+srv:// host failed: {dns_failure}"
    if isinstance(exc, WaitQueueTimeoutError):
        return "connection pool busy"
    if isinstance(exc, OperationFailure) and exc.code in _AUTH_CODES:
        return _AUTH_CODES[exc.code]
    # A refused connection or an untrusted certificate also ends in a server-selection timeout; its text
    # says which, and "timed out" would send an operator looking for a slow server.
    reason = connection_reason(exc) if isinstance(exc, ConnectionFailure) else None
    if reason is not None:
        return reason
    if isinstance(exc, PyMongoError) and exc.timeout:
        return "timed out"
    if isinstance(exc, ConnectionFailure):
        return "unreachable"
    return type(exc).__name__


def is_outage(exc: PyMongoError) -> bool:
    """Failures that say the server is gone or not answering, as opposed to a busy pool or a bad query."""
    if isinstance(exc, WaitQueueTimeoutError):
        return False
    if isinstance(exc, OperationFailure) and exc.code in _AUTH_CODES:
        return True  # wrong credentials: no request can be served until an operator fixes them
    return isinstance(exc, ConnectionFailure) or exc.timeout or srv_lookup_failure(exc) is not None


class MongoGateway:
    """The one door to MongoDB: breaker first, the request's remaining budget as the driver timeout, and
    driver errors turned into the service's own (503 for an outage or a busy pool, 504 for a spent budget)."""

    def __init__(self, client: pymongo.MongoClient, settings: Settings, breaker: CircuitBreaker) -> None:
        self.client = client
        self.db: Database = client[settings.mongodb_db]
        self.breaker = breaker
        self._op_cap = settings.mongo_operation_timeout_ms / 1000

    def ping(self, timeout: float) -> float:
        """Round-trip a real ``ping`` within ``timeout`` seconds; returns the latency. Raises PyMongoError."""
        started = time.monotonic()
        with pymongo.timeout(timeout):
            self.client.admin.command("ping")
        return time.monotonic() - started

    def call(self) -> MongoCall:
        """``with gateway.call() as db:`` one MongoDB call: refused at once (503) while the breaker is open or
        (504) when the budget is spent; bounded by what remains of it; its driver errors turned into ours."""
        if not self.breaker.allow():
            raise DependencyUnavailable("mongodb", retry_after=self.breaker.retry_after())
        left = request_context.remaining()
        if left is not None and left <= DEADLINE_MARGIN_SECONDS:
            raise BudgetExceeded()
        # Without a request (start-up, CLI) the pool's own timeouts apply; within one, the smaller of what
        # remains and MONGO_OPERATION_TIMEOUT_MS, so one stuck call can neither outlive the budget nor hold a
        # request for longer than the operator allows (see Settings for why CSOT needs that cap).
        bound = None if left is None else pymongo.timeout(min(left - DEADLINE_MARGIN_SECONDS, self._op_cap))
        return MongoCall(self, bound)

    def settle(self, exc: PyMongoError) -> None:
        """After a driver error: raise the service's own, or return to let ``exc`` itself propagate (the
        server answered; the query was at fault)."""
        log.warning("MongoDB call failed: %s (%s)", describe_failure(exc), type(exc).__name__)
        if not is_outage(exc):
            if not isinstance(exc, WaitQueueTimeoutError):
                self.breaker.record_success()
                return
            raise DependencyUnavailable(
                "mongodb", "The database is busy. Please retry shortly.", retry_after=1
            ) from exc
        self.breaker.record_failure()
        spent = request_context.remaining()
        if exc.timeout and spent is not None and spent <= 2 * DEADLINE_MARGIN_SECONDS:
            raise BudgetExceeded() from exc
        raise DependencyUnavailable("mongodb", retry_after=self.breaker.retry_after()) from exc


class MongoCall:
    """One ``MongoGateway.call``. A class rather than a ``@contextmanager`` generator: a chat turn makes five
    or six calls, and the generator's machinery cost more than the rest of the guard."""

    __slots__ = ("gateway", "bound")

    def __init__(self, gateway: MongoGateway, bound: AbstractContextManager[object] | None) -> None:
        self.gateway, self.bound = gateway, bound

    def __enter__(self) -> Database:
        if self.bound is not None:
            self.bound.__enter__()
        return self.gateway.db

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self.bound is not None:
            self.bound.__exit__(exc_type, exc, traceback)
        if exc is None:
            self.gateway.breaker.record_success()
        elif isinstance(exc, PyMongoError):
            self.gateway.settle(exc)
