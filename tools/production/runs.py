"""The three long runs: each builds its servers in a temporary directory and tears them down."""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import count
from pathlib import Path
from typing import Any

import redis
import requests

from tools.harness import ServerPool, wait_until
from tools.harness.fleet import ConversationLoad, Fleet, audit
from tools.harness.upstream import UpstreamServer

Figures = dict[str, object]


@contextmanager
def servers() -> Iterator[tuple[ServerPool, UpstreamServer]]:
    root = Path(tempfile.mkdtemp(prefix="production-"))
    numbers = count()

    def mktemp(name: str) -> Path:
        path = root / f"{name}{next(numbers)}"
        path.mkdir()
        return path

    with UpstreamServer() as upstream, ServerPool(mktemp) as pool:
        yield pool, upstream


def agent_env(upstream: UpstreamServer) -> dict[str, str]:
    return {
        "AGENT_PROVIDER": "openai",
        "OPENAI_BASE_URL": upstream.base_url,
        "OPENAI_API_KEY": "sk-production-run",
        "HEALTH_CACHE_SECONDS": "0.5",
    }


def rolling_restarts(minutes: float, clients: int) -> tuple[Figures, list[str]]:
    """Rolling restarts of two instances (two workers each) behind HAProxy, back to back, for ``minutes``."""
    with servers() as (pool, upstream):
        upstream.configure(delay=0.3)
        fleet = Fleet(pool.mongo(), pool.redis(), pool.gunicorn, pool.router, env=agent_env(upstream))
        load = ConversationLoad(fleet.url, clients=clients, patience=90).start()
        wait_until(lambda: load.stats.answered >= 20, 30, message="no load")
        records = []
        ends = time.monotonic() + minutes * 60
        while time.monotonic() < ends:
            records += fleet.rolling_restart()
        stats = load.stop()
        found = audit(fleet.mongo, stats)
        assert fleet.router is not None
        routed = fleet.router.routed()
    late = 0
    served_while_draining = 0
    not_answered = 0
    for record in records:
        to_it = [r for r in routed if r.server == record.instance and record.sigterm_at < r.at < record.ready_at]
        served_while_draining += len(to_it)
        not_answered += sum(1 for r in to_it if r.status != 200)
        late += sum(1 for r in to_it if r.at > record.router_down_at + 0.01)
    gaps = sorted(record.router_gap * 1000 for record in records)
    restarts = [(record.router_up_at - record.sigterm_at) * 1000 for record in records]
    figures: Figures = {
        "minutes": minutes,
        "instance restarts": len(records),
        "turns": stats.turns_started,
        "requests": stats.requests,
        "answered": stats.answered,
        "retried": stats.retried,
        "replayed": stats.replayed,
        "gave up": stats.gave_up,
        "lost": len(found.lost),
        "duplicated": len(found.duplicated),
        "statuses": dict(stats.statuses),
        "drain gap ms (SIGTERM -> router DOWN) median/max": f"{statistics.median(gaps):.0f}/{max(gaps):.0f}",
        "requests routed to a draining instance before the router noticed": served_while_draining,
        "... of which not answered 200": not_answered,
        "requests routed to an instance after the router marked it DOWN": late,
        "restart ms (SIGTERM -> back UP) median": f"{statistics.median(restarts):.0f}",
    }
    broken = [f"{name}: {figures[name]}" for name in ("gave up", "lost", "duplicated") if figures[name]]
    if not_answered:
        broken.append(f"{not_answered} request(s) routed to a draining instance were not answered 200")
    if late:
        broken.append(f"{late} request(s) routed to an instance the router had marked DOWN")
    return figures, broken


PASSWORD = "production-sentinel-pw-7c1d"


