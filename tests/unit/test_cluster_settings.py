"""REDIS_CLUSTER_NODES: validated, and the client it builds keeps the plain Redis's bounds; with no node
answering, the client is still built (a worker boots) and each call is a Redis failure with its fallback."""

from __future__ import annotations

import time

import pytest
import redis

from tools.harness import free_port
from travel_agent.backends.redis_cluster import ClusterUnavailable, LazyCluster, create_cluster_client
from travel_agent.backends.redis_store import RedisGateway, describe_failure
from travel_agent.config import ConfigError, Settings
from travel_agent.resilience.breaker import CircuitBreaker


def test_cluster_nodes_enable_redis_and_parse() -> None:
    settings = Settings.from_env({"REDIS_CLUSTER_NODES": "10.0.0.1:7000, redis-b:7001"})
    assert settings.redis_enabled
    assert settings.redis_cluster_node_list == (("10.0.0.1", 7000), ("redis-b", 7001))
    # REDIS_URL's password and TLS may come along; its database must be 0.
    Settings.from_env({"REDIS_CLUSTER_NODES": "h:7000", "REDIS_URL": "rediss://:pw-0123@ignored:6379/0"})


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"REDIS_CLUSTER_NODES": "10.0.0.1"}, "REDIS_CLUSTER_NODES"),
        ({"REDIS_CLUSTER_NODES": "h:0"}, "REDIS_CLUSTER_NODES"),
        ({"REDIS_CLUSTER_NODES": "h:70000"}, "REDIS_CLUSTER_NODES"),
        ({"REDIS_CLUSTER_NODES": " , "}, "REDIS_CLUSTER_NODES"),
        ({"REDIS_SENTINELS": "h:26379"}, "REDIS_CLUSTER_NODES: cannot be combined with REDIS_SENTINELS"),
        ({"REDIS_URL": "redis://h:6379/2"}, "REDIS_URL: a Redis Cluster has only database 0"),
        ({"REDIS_URL": "redis://h:6379?db=3"}, "REDIS_URL: a Redis Cluster has only database 0"),
        ({"REDIS_URL": "unix:///run/redis.sock"}, "REDIS_URL: a unix socket cannot be combined"),
    ],
)
def test_bad_cluster_settings_are_named(extra: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        Settings.from_env({"REDIS_CLUSTER_NODES": "h:7000"} | extra)


def test_with_no_node_answering_each_call_falls_back_fast_and_counts_against_the_breaker() -> None:
    # Ports nothing listens on: connections are refused at once (real sockets, no stand-in).
    nodes = f"127.0.0.1:{free_port()},127.0.0.1:{free_port()}"
    client = create_cluster_client(Settings.from_env({"REDIS_CLUSTER_NODES": nodes}))  # no I/O yet
    assert isinstance(client, LazyCluster)
    started = time.monotonic()
    with pytest.raises(ClusterUnavailable) as raised:
        client.get("chat:context:{x}")
    assert time.monotonic() - started < 2.0
    assert isinstance(raised.value, redis.RedisError)  # what every caller's except and the health probe catch
    assert "127.0.0.1" not in str(raised.value)  # no addresses in what reaches logs and /health
    assert describe_failure(raised.value) == "connection refused"  # in words, as for a plain Redis
    breaker = CircuitBreaker("redis", 2, 60.0)
    gateway = RedisGateway(client, client, breaker)
    assert gateway.run("get context", lambda r: r.get("k"), fallback="fallback") == "fallback"
    assert gateway.run("get context", lambda r: r.get("k"), fallback="fallback") == "fallback"
    assert not breaker.allow(), "two failures opened the circuit"
    gateway.close()  # closing a client that was never built does not try to build it
