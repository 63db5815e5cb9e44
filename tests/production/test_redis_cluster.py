"""Redis Cluster: two instances given REDIS_CLUSTER_NODES of a real three-primary cluster of redis-server share
rate limits and the context cache through it; a primary SIGKILLed makes the service degraded, never broken,
and it recovers by itself when the primary is back."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
from redis.crc import key_slot
from tests.support.chat import SEND

from tools.harness import free_port
from tools.harness.redis_cluster import RedisCluster
from tools.harness.tls import CertificateAuthority
from tools.harness.upstream import UpstreamServer
from travel_agent.backends.redis_cluster import LazyCluster, create_cluster_client
from travel_agent.backends.redis_store import (
    DeadlineConnection,
    DeadlineQueue,
    DeadlineSSLConnection,
    describe_failure,
)
from travel_agent.chat.context_cache import key as context_key
from travel_agent.config import Settings
from travel_agent.web.rate_limit import KEY_PREFIX

pytestmark = pytest.mark.slow

LIMITED_KEY = "key-cluster-limited-0123456789"
PASSWORD = "cluster-pw-" + "7c1e9a2b5d"
OTHER_KEY = "key-cluster-other-0123456789ab"
# From SIGKILL of a primary to /health degraded: the health cache (0.5 s) and one probe of every primary.
DEGRADED_BOUND_SECONDS = 5.0
# From the primary's restart to /health healthy: the cluster's own agreement (node timeout 1 s, gossip), then
# the breaker's background probe (BREAKER_RESET_SECONDS 1) and the health cache.
RECOVERY_BOUND_SECONDS = 15.0


@pytest.fixture
def cluster(make_redis: Callable[..., Any]) -> RedisCluster:
    return RedisCluster(make_redis)


def service_env(cluster: RedisCluster, upstream: UpstreamServer, **extra: str) -> dict[str, str | None]:
    return {
        "REDIS_URL": None,
        "REDIS_CLUSTER_NODES": cluster.addresses,
        "AGENT_PROVIDER": "openai",
        "OPENAI_BASE_URL": upstream.base_url,
        "OPENAI_API_KEY": "sk-cluster-" + "0123456789abcdef",
        "HEALTH_CACHE_SECONDS": "0.5",
        **extra,
    }


def health(base_url: str) -> dict[str, Any]:
    return requests.get(base_url + "/health", timeout=10).json()


def test_every_nodes_pool_is_bounded_and_deadline_aware_as_for_a_plain_redis(cluster: RedisCluster) -> None:
    first, *_ = cluster.addresses.split(",")
    settings = Settings.from_env(
        {"REDIS_CLUSTER_NODES": first, "REDIS_MAX_CONNECTIONS": "7", "REDIS_POOL_TIMEOUT_SECONDS": "0.5"}
    )
    client = create_cluster_client(settings)
    assert isinstance(client, LazyCluster)
    try:
        assert client.set("k", "v") and client.get("k") == b"v"
        nodes = client.cluster().get_nodes()
        assert len(nodes) == 3, "the other primaries were discovered from one"
        for node in nodes:
            pool = node.redis_connection.connection_pool
            assert isinstance(pool, redis.BlockingConnectionPool)
            assert (pool.max_connections, pool.timeout) == (7, 0.5)
            assert (pool.connection_class, pool.queue_class) == (DeadlineConnection, DeadlineQueue)
            assert pool.connection_kwargs["socket_timeout"] == settings.redis_socket_timeout_seconds
        assert client.cluster().retry.get_retries() == settings.redis_retries
    finally:
        client.close()


def test_the_password_comes_from_redis_url_and_never_shows(make_redis: Callable[..., Any]) -> None:
    cluster = RedisCluster(make_redis, password=PASSWORD)
    nodes = cluster.addresses
    right = create_cluster_client(
        Settings.from_env({"REDIS_CLUSTER_NODES": nodes, "REDIS_URL": f"redis://:{PASSWORD}@ignored:6379/0"})
    )
    wrong = create_cluster_client(
        Settings.from_env({"REDIS_CLUSTER_NODES": nodes, "REDIS_URL": "redis://:not-the-password@ignored:6379/0"})
    )
    try:
        assert right.set("k", "v") and right.ping()
        with pytest.raises(redis.RedisError) as refused:
            wrong.get("k")
        assert PASSWORD not in str(refused.value) and "not-the-password" not in str(refused.value)
        assert describe_failure(refused.value) == "authentication failed", refused.value
    finally:
        right.close()
        wrong.close()


def test_rediss_from_redis_url_reaches_a_tls_only_cluster(make_redis: Callable[..., Any], tmp_path: Path) -> None:
    ca = CertificateAuthority(tmp_path / "ca")
    cluster = RedisCluster(make_redis, password=PASSWORD, tls=ca.server("redis"), ca_file=ca.cert)
    url = f"rediss://:{PASSWORD}@ignored:6379/0?ssl_ca_certs={ca.cert}"
    client = create_cluster_client(Settings.from_env({"REDIS_CLUSTER_NODES": cluster.addresses, "REDIS_URL": url}))
    other = CertificateAuthority(tmp_path / "other-ca")
    untrusted = f"rediss://:{PASSWORD}@ignored:6379/0?ssl_ca_certs={other.cert}"
    refused = create_cluster_client(
        Settings.from_env({"REDIS_CLUSTER_NODES": cluster.addresses, "REDIS_URL": untrusted})
    )
    try:
        assert client.set("k", "v") and client.get("k") == b"v" and client.ping()
        pools = [n.redis_connection.connection_pool for n in client.cluster().get_nodes()]
        assert {p.connection_class for p in pools} == {DeadlineSSLConnection}
        with pytest.raises(redis.RedisError) as failed:
            refused.get("k")
        assert describe_failure(failed.value) == "certificate not trusted", failed.value
    finally:
        client.close()
        refused.close()


def test_a_frozen_primary_costs_a_call_one_timeout(cluster: RedisCluster) -> None:
    settings = Settings.from_env({"REDIS_CLUSTER_NODES": cluster.addresses, "REDIS_SOCKET_TIMEOUT_SECONDS": "1"})
    client = create_cluster_client(settings)
    try:
        assert client.set("frozen-key", "v")
        victim = cluster.node_for("frozen-key")
        victim.freeze()
        started = time.monotonic()
        with pytest.raises(redis.TimeoutError):
            client.get("frozen-key")
        took = time.monotonic() - started
        # One socket timeout (1 s), not redis-py's default of a retry after a slot-map refresh (2 s and more).
        assert 0.9 < took < 1.8, took
        victim.thaw()
        assert client.get("frozen-key") == b"v"
    finally:
        client.close()


def test_the_service_boots_with_no_cluster_node_answering_and_chats_degraded(
    make_mongo: Callable[..., Any], make_gunicorn: Callable[..., Any], upstream: UpstreamServer
) -> None:
    nodes = f"127.0.0.1:{free_port()},127.0.0.1:{free_port()}"  # nothing listens there
    service = make_gunicorn(
        mongo_uri=make_mongo().uri,
        env={
            "REDIS_URL": None,
            "REDIS_CLUSTER_NODES": nodes,
            "AGENT_PROVIDER": "openai",
            "OPENAI_BASE_URL": upstream.base_url,
            "OPENAI_API_KEY": "sk-cluster-" + "0123456789abcdef",
            "RATE_LIMIT": "100/minute",
        },
    )
    report = health(service.base_url)
    assert report["status"] == "degraded", report
    redis_check = report["checks"]["redis"]
    assert (redis_check["status"], redis_check["message"]) == ("unavailable", "Check failed: connection refused")
    started = time.monotonic()
    turn = requests.post(service.base_url + SEND, json={"message": "Rome for a weekend"}, timeout=30)
    assert turn.status_code == 200, turn.text
    assert time.monotonic() - started < 3.0
    assert "Traceback" not in service.log_text()


def test_two_instances_share_rate_limits_and_the_context_cache_through_the_cluster(
    cluster: RedisCluster,
    make_mongo: Callable[..., Any],
    make_gunicorn: Callable[..., Any],
    upstream: UpstreamServer,
) -> None:
    mongo = make_mongo()
    env = service_env(cluster, upstream, RATE_LIMIT="10/minute", API_KEYS=f"{LIMITED_KEY},{OTHER_KEY}")
    instances = [make_gunicorn(mongo_uri=mongo.uri, env=env) for _ in range(2)]
    report = health(instances[0].base_url)
    assert report["status"] == "healthy" and report["checks"]["redis"]["status"] == "healthy", report

    limited = {"Authorization": f"Bearer {LIMITED_KEY}"}
    statuses = [
        requests.get(
            instances[i % 2].base_url + "/api/chat/sessions/0123456789abcdef01234567", headers=limited, timeout=10
        ).status_code
        for i in range(24)
    ]
    assert statuses.count(429) == 14, statuses  # one window of 10 across both instances
    assert cluster.keys(KEY_PREFIX + "*"), "the counters live in the cluster"

    other = {"Authorization": f"Bearer {OTHER_KEY}"}
    first = requests.post(instances[0].base_url + SEND, json={"message": "Kyoto in April"}, headers=other, timeout=30)
    assert first.status_code == 200, first.text
    session_id = first.json()["session_id"]
    with cluster.client() as client:
        raw = client.get(context_key(session_id))
        assert raw is not None, "the turn's context was cached in the cluster"
        # The hash tag: the session's key hashes as the session id alone, so all its keys share one slot.
        assert key_slot(context_key(session_id).encode()) == key_slot(session_id.encode())
        # A text planted in the cached entry reaches the model from the other instance: it read the cluster.
        entry = json.loads(raw)
        entry["messages"][0]["content"] = "Kyoto in April (planted in the cluster)"
        client.set(context_key(session_id), json.dumps(entry))
    second = requests.post(
        instances[1].base_url + SEND,
        json={"message": "for 5 days", "session_id": session_id},
        headers=other,
        timeout=30,
    )
    assert second.status_code == 200, second.text
    sent = [m["content"] for m in upstream.requests[-1]["json"]["messages"]]
    assert "Kyoto in April (planted in the cluster)" in sent, sent


def test_a_primary_killed_means_degraded_then_recovered(
    cluster: RedisCluster,
    make_mongo: Callable[..., Any],
    make_gunicorn: Callable[..., Any],
    upstream: UpstreamServer,
    wait_until: Callable[..., Any],
) -> None:
    mongo = make_mongo()
    env = service_env(cluster, upstream, RATE_LIMIT="1000/minute")
    service = make_gunicorn(mongo_uri=mongo.uri, workers=1, env=env)
    first = requests.post(service.base_url + SEND, json={"message": "Oslo for a weekend"}, timeout=30)
    assert first.status_code == 200, first.text
    session_id = first.json()["session_id"]
    victim = cluster.node_for(context_key(session_id))

    killed_at = time.monotonic()
    victim.kill()
    wait_until(
        lambda: health(service.base_url)["status"] == "degraded",
        DEGRADED_BOUND_SECONDS * 2,
        interval=0.1,
        message=lambda: f"/health never said degraded: {health(service.base_url)}",
    )
    degraded_after = time.monotonic() - killed_at
    report = health(service.base_url)
    assert report["checks"]["redis"]["status"] == "unavailable", report
    assert report["checks"]["mongodb"]["status"] == "healthy", report
    # Chat goes on from MongoDB alone, on time, with the context intact (the model sees every turn).
    for turn in range(4):
        started = time.monotonic()
        answer = requests.post(
            service.base_url + SEND, json={"message": f"and day {turn}", "session_id": session_id}, timeout=30
        )
        took = time.monotonic() - started
        assert answer.status_code == 200, answer.text
        assert took < 5.0, f"a turn with a primary down took {took:.2f}s"
    sent = [m["content"] for m in upstream.requests[-1]["json"]["messages"]]
    assert sent[1:3] == ["Oslo for a weekend", "echo: Oslo for a weekend"] and sent[-1] == "and day 3", sent

    restarted_at = time.monotonic()
    victim.start()
    cluster.wait_ok()
    wait_until(
        lambda: health(service.base_url)["status"] == "healthy",
        RECOVERY_BOUND_SECONDS,
        interval=0.1,
        message=lambda: f"/health never healthy again: {health(service.base_url)}",
    )
    recovered_after = time.monotonic() - restarted_at
    # The restarted primary lost its data (no persistence): the next turn caches the context there again.
    assert requests.post(
        service.base_url + SEND, json={"message": "back again", "session_id": session_id}, timeout=30
    ).ok
    with cluster.client() as client:
        wait_until(lambda: client.get(context_key(session_id)), 10, message="the context never cached again")
    assert cluster.keys(KEY_PREFIX + "*"), "rate limits counted in the cluster again"
    assert degraded_after < DEGRADED_BOUND_SECONDS, degraded_after
    print(
        f"\nredis cluster: /health degraded {degraded_after:.2f} s after a primary's SIGKILL, healthy "
        f"{recovered_after:.2f} s after its restart"
    )