def sentinel_failovers(failovers: int, clients: int) -> tuple[Figures, list[str]]:
    """SIGKILL the Redis primary ``failovers`` times in a row under chat load; the old primary comes back as a
    replica each time (Sentinel reconfigures it)."""
    with servers() as (pool, upstream):
        upstream.configure(delay=0.1)
        primary = pool.redis(password=PASSWORD)
        replica = pool.redis(password=PASSWORD, args=["--replicaof", "127.0.0.1", str(primary.port)])
        sentinels = [pool.sentinel(primary.port, password=PASSWORD) for _ in range(3)]
        wait_until(
            lambda: all(s.knows_replicas() == 1 and s.knows_sentinels() == 2 for s in sentinels),
            30,
            interval=0.2,
            message="sentinels never learned the topology",
        )
        mongo = pool.mongo()
        service = pool.gunicorn(
            mongo_uri=mongo.uri,
            redis_url=f"redis://:{PASSWORD}@sentinel/0",
            workers=2,
            env=agent_env(upstream)
            | {"REDIS_SENTINELS": ",".join(s.address for s in sentinels), "RATE_LIMIT": "100000/minute"},
        )
        load = ConversationLoad(service.base_url, clients=clients).start()
        wait_until(lambda: load.stats.answered >= 10, 30, message="no load")
        promoted: list[float] = []
        healthy: list[float] = []
        servers_by_port = {primary.port: primary, replica.port: replica}
        for _ in range(failovers):
            current = servers_by_port[sentinels[0].primary_port() or primary.port]
            other = next(s for s in servers_by_port.values() if s is not current)
            killed = time.monotonic()
            current.kill()
            wait_until(
                lambda o=other: all(s.primary_port() == o.port for s in sentinels),
                60,
                interval=0.05,
                message="no promotion",
            )
            promoted.append(time.monotonic() - killed)
            wait_until(lambda: _redis_status(service) == "healthy", 60, interval=0.05, message="never healthy")
            healthy.append(time.monotonic() - killed)
            current.start()  # back as a replica: Sentinel turns the returning old primary into one
            wait_until(lambda: all(s.knows_replicas() >= 1 for s in sentinels), 60, interval=0.2)
            wait_until(
                lambda c=current: _synced_replica(c),
                60,
                interval=0.2,
                message="the old primary never synced as a replica",
            )
            answered = load.stats.answered
            wait_until(lambda a=answered: load.stats.answered >= a + 10, 30, message="no chat after a failover")
        stats = load.stop()
        found = audit(mongo, stats)
    figures: Figures = {
        "failovers": failovers,
        "requests": stats.requests,
        "answered": stats.answered,
        "retried": stats.retried,
        "gave up": stats.gave_up,
        "lost": len(found.lost),
        "duplicated": len(found.duplicated),
        "statuses": dict(stats.statuses),
        "promotion s (SIGKILL -> sentinels name the replica) median/max": _median_max(promoted),
        "failover s (SIGKILL -> /health Redis healthy on the new primary) median/max": _median_max(healthy),
    }
    broken = [f"{name}: {figures[name]}" for name in ("retried", "gave up", "lost", "duplicated") if figures[name]]
    return figures, broken


def _median_max(values: list[float]) -> str:
    return f"{statistics.median(values):.2f}/{max(values):.2f}"


def _synced_replica(server: Any) -> bool:
    # A fresh connection each time: Sentinel's REPLICAOF makes the server drop its clients.
    try:
        with server._new_client() as client:
            return client.info("replication").get("master_link_status") == "up"
    except redis.RedisError:
        return False


def _redis_status(service: Any) -> str:
    try:
        return str(requests.get(service.base_url + "/health", timeout=5).json()["checks"]["redis"]["status"])
    except (requests.RequestException, ValueError, KeyError):
        return "unknown"


def heroku_limits() -> tuple[Figures, list[str]]:
    """Heroku's router in real time: a stream whose model takes 80 s, a plain send that would take 45 s."""
    from tests.support.chat import SEND, STREAM, blocks, parse_block

    with servers() as (pool, upstream):
        service = pool.gunicorn(mongo_uri=pool.mongo().uri, redis_url=pool.redis().url, env=agent_env(upstream))
        router = pool.router(
            {"app1": service.port, "app2": service.port},
            replace={
                "    timeout server 95s": "    timeout server 30s",
                "    timeout client 60s": "    timeout client 55s",
            },
        )
        upstream.configure(delay=80)
        started = time.monotonic()
        kinds, gaps, last = [], [], started
        with requests.post(
            router.base_url + STREAM, json={"message": "two weeks in Japan"}, stream=True, timeout=120
        ) as response:
            stream_status = response.status_code
            for block in blocks(response.iter_content(chunk_size=None)):
                now = time.monotonic()
                gaps.append(now - last)
                last = now
                kinds.append(parse_block(block)[0])
        stream_took = time.monotonic() - started
        upstream.configure(delay=45)
        since = len(service.log_file_text())
        started = time.monotonic()
        sent = requests.post(
            router.base_url + SEND,
            json={"message": "a plain send"},
            timeout=120,
            headers={"Idempotency-Key": "production-heroku-45"},
        )
        send_took = time.monotonic() - started
        wait_until(
            lambda: "client left before the answer" in service.log_file_text()[since:],
            30,
            message="the service never logged the client that left",
        )
        errors = [line for line in service.log_file_text()[since:].splitlines() if " ERROR " in line]
    figures: Figures = {
        "stream status": stream_status,
        "stream last event": kinds[-1] if kinds else None,
        "stream took s": round(stream_took, 1),
        "longest silence in the stream s": round(max(gaps), 1),
        "heartbeats": kinds.count("comment"),
        "plain send status": sent.status_code,
        "plain send ended after s": round(send_took, 1),
        "service ERROR lines for it": len(errors),
    }
    broken = []
    if stream_status != 200 or not kinds or kinds[-1] != "done":
        broken.append("the 80 s stream did not complete")
    if sent.status_code != 504 or errors:
        broken.append("the 45 s send did not end in the router's 504, or was logged as an error")
    return figures, broken
