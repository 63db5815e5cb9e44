"""Redis Sentinel: the service finds the primary through real sentinels; the primary is SIGKILLed under chat
load, Sentinel promotes the replica, the chat never fails and /health is healthy again on the new primary."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from tests.support.secret_scan import SecretScan

from tools.harness import ServerPool
from tools.harness.fleet import ConversationLoad, audit
from tools.harness.sentinel import SentinelServer

pytestmark = pytest.mark.slow

PASSWORD = "sentinel-pw-5e0c2b8f9a41"
# Sentinel calls a silent primary down after this; its default is 30 s.
DOWN_AFTER_MS = 1000
# What the failover may take, from SIGKILL to /health healthy on the new primary: the sentinels' 1 s of
# silence, their vote and the promotion (about 1-2 s more), then the next health refresh (HEALTH_CACHE 0.5 s).
FAILOVER_BOUND_SECONDS = 10.0


@pytest.fixture
def redis_set(make_redis: Callable[..., Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, ...]]:
    primary = make_redis(password=PASSWORD)
    replica = make_redis(password=PASSWORD, args=["--replicaof", "127.0.0.1", str(primary.port)])
    with ServerPool(tmp_path_factory.mktemp) as pool:
        sentinels = [pool.sentinel(primary.port, down_after_ms=DOWN_AFTER_MS, password=PASSWORD) for _ in range(3)]
        yield primary, replica, sentinels


def wait_for_topology(sentinels: list[SentinelServer], wait_until: Callable[..., Any]) -> None:
    wait_until(
        lambda: all(s.knows_replicas() == 1 and s.knows_sentinels() == 2 for s in sentinels),
        20,
        interval=0.2,
        message="the sentinels never learned the replica and each other",
    )


def test_primary_killed_under_load_fails_over_without_a_failed_chat(
    redis_set: tuple[Any, ...],
    make_mongo: Callable[..., Any],
    make_gunicorn: Callable[..., Any],
    wait_until: Callable[..., Any],
) -> None:
    primary, replica, sentinels = redis_set
    wait_for_topology(sentinels, wait_until)
    mongo = make_mongo()
    service = make_gunicorn(
        mongo_uri=mongo.uri,
        redis_url=f"redis://:{PASSWORD}@sentinel/0",
        workers=2,
        env={
            "REDIS_SENTINELS": ",".join(s.address for s in sentinels),
            "REDIS_SENTINEL_MASTER": "mymaster",
            "RATE_LIMIT": "100000/minute",
            "HEALTH_CACHE_SECONDS": "0.5",
        },
    )
    health = requests.get(service.base_url + "/health", timeout=5).json()
    assert health["checks"]["redis"]["status"] == "healthy", health
    load = ConversationLoad(service.base_url, clients=4).start()
    wait_until(lambda: load.stats.answered >= 10, 20, message="no chat load")
    assert primary.client().keys("travel_agent:ratelimit:*")  # the counters live in the primary

    killed_at = time.monotonic()
    primary.kill()
    promoted = wait_until(
        lambda: all(s.primary_port() == replica.port for s in sentinels),
        30,
        interval=0.05,
        message="Sentinel never promoted the replica",
    )
    promoted_after = time.monotonic() - killed_at
    wait_until(
        lambda: requests.get(service.base_url + "/health", timeout=5).json()["checks"]["redis"]["status"] == "healthy",
        30,
        interval=0.05,
        message="/health never saw Redis healthy again",
    )
    healthy_after = time.monotonic() - killed_at
    replica.client().delete(*replica.client().keys("travel_agent:ratelimit:*") or ["none"])
    answered = load.stats.answered
    wait_until(lambda: load.stats.answered >= answered + 10, 20, message="no chat after the failover")
    # Each worker's Redis circuit closes on its own background probe: /health above spoke for one worker, so
    # the counters come back within a few probes, not necessarily within those ten turns (seen at load 4 to 5).
    wait_until(
        lambda: replica.client().keys("travel_agent:ratelimit:*"),
        15,
        interval=0.1,
        message="rate-limit counters never went back to Redis",
    )
    stats = load.stop()
    found = audit(mongo, stats)
    assert found.lost == [] and found.duplicated == [], found
    assert promoted
    assert stats.retried == 0 and stats.gave_up == 0, stats  # Redis is optional: no turn ever failed
    assert set(stats.statuses) == {"200"}, stats.statuses
    assert healthy_after < FAILOVER_BOUND_SECONDS, healthy_after
    print(
        f"\nsentinel failover: promoted {promoted_after:.2f} s after SIGKILL, /health healthy on the new primary "
        f"{healthy_after:.2f} s after; chat requests {stats.requests}, answered {stats.answered}, "
        f"retried {stats.retried}"
    )
    scan = SecretScan()
    scan.secret(PASSWORD)
    scan.watch(service, *sentinels, primary, replica)
    scan.bodies.append(str(health))
    scan.assert_clean()
