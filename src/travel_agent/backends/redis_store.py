"""The optional Redis of a worker: a bounded blocking pool, deadline-aware sockets, and calls that fall back."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from queue import LifoQueue
from typing import Any, TypeVar

import redis
from redis.backoff import ExponentialWithJitterBackoff, NoBackoff
from redis.connection import parse_url
from redis.exceptions import RedisError
from redis.retry import Retry
from redis.sentinel import Sentinel, SentinelConnectionPool, SentinelManagedConnection, SentinelManagedSSLConnection

from travel_agent import request_context
from travel_agent.backends.failures import connection_reason
from travel_agent.config import Settings
from travel_agent.errors import BudgetExceeded
from travel_agent.resilience.breaker import CircuitBreaker

log = logging.getLogger("travel_agent.redis")

T = TypeVar("T")
DEADLINE_MARGIN_SECONDS = 0.1
# Each sentinel gets at most this long to name the primary; they sit near the service, so more means trouble.
SENTINEL_TIMEOUT_SECONDS = 0.5
CACHE_BUDGET_SHARE = 0.5


class _DeadlineMixin:
    """Caps each command's socket timeouts at half of what remains of the request's budget.

    Half, because Redis is a cache: a frozen Redis must leave the request enough time to do its real work
    from MongoDB and answer, degraded, instead of spending the whole budget waiting for the cache (the retry
    then gets half of what is left again). redis-py has no per-call timeout, but a pooled connection belongs
    to one greenlet while a command runs, so adjusting that connection's timeouts just before sending is
    safe. Outside a request the configured timeouts apply unchanged.
    """

    socket_timeout: float | None
    socket_connect_timeout: float | None
    _sock: Any

    def _configured(self) -> tuple[float | None, float | None]:
        if not hasattr(self, "_configured_timeouts"):
            self._configured_timeouts = (self.socket_timeout, self.socket_connect_timeout)
        return self._configured_timeouts

    def _apply_deadline(self) -> None:
        read_timeout, connect_timeout = self._configured()
        left = request_context.remaining()
        if left is not None:
            if left <= DEADLINE_MARGIN_SECONDS:
                raise BudgetExceeded()
            left = (left - DEADLINE_MARGIN_SECONDS) * CACHE_BUDGET_SHARE
            read_timeout = left if read_timeout is None else min(read_timeout, left)
            connect_timeout = left if connect_timeout is None else min(connect_timeout, left)
        self.socket_timeout, self.socket_connect_timeout = read_timeout, connect_timeout
        if self._sock is not None:
            self._sock.settimeout(read_timeout)

    def connect(self) -> None:
        self._apply_deadline()
        super().connect()  # type: ignore[misc]

    def send_command(self, *args: Any, **kwargs: Any) -> None:
        self._apply_deadline()
        super().send_command(*args, **kwargs)  # type: ignore[misc]


class DeadlineConnection(_DeadlineMixin, redis.Connection):
    pass


class DeadlineSSLConnection(_DeadlineMixin, redis.SSLConnection):
    pass


class DeadlineSentinelConnection(_DeadlineMixin, SentinelManagedConnection):
    pass


class DeadlineSentinelSSLConnection(_DeadlineMixin, SentinelManagedSSLConnection):
    pass


class SentinelBlockingPool(SentinelConnectionPool, redis.BlockingConnectionPool):
    """redis-py's Sentinel pool (the primary's address asked of the sentinels at each connect, connections to a
    demoted primary dropped) with the BlockingConnectionPool's bounds: at most ``max_connections``, a caller
    waits ``timeout`` for a free one. The two compose through their documented constructors: the Sentinel
    pool passes its remaining arguments on to the blocking pool."""


class DeadlineQueue(LifoQueue):
    """The pool's queue of free connections, waited on for at most half of what remains of the request's
    budget (as each command is, above), so a request late in its budget does not wait the whole
    ``REDIS_POOL_TIMEOUT_SECONDS`` for a connection only to find its time gone. The pool takes this class
    through its documented ``queue_class`` parameter, so no redis-py internals are touched."""

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        left = request_context.remaining()
        if block and left is not None:
            cap = max(0.0, left / 2)
            timeout = cap if timeout is None else min(timeout, cap)
        return super().get(block, timeout)


def _sentinel(settings: Settings) -> Sentinel:
    # The sentinels are asked for the primary's address at every new connection, inside requests: a frozen
    # sentinel must cost a request little, and the next one is tried. They are reached without TLS or password.
    lookup_timeout = min(settings.redis_connect_timeout_seconds, SENTINEL_TIMEOUT_SECONDS)
    return Sentinel(
        list(settings.redis_sentinel_list),
        socket_timeout=lookup_timeout,
        sentinel_kwargs={
            "socket_timeout": lookup_timeout,
            "socket_connect_timeout": lookup_timeout,
            "retry": Retry(NoBackoff(), 0),
        },
    )


def primary_options(settings: Settings) -> dict[str, Any]:
    """Password, database and TLS options of REDIS_URL (its host is the sentinels' to name), if it is set."""
    if not settings.redis_url:
        return {}
    options = parse_url(settings.redis_url)
    for name in ("host", "port", "path", "connection_class"):
        options.pop(name, None)
    return options


def _sentinel_pool(
    settings: Settings,
    pool_class: type[SentinelConnectionPool],
    classes: tuple[type[redis.Connection], type[redis.Connection]],
    **options: Any,
) -> redis.Redis:
    """A client of the primary the sentinels name; ``classes`` are the (plain, TLS) connection classes."""
    tls = bool(settings.redis_url and settings.redis_url.startswith("rediss:"))
    pool = pool_class(
        settings.redis_sentinel_master,
        _sentinel(settings),
        connection_class=classes[tls],
        **(primary_options(settings) | options),
    )
    return redis.Redis(connection_pool=pool)


def create_pool(settings: Settings) -> redis.ConnectionPool:
    """Every setting on the pool: a client given a pool ignores its own retry and timeouts."""
    common = pool_options(settings)
    if settings.redis_sentinels:
        classes = (DeadlineSentinelConnection, DeadlineSentinelSSLConnection)
        return _sentinel_pool(
            settings, SentinelBlockingPool, classes, queue_class=DeadlineQueue, **common
        ).connection_pool
    assert settings.redis_url
    connection_class = DeadlineSSLConnection if settings.redis_url.startswith("rediss:") else DeadlineConnection
    return redis.BlockingConnectionPool.from_url(
        settings.redis_url, connection_class=connection_class, queue_class=DeadlineQueue, **common
    )


def pool_options(settings: Settings) -> dict[str, Any]:
    return dict(
        max_connections=settings.redis_max_connections,
        timeout=settings.redis_pool_timeout_seconds,
        socket_timeout=settings.redis_socket_timeout_seconds,
        socket_connect_timeout=settings.redis_connect_timeout_seconds,
        socket_keepalive=True,
        health_check_interval=settings.redis_health_check_interval_seconds,
        # base and cap by keyword: the positional order is (cap, base). Only a connection error is retried
        # (an idle connection the server dropped); a timeout is not: a frozen Redis would make every cache
        # call wait for two socket timeouts, most of a chat's budget.
        retry=Retry(
            ExponentialWithJitterBackoff(base=0.05, cap=0.5),
            settings.redis_retries,
            supported_errors=(redis.ConnectionError,),
        ),
        client_name="travel_agent",
    )


def create_probe_client(settings: Settings, timeout: float) -> redis.Redis:
    """A tiny separate client for health probes: short timeouts, no retries, so a probe never queues
    behind a busy pool or multiplies a frozen server's timeout. Through Sentinel it asks for the primary at
    each connect, so after a failover /health reports the new primary."""
    if settings.redis_sentinels:
        classes = (SentinelManagedConnection, SentinelManagedSSLConnection)
        return _sentinel_pool(
            settings,
            SentinelConnectionPool,
            classes,
            max_connections=2,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
        )
    assert settings.redis_url
    pool = redis.BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=2,
        timeout=timeout,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
    )
    return redis.Redis(connection_pool=pool)


