"""Redis Cluster (``REDIS_CLUSTER_NODES``): redis-py's ``RedisCluster`` with the pool, deadlines and retries of a
plain Redis, built lazily so that a worker boots with the cluster down.

What redis-py 8.1 gives and how it is used (read from its ``redis/cluster.py``):

* ``RedisCluster`` keeps one connection pool per node. Its ``connection_pool_class`` is honoured only when the
  client is made from a ``url`` (otherwise each node gets a plain, unbounded ``ConnectionPool``), so the first
  configured node is passed as ``url`` and the others as ``startup_nodes``: every node's pool is then a
  ``BlockingConnectionPool`` of ``REDIS_MAX_CONNECTIONS`` with the ``DeadlineQueue`` and the deadline-aware
  connection classes of ``redis_store``, exactly as for a plain Redis.
* A ``retry`` object passed to ``RedisCluster`` only sets how many times a command is re-run after one of
  ``ERRORS_ALLOW_RETRY`` (each time after refreshing the slot map); its backoff is not used, and ``retry``
  may not be given per node (redis-py refuses it). ``REDIS_RETRIES`` is that count. redis-py retries a
  timeout too; ``_Cluster`` does not, as for a plain Redis: a frozen node costs each call one timeout.
* ``health_check_interval`` is not among the options it passes to the nodes' pools, so it does not apply here:
  a connection the server dropped fails once and the command is re-run on a fresh one (the retry above).
* Its constructor reads the slot map from a node (network I/O), and ``RedisClusterException``, which some of
  its failures raise, is not a ``RedisError``: hence ``LazyCluster`` below.
"""

from __future__ import annotations

import threading
from typing import Any, cast

import redis
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, ClusterPipeline, RedisCluster
from redis.exceptions import RedisClusterException
from redis.retry import Retry

from travel_agent.backends.redis_store import (
    DeadlineConnection,
    DeadlineQueue,
    DeadlineSSLConnection,
    pool_options,
    primary_options,
)
from travel_agent.config import Settings


class _Cluster(RedisCluster):
    """RedisCluster without the retry of a timeout: a frozen primary would otherwise cost each call two socket
    timeouts (and a slot-map refresh between them). A connection error (a node restarted, an idle connection
    dropped), CLUSTERDOWN during a failover and a slot not covered are still retried."""

    # redis-py's stubs type the tuple as exactly its four classes; a shorter one is what this class is for.
    ERRORS_ALLOW_RETRY = tuple(  # type: ignore[assignment]
        e for e in RedisCluster.ERRORS_ALLOW_RETRY if e is not redis.TimeoutError
    )


class ClusterUnavailable(redis.ConnectionError):
    """What redis-py raises as a ``RedisClusterException`` (no node reachable, a slot not covered), which is no
    ``RedisError``, as one, so that every caller's ``except RedisError`` and fallback applies. Raised from the
    original: its text names hosts and ports, so it stays out of this message, and
    ``failures.connection_reason`` reads the chain for why (authentication, TLS, refused), shown in words on
    /health and in the logs as for a plain Redis."""

    def __init__(self) -> None:
        super().__init__("Redis Cluster unavailable: no node answered with a usable slot map")


class LazyCluster:
    """Stands for a ``RedisCluster`` that is built at its first use and then reused.

    Built at first use, not at worker start: the constructor asks the nodes for the slot map and raises when
    none answers, and a worker must boot with Redis down. Until one build succeeds every use raises
    ``ClusterUnavailable`` (within the request's deadline: the connections are the deadline-aware ones), so
    the gateway falls back and its breaker counts the failure. Attribute access is forwarded so that the
    gateway's calls (``get``, ``set``, ``pipeline`` ...) read as they do for a plain Redis."""

    # No single pool: the gateway's close() looks for one and must not build a cluster to find out.
    connection_pool = None

    def __init__(self, build: Any) -> None:
        self._build = build
        self._client: RedisCluster | None = None
        self._lock = threading.Lock()  # one build at a time (a gevent lock under the patched worker)

    def cluster(self) -> RedisCluster:
        client = self._client
        if client is not None:
            return client
        with self._lock:
            if self._client is None:
                try:
                    self._client = self._build()
                except RedisClusterException as exc:
                    raise ClusterUnavailable() from exc
            return self._client

    def __getattr__(self, name: str) -> Any:
        return _translating(getattr(self.cluster(), name))

    def ping(self) -> bool:
        """Every primary answers (PING alone goes to one node): a primary down is Redis unavailable."""
        return bool(_translating(self.cluster().ping)(target_nodes=RedisCluster.PRIMARIES))

    def close(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        nodes = client.get_nodes()
        client.close()
        # A node made from a URL gets Redis(connection_pool=...), whose close() leaves the pool open.
        for node in nodes:
            if node.redis_connection is not None:
                node.redis_connection.connection_pool.disconnect()


def _translating(attribute: Any) -> Any:
    """``attribute`` itself, or, if callable, a function raising ``ClusterUnavailable`` for what redis-py raises
    as a ``RedisClusterException`` (a slot not covered, no node reachable)."""
    if not callable(attribute):
        return attribute

    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            result = attribute(*args, **kwargs)
        except RedisClusterException as exc:
            raise ClusterUnavailable() from exc
        # A pipeline raises at execute(): wrap it too.
        return _Pipeline(result) if isinstance(result, ClusterPipeline) else result

    return call


class _Pipeline:
    def __init__(self, pipe: Any) -> None:
        self._pipe = pipe

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._pipe, name)
        return _translating(attribute) if name == "execute" else attribute


def _nodes(settings: Settings) -> tuple[str, list[ClusterNode]]:
    (first_host, first_port), *others = settings.redis_cluster_node_list
    return f"redis://{first_host}:{first_port}", [ClusterNode(host, port) for host, port in others]


def _tls(settings: Settings) -> bool:
    return bool(settings.redis_url and settings.redis_url.startswith("rediss:"))


def create_cluster_client(settings: Settings) -> redis.Redis:
    """The chat's client: every node's pool bounded and deadline-aware, as ``redis_store.create_pool`` makes
    for a plain Redis, with REDIS_URL's password and TLS options (its host ignored)."""
    options = pool_options(settings)
    retries = options.pop("retry").get_retries()
    options.pop("health_check_interval")  # not passed on by RedisCluster (see the module's notes)
    credentials = primary_options(settings)
    credentials.pop("db", None)  # 0, checked by config

    def build() -> RedisCluster:
        url, others = _nodes(settings)
        return _Cluster(
            url=url,
            startup_nodes=others,
            connection_pool_class=redis.BlockingConnectionPool,
            connection_class=DeadlineSSLConnection if _tls(settings) else DeadlineConnection,
            queue_class=DeadlineQueue,
            retry=Retry(NoBackoff(), retries),  # only its count is used
            **(credentials | options),
        )

    return cast(redis.Redis, LazyCluster(build))


def create_cluster_probe_client(settings: Settings, timeout: float) -> redis.Redis:
    """The health probe's client: two connections per node, short timeouts, no retries."""
    credentials = primary_options(settings)
    credentials.pop("db", None)

    def build() -> RedisCluster:
        url, others = _nodes(settings)
        return RedisCluster(
            url=url,
            startup_nodes=others,
            connection_pool_class=redis.BlockingConnectionPool,
            connection_class=redis.SSLConnection if _tls(settings) else redis.Connection,
            max_connections=2,
            timeout=timeout,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
            **credentials,
        )

    return cast(redis.Redis, LazyCluster(build))
