"""Dependency health: real pings run concurrently with short deadlines, cached, one refresh at a time."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo.errors import PyMongoError
from redis.exceptions import RedisError

from travel_agent import __version__
from travel_agent.backends.mongo import MongoGateway
from travel_agent.backends.mongo import describe_failure as describe_mongo_failure
from travel_agent.backends.redis_store import RedisGateway
from travel_agent.backends.redis_store import describe_failure as describe_redis_failure
from travel_agent.resilience.breaker import CircuitBreaker, State
from travel_agent.resilience.recent_calls import RecentCalls


@dataclass(frozen=True)
class Check:
    status: str  # healthy | unhealthy (MongoDB) | degraded (the model) | unavailable | disabled (Redis)
    message: str
    latency_ms: float | None = None
    circuit: str | None = None

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"status": self.status, "message": self.message}
        if self.latency_ms is not None:
            body["latency_ms"] = round(self.latency_ms, 2)
        if self.circuit is not None:
            body["circuit"] = self.circuit
        return body


@dataclass(frozen=True)
class Report:
    status: str  # healthy | degraded | unhealthy
    checks: dict[str, Check]
    checked_at: datetime

    @property
    def http_status(self) -> int:
        return 503 if self.status == "unhealthy" else 200

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "service": "travel_agent",
            "version": __version__,
            "timestamp": self.checked_at.isoformat().replace("+00:00", "Z"),
            "checks": {name: check.as_dict() for name, check in self.checks.items()},
        }


def _probe(
    ping: Callable[[], float],
    errors: tuple[type[Exception], ...],
    describe: Callable[[BaseException], str],
    breaker: CircuitBreaker,
    down_status: str,
) -> Check:
    started = time.monotonic()
    try:
        ping()
    except errors as exc:
        breaker.record_failure()
        return Check(
            down_status, f"Check failed: {describe(exc)}", (time.monotonic() - started) * 1000, breaker.state.value
        )
    breaker.record_success()
    return Check("healthy", "Connection OK", (time.monotonic() - started) * 1000, breaker.state.value)


def upstream_check(upstreams: list[tuple[CircuitBreaker, RecentCalls]], fallback: str) -> Check:
    """The model upstreams' health without a paid ping: from their breakers and their calls of the last minute.

    unavailable: every upstream's circuit is open (the offline assistant answers, or with AGENT_FALLBACK=none
    turns are refused); degraded: one circuit is open, or half or more of an upstream's recent calls failed;
    healthy otherwise. ``circuit`` is the first upstream's."""
    down, failing, calls = [], [], 0
    for index, (breaker, recent) in enumerate(upstreams):
        name = "first" if index == 0 else "second"
        made, failed = recent.counts()
        calls += made
        if breaker.state is not State.CLOSED:
            down.append(name)
        elif failed and failed * 2 >= made:
            failing.append(f"{name}: {failed} of {made} call(s) failed in the last minute")
    circuit = upstreams[0][0].state.value
    if len(down) == len(upstreams):
        answer = "the offline assistant answers (degraded)" if fallback == "offline" else "chat turns are refused"
        return Check("unavailable", f"Circuit open: {answer}", circuit=circuit)
    if down or failing:
        said = [f"{name}: circuit open" for name in down] + failing
        return Check("degraded", "; ".join(said), circuit=circuit)
    told = f"{calls} call(s) in the last minute, all answered" if calls else "No call in the last minute"
    return Check("healthy", told, circuit=circuit)


class HealthMonitor:
    """Answers from a result at most ``cache_seconds`` old; when it is stale, one caller refreshes and the
    others answer from the stale result meanwhile (only with none yet do they wait, bounded). So a probe storm
    never multiplies pings to a sick dependency, and on a busy CPU the callers do not queue behind the one
    refresh: it ends when its pings do, at most ``check_timeout`` later."""

    def __init__(
        self,
        mongo: MongoGateway,
        redis: RedisGateway | None,
        check_timeout: float,
        cache_seconds: float,
        upstream: Callable[[], Check] | None = None,
    ) -> None:
        self.mongo = mongo
        self.redis = redis
        self.upstream = upstream  # the model's check, when there is a model (no network: breakers and counts)
        self.check_timeout = check_timeout
        self.cache_seconds = cache_seconds
        self._lock = threading.Lock()
        self._cached: Report | None = None
        self._cached_at = 0.0
        self._refresh_done: threading.Event | None = None

    def fresh(self) -> Report | None:
        """The cached result while it is fresh, else None; never checks, never waits (for callers that have a
        slower path which does)."""
        cached = self._cached
        if cached is not None and time.monotonic() - self._cached_at < self.cache_seconds:
            return cached
        return None

    def report(self) -> Report:
        with self._lock:
            if self._cached is not None and time.monotonic() - self._cached_at < self.cache_seconds:
                return self._cached
            waiting_for = self._refresh_done
            if waiting_for is None:
                self._refresh_done = threading.Event()
            elif self._cached is not None:
                return self._cached  # a refresh is under way: the last result until it ends
        if waiting_for is not None:
            waiting_for.wait(self.check_timeout + 0.5)
            return self._cached or self._unknown()
        try:
            report = self._run_checks()
            with self._lock:
                self._cached, self._cached_at = report, time.monotonic()
            return report
        finally:
            with self._lock:
                done, self._refresh_done = self._refresh_done, None
            assert done is not None
            done.set()

    def _unknown(self) -> Report:
        pending = Check("unhealthy", "Check still running")
        return Report("unhealthy", {"mongodb": pending}, datetime.now(UTC))

    def _run_checks(self) -> Report:
        results: dict[str, Check] = {}
        probes: dict[str, Callable[[], Check]] = {
            "mongodb": lambda: _probe(
                lambda: self.mongo.ping(self.check_timeout),
                (PyMongoError,),
                describe_mongo_failure,
                self.mongo.breaker,
                "unhealthy",
            ),
        }
        if self.redis is not None:
            redis = self.redis
            probes["redis"] = lambda: _probe(
                redis.ping, (RedisError,), describe_redis_failure, redis.breaker, "unavailable"
            )
        # One thread per check (greenlets under gevent): a frozen MongoDB must not delay the Redis answer.
        threads = [
            threading.Thread(
                target=lambda n=name, p=probe: results.__setitem__(n, p()), daemon=True, name=f"health-{name}"
            )
            for name, probe in probes.items()
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(self.check_timeout + 0.5)
        for name in probes:
            # The drivers enforce the deadline; this only covers a check that somehow outlived it.
            results.setdefault(
                name, Check("unhealthy" if name == "mongodb" else "unavailable", "Check failed: timed out")
            )
        if self.redis is None:
            results["redis"] = Check("disabled", "REDIS_URL is not set")
        checks = {"mongodb": results["mongodb"], "redis": results["redis"]}
        if self.upstream is not None:
            checks["upstream"] = self.upstream()
        # MongoDB alone decides unhealthy: without Redis or the model the service still answers, degraded.
        if checks["mongodb"].status != "healthy":
            status = "unhealthy"
        elif any(check.status in ("unavailable", "degraded") for check in checks.values()):
            status = "degraded"
        else:
            status = "healthy"
        return Report(status, checks, datetime.now(UTC))