def describe_failure(exc: BaseException) -> str:
    """A reason fit for logs and /health, never redis-py's text (it names hosts)."""
    if isinstance(exc, redis.AuthenticationError | redis.exceptions.AuthorizationError):
        return "authentication failed"
    if isinstance(exc, redis.TimeoutError):
        return "timed out"
    if isinstance(exc, redis.exceptions.ClusterDownError):
        return "cluster down"
    if isinstance(exc, redis.ConnectionError) and "No connection available" in str(exc):
        return "connection pool busy"
    if isinstance(exc, redis.ConnectionError):
        return connection_reason(exc) or "unreachable"
    return type(exc).__name__


class RedisGateway:
    """Runs Redis calls that are allowed to fail: on any Redis error (or an open breaker) the caller's
    fallback value is returned and the failure is logged, so Redis trouble degrades service, never breaks it."""

    def __init__(self, client: redis.Redis, probe_client: redis.Redis, breaker: CircuitBreaker) -> None:
        self.client = client
        self.probe_client = probe_client
        self.breaker = breaker

    def ping(self) -> float:
        started = time.monotonic()
        self.probe_client.ping()
        return time.monotonic() - started

    def run(self, operation: str, call: Callable[[redis.Redis], T], fallback: T) -> T:
        if not self.breaker.allow():
            return fallback
        try:
            result = call(self.client)
        except RedisError as exc:
            reason = describe_failure(exc)
            if reason != "connection pool busy":  # a busy pool is load, not an outage
                self.breaker.record_failure()
            log.warning("Redis %s failed (%s); continuing without Redis", operation, reason)
            return fallback
        self.breaker.record_success()
        return result

    def close(self) -> None:
        for client in (self.client, self.probe_client):
            client.close()
            pool = getattr(client, "connection_pool", None)  # a cluster client closes its nodes' pools itself
            if pool is None:
                continue
            pool.disconnect()
            manager = getattr(pool, "sentinel_manager", None)
            if manager is not None:
                manager.close()  # the connections to the sentinels themselves
