"""The per-worker objects every request needs (gateways, health, worker state), created in the factory."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import current_app
from redis import Redis

from travel_agent.agent.interface import Agent
from travel_agent.agent.provider import build_agent, model_upstreams
from travel_agent.backends.health import Check, HealthMonitor, upstream_check
from travel_agent.backends.mongo import MongoGateway, create_client
from travel_agent.backends.redis_cluster import create_cluster_client, create_cluster_probe_client
from travel_agent.backends.redis_store import RedisGateway, create_pool, create_probe_client
from travel_agent.chat.context_cache import ContextCache
from travel_agent.chat.idempotency import IdempotencyStore
from travel_agent.chat.indexes import Indexes
from travel_agent.chat.service import ChatService
from travel_agent.chat.store import ChatStore
from travel_agent.config import Settings
from travel_agent.observability import metrics
from travel_agent.resilience.breaker import CircuitBreaker
from travel_agent.resilience.registry import BreakerRegistry
from travel_agent.web.inflight import InFlight

log = logging.getLogger("travel_agent.services")
EXTENSION_KEY = "travel_agent"
REDIS_PROBE_TIMEOUT_SECONDS = 0.5


@dataclass
class WorkerState:
    """What the worker's lifecycle tells request handling: ``draining`` is set by the gunicorn worker on
    SIGTERM and read by /health/ready; ``inflight`` is shared by the middleware and the worker's drain."""

    inflight: InFlight
    draining: bool = False


@dataclass
class Services:
    settings: Settings
    mongo: MongoGateway
    redis: RedisGateway | None
    health: HealthMonitor
    chat: ChatService
    state: WorkerState
    # Every breaker of this worker (MongoDB, Redis, each model upstream): what /metrics, /health and the
    # console read.
    breakers: BreakerRegistry = field(default_factory=BreakerRegistry)
    closed: bool = False
    # More work for the heartbeat (the console's sampling); each one catches and logs its own failures.
    heartbeat_hooks: list[Callable[[], None]] = field(default_factory=list)

    def heartbeat(self) -> None:
        """Called by the gunicorn worker about once a second: refresh what is sampled rather than counted."""
        metrics.sample_in_flight(len(self.state.inflight))
        for hook in self.heartbeat_hooks:
            hook()

    def close(self) -> None:
        """Close Redis, then MongoDB, logging each step; safe to call twice."""
        if self.closed:
            return
        self.closed = True
        self.chat.close()
        if self.redis is not None:
            self.redis.close()
            log.info("Redis connection pool closed")
        self.mongo.client.close()
        log.info("MongoDB client closed")


def build_services(settings: Settings) -> Services:
    """Create clients without touching the network: both drivers connect lazily."""
    breakers = BreakerRegistry()
    mongo_breaker = breakers.add(
        CircuitBreaker("mongodb", settings.breaker_failure_threshold, settings.breaker_reset_seconds)
    )
    mongo = MongoGateway(create_client(settings), settings, mongo_breaker)
    mongo_breaker.set_probe(lambda: mongo.ping(settings.health_check_timeout_seconds))
    redis_gateway = None
    if settings.redis_enabled:
        redis_breaker = breakers.add(
            CircuitBreaker("redis", settings.breaker_failure_threshold, settings.breaker_reset_seconds)
        )
        probe_timeout = min(REDIS_PROBE_TIMEOUT_SECONDS, settings.health_check_timeout_seconds)
        if settings.redis_cluster_nodes:
            client, probe = create_cluster_client(settings), create_cluster_probe_client(settings, probe_timeout)
        else:
            client, probe = Redis(connection_pool=create_pool(settings)), create_probe_client(settings, probe_timeout)
        redis_gateway = RedisGateway(client, probe, redis_breaker)
        redis_breaker.set_probe(redis_gateway.ping)
    agent = build_agent(settings, breakers)
    health = HealthMonitor(
        mongo,
        redis_gateway,
        settings.health_check_timeout_seconds,
        settings.health_cache_seconds,
        _upstream_health(breakers, agent, settings.agent_fallback),
    )
    return Services(
        settings,
        mongo,
        redis_gateway,
        health,
        build_chat(settings, mongo, redis_gateway, agent),
        WorkerState(InFlight(settings.max_in_flight)),
        breakers,
    )


def _upstream_health(breakers: BreakerRegistry, agent: Agent, fallback: str) -> Callable[[], Check] | None:
    """/health's ``upstream`` check, for an agent with model upstreams (none for the offline agent): the
    registry's upstream breakers, each with the recent calls of its client."""
    recent = {client.breaker.name: client.recent for client in model_upstreams(agent)}
    if not recent:
        return None
    return lambda: upstream_check([(b, recent[b.name]) for b in breakers.upstreams()], fallback)


def build_chat(settings: Settings, mongo: MongoGateway, redis: RedisGateway | None, agent: Agent) -> ChatService:
    """One per worker; touches no network (the agent's HTTP pool connects on first use)."""
    return ChatService(
        ChatStore(mongo),
        Indexes(mongo, settings.chat_retention_days),
        ContextCache(redis, settings.chat_history_messages),
        IdempotencyStore(mongo, lease_seconds=settings.idempotency_lease_seconds),
        agent,
        settings.chat_heartbeat_seconds,
    )


def services() -> Services:
    """The current app's services (inside a request or app context)."""
    found: Services = current_app.extensions[EXTENSION_KEY]
    return found
