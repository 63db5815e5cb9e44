"""Rate limits on ``/api/...``: a fixed window per API key (or client address), counted in Redis, and
counted per worker in memory while Redis is down.

Written here rather than taken from Flask-Limiter because the counter must go through our Redis gateway:
its pool caps each command at what remains of the request's budget, and its circuit breaker (shared with
the cache) turns a dead Redis into an instant fallback whose recovery is probed in the background.
Flask-Limiter keeps its own Redis client and, once its storage failed, re-checks it inside client requests,
so a frozen Redis would cost those requests a full socket timeout; it also exempts unmatched URLs.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Any

import redis

from travel_agent.backends.redis_store import RedisGateway
from travel_agent.config import Settings
from travel_agent.observability import metrics
from travel_agent.web.auth import bearer_token, key_fingerprint

KEY_PREFIX = "travel_agent:ratelimit:"
# Bounds the fallback's memory when many addresses call during a Redis outage.
MAX_MEMORY_ENTRIES = 10_000


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: int  # whole seconds until the window resets
    store: str  # redis | memory
    remaining: int  # requests left in the window


class MemoryWindows:
    """Fixed windows in this worker's memory: the fallback, so with N workers the limit is N times looser."""

    def __init__(self, limit: int, window_seconds: int) -> None:
        self.limit = limit
        self.window = window_seconds
        self._lock = threading.Lock()  # never held across I/O
        self._windows: dict[str, tuple[float, int]] = {}

    def hit(self, identity: str) -> Decision:
        now = time.monotonic()
        with self._lock:
            started, count = self._windows.get(identity, (now, 0))
            if now - started >= self.window:
                started, count = now, 0
            count += 1
            if identity not in self._windows and len(self._windows) >= MAX_MEMORY_ENTRIES:
                self._evict(now)
            self._windows[identity] = (started, count)
        retry_after = max(1, math.ceil(started + self.window - now))
        return Decision(count <= self.limit, retry_after, "memory", max(0, self.limit - count))

    def peek(self, identity: str) -> Decision:
        """Where ``identity`` stands, without counting: refused once its window holds ``limit`` hits."""
        now = time.monotonic()
        with self._lock:
            started, count = self._windows.get(identity, (now, 0))
        if now - started >= self.window:
            return Decision(True, self.window, "memory", self.limit)
        retry_after = max(1, math.ceil(started + self.window - now))
        return Decision(count < self.limit, retry_after, "memory", max(0, self.limit - count))

    def _evict(self, now: float) -> None:
        for key in [k for k, (started, _) in self._windows.items() if now - started >= self.window]:
            del self._windows[key]
        while len(self._windows) >= MAX_MEMORY_ENTRIES:  # all live: forget the oldest (errs on the lenient side)
            del self._windows[next(iter(self._windows))]


class RateLimiter:
    def __init__(self, limit: int, window_seconds: int, redis_gateway: RedisGateway | None) -> None:
        self.limit = limit
        self.window = window_seconds
        self.redis = redis_gateway
        self.memory = MemoryWindows(limit, window_seconds)

    def hit(self, identity: str) -> Decision:
        counted = None
        if self.redis is not None:
            counted = self.redis.run("rate limit", lambda client: self._count(client, identity), fallback=None)
        if counted is None:
            decision = self.memory.hit(identity)
        else:
            count, ttl_ms = counted
            retry_after = max(1, math.ceil(ttl_ms / 1000))
            decision = Decision(count <= self.limit, retry_after, "redis", max(0, self.limit - count))
        metrics.record_rate_limit(decision.store, decision.allowed)
        return decision

    def _count(self, client: redis.Redis, identity: str) -> tuple[int, int]:
        """One round trip, atomic: create the window's counter with its expiry if absent, count, read the
        time left. (A retried EXEC after a dropped connection may count one request twice: strict, not lax.)"""
        key = KEY_PREFIX + identity
        window_ms = self.window * 1000
        pipe = client.pipeline(transaction=True)
        pipe.set(key, 0, px=window_ms, nx=True)
        pipe.incr(key)
        pipe.pttl(key)
        _, count, ttl_ms = pipe.execute()
        if ttl_ms < 0:  # a counter without expiry (written by hand?) would never reset
            client.pexpire(key, window_ms)
            ttl_ms = window_ms
        return int(count), int(ttl_ms)


def client_address(environ: dict[str, Any], trusted_hops: int) -> str:
    """The caller's address: behind ``trusted_hops`` proxies, the one the outermost proxy saw."""
    forwarded = [part.strip() for part in environ.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if trusted_hops > 0 and forwarded:
        return forwarded[-min(trusted_hops, len(forwarded))]
    return environ.get("REMOTE_ADDR") or "unknown"


class RateGate:
    """The limit as an ``/api/`` request meets it: who it counts against, what a refusal says, and the
    RateLimit headers every limited answer carries (the common ``RateLimit-Limit/-Remaining/-Reset`` trio)."""

    def __init__(self, limiter: RateLimiter, keys_on: bool, trusted_hops: int) -> None:
        self.limiter = limiter
        self.keys_on = keys_on
        self.trusted_hops = trusted_hops
        per = {1: "second", 60: "minute", 3600: "hour", 86400: "day"}.get(limiter.window, f"{limiter.window} s")
        self.refusal = f"Too many requests: the limit is {limiter.limit} per {per}."
        self._limit = str(limiter.limit)

    def check(self, environ: dict[str, Any]) -> Decision:
        return self.limiter.hit(self.identity(environ))

    def identity(self, environ: dict[str, Any]) -> str:
        token = bearer_token(environ.get("HTTP_AUTHORIZATION")) if self.keys_on else None
        return "key:" + key_fingerprint(token) if token else "addr:" + client_address(environ, self.trusted_hops)

    def headers(self, decision: Decision) -> dict[str, str]:
        return {
            "RateLimit-Limit": self._limit,
            "RateLimit-Remaining": str(decision.remaining),
            "RateLimit-Reset": str(decision.retry_after),
        }


def rate_gate(settings: Settings, redis_gateway: RedisGateway | None) -> RateGate | None:
    """The gate of ``RATE_LIMIT``, or None when it is unset."""
    rule = settings.rate_limit_rule
    if rule is None:
        return None
    limiter = RateLimiter(*rule, redis_gateway)
    return RateGate(limiter, bool(settings.api_key_list), settings.trusted_proxy_hops)
