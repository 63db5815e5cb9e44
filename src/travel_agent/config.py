"""Settings read once from the environment, validated, and frozen.

Each field's rule is its metadata, given through ``setting()`` and applied by ``read_field`` (both in
``config_fields``, which says what a rule may hold); the rules of text values are in ``config_rules`` and
``config_uris``. Rules across fields are in ``_cross_field_problems``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from travel_agent.config_fields import read_field, setting
from travel_agent.config_rules import (
    console_token_problem,
    directory_problem,
    new_key,
    openai_url_problem,
    parse_rate_limit,
    paths_problem,
    rate_limit_problem,
    secret_list_problem,
    secret_problem,
    sentry_dsn_problem,
)
from travel_agent.config_uris import (
    database_name_problem,
    host_port_list_problem,
    host_ports,
    is_unix_socket_url,
    mongodb_uri_database,
    mongodb_uri_problem,
    name_problem,
    redis_url_names_a_database,
    redis_url_problem,
    split_list,
)

__all__ = [
    "MAX_REPLY_CHARS_LIMIT",
    "ConfigError",
    "Settings",
    "new_key",
    "parse_rate_limit",
    "read_setting",
    "setting",
    "split_list",
]


class ConfigError(ValueError):
    """A variable holds a value the service cannot run with; the message names it."""


# A million characters is at most 4 MB of UTF-8: a stored reply stays well inside a 16 MiB BSON document.
MAX_REPLY_CHARS_LIMIT = 1_000_000
# Upper bounds: a value past them is a typo, or one a driver or the OS refuses only later, in a worker (PyMongo
# takes timeouts below 1e9 ms; gevent's pools and BSON's integers overflow on 20-digit counts; gunicorn would
# fork without end). Timeouts stop at a day, like the ..._SECONDS settings; pools at 10,000 connections.
DAY_SECONDS = 86_400
DAY_MS = DAY_SECONDS * 1000
POOL_LIMIT = 10_000


@dataclass(frozen=True)
class Settings:
    """Every tunable of the service; the environment variable is the field name in upper case.

    The groups follow docs/configuration.md, which says what each one means to an operator."""

    # -- server and gunicorn ----------------------------------------------------------------------------------
    port: int = setting(8000, maximum=65535)
    # Platforms route to 0.0.0.0:$PORT; tests and a laptop may keep it on loopback.
    host: str = "0.0.0.0"
    # gunicorn's worker processes. gunicorn itself parses WEB_CONCURRENCY when it is imported, before any
    # configuration of ours runs, so a bad value is caught by ``python -m travel_agent serve`` (the Procfile).
    web_concurrency: int = setting(2, maximum=256, why="one per core is the advice")
    # Connections (greenlets, idle keep-alive ones included) per worker; MAX_IN_FLIGHT sheds before this fills.
    # MAX_IN_FLIGHT plus 500: room for idle keep-alive connections and probes beside 2,000 held chats (a
    # tenth of it, at most 50, is kept free for new connections: runtime/connection_slots.py).
    worker_connections: int = setting(2500, maximum=100_000)
    # gunicorn's watchdog: under gevent it does not bound a request, it kills a worker whose event loop stopped
    # turning (a CPU loop, a blocking C call). Request budgets are REQUEST_TIMEOUT_SECONDS/CHAT_TIMEOUT_SECONDS.
    gunicorn_timeout: int = setting(30, maximum=DAY_SECONDS)
    # SIGTERM: stop accepting, finish requests, answer stragglers 503 DRAIN_MARGIN_SECONDS before this runs
    # out, then exit. 25 s stays under Heroku's SIGKILL 30 s after SIGTERM.
    graceful_timeout_seconds: int = setting(25, maximum=DAY_SECONDS)
    # Time to write the stragglers' 503s and close the pools before gunicorn's SIGKILL.
    drain_margin_seconds: float = 3.0
    # Behind a load balancer keep this longer than the balancer's idle timeout, or the balancer may reuse a
    # connection we are closing.
    gunicorn_keepalive: int = setting(5, minimum=0, maximum=DAY_SECONDS)
    # How long a new connection may take to send its first complete request head (request line and headers).
    # gunicorn would allow GUNICORN_KEEPALIVE for it; a client sends its head with its first packets, so 2 s
    # spares a lossy mobile link (a retransmission or two) while a slowloris connection, one header byte at a
    # time, holds a connection slot for 2 s instead of 5. Later heads on a keep-alive connection keep
    # GUNICORN_KEEPALIVE. See docs/RELIABILITY.md, "Connection exhaustion", for the measurements.
    request_head_timeout_seconds: float = 2.0
    # Proxies whose X-Forwarded-* headers gunicorn trusts (comma-separated addresses, or *).
    forwarded_allow_ips: str = "127.0.0.1,::1"

    # -- time budgets and protection (docs/operations.md) -----------------------------------------------------
    request_timeout_seconds: float = 30.0
    chat_timeout_seconds: float = 90.0
    # Requests one worker runs at once before it answers a fast 503 instead of queueing. A chat waiting on the
    # model (a held stream is in flight until its last event) costs about 65 KiB and no CPU but its
    # heartbeats: one worker held 2,000 behind a 90 s model and still answered /health/live at once
    # (docs/PERFORMANCE.md, "Held streams"). Behind a database slower than the arrivals, set it lower (section
    # 4 there). Keep it below WORKER_CONNECTIONS, which also counts idle keep-alive connections.
    max_in_flight: int = setting(2000, maximum=100_000)
    max_body_bytes: int = setting(65536, maximum=16 * 1024 * 1024, why="a message must fit a 16 MiB MongoDB document")
    # A body not received in full within this is a 408: a slow or stalled sender must not hold its request (and
    # a MAX_IN_FLIGHT slot) for the whole budget.
    body_read_timeout_seconds: float = 10.0
    # Comma-separated; set: /api/... needs "Authorization: Bearer <key>".
    api_keys: str | None = setting(None, check=secret_list_problem, secret=True)
    # E.g. "30/minute", per API key (or client address); unset: no limit.
    rate_limit: str | None = setting(None, check=rate_limit_problem)
    # Proxies in front of the service that append to X-Forwarded-For (1 on Heroku); 0 trusts no header.
    trusted_proxy_hops: int = setting(0, minimum=0, maximum=16)

    # -- start-up, health checks and breakers -----------------------------------------------------------------
    startup_retries: int = setting(3, maximum=100)
    startup_retry_delay_seconds: float = 2.0
    startup_ping_timeout_seconds: float = 2.0
    health_check_timeout_seconds: float = 1.0
    health_cache_seconds: float = 1.5
    breaker_failure_threshold: int = setting(3, maximum=1000)
    breaker_reset_seconds: float = 1.0

    # -- MongoDB ----------------------------------------------------------------------------------------------
    # A URI is never echoed: it may carry a password.
    mongodb_uri: str = setting("mongodb://127.0.0.1:27017/", check=mongodb_uri_problem, secret=True)
    # Used when MONGODB_URI names no database in its path.
    mongodb_db: str = "travel_agent"
    # The seed's MongoDB pool: selection 5 s, connect 10 s, socket 20 s, heartbeat 10 s, 5..50 connections,
    # idle ones closed after 30 s, at most 10 s waiting for a free one.
    mongo_server_selection_timeout_ms: int = setting(5000, maximum=DAY_MS)
    mongo_connect_timeout_ms: int = setting(10000, maximum=DAY_MS)
    mongo_socket_timeout_ms: int = setting(20000, maximum=DAY_MS)
    # Inside a request every MongoDB call runs under pymongo.timeout (CSOT), and CSOT replaces the driver's
    # serverSelectionTimeoutMS, socketTimeoutMS and waitQueueTimeoutMS with the one deadline. Without a cap a
    # killed server would hold a request for its whole budget; capped at the seed's 5 s selection bound it
    # answers 503 in 5 s. The service's queries are single-document reads and writes that take milliseconds.
    mongo_operation_timeout_ms: int = setting(5000, maximum=DAY_MS)
    mongo_heartbeat_frequency_ms: int = setting(10000, maximum=DAY_MS)
    mongo_max_pool_size: int = setting(50, maximum=POOL_LIMIT)
    mongo_min_pool_size: int = setting(5, minimum=0, maximum=POOL_LIMIT)
    mongo_max_idle_time_ms: int = setting(30000, maximum=DAY_MS)
    mongo_wait_queue_timeout_ms: int = setting(10000, maximum=DAY_MS)

    # -- Redis ------------------------------------------------------------------------------------------------
    # Optional, but a value that cannot be used is refused like any other setting: starting without the cache
    # would hide a typo until someone wonders why nothing is cached.
    redis_url: str | None = setting(None, check=redis_url_problem, secret=True)
    # The seed's Redis pool: 50 connections, 5 s socket and connect timeouts, a health check every 30 s.
    redis_max_connections: int = setting(50, maximum=POOL_LIMIT)
    redis_socket_timeout_seconds: float = 5.0
    redis_connect_timeout_seconds: float = 5.0
    # host:port[,host:port...] of Redis Sentinels: the primary is looked up through them (and again after a
    # failover) instead of REDIS_URL's host, whose password, database and rediss:// still apply when it is set.
    redis_sentinels: str | None = setting(None, check=host_port_list_problem)
    # The name the sentinels monitor the primary under; Sentinel's own examples (and most charts) use mymaster.
    redis_sentinel_master: str = setting("mymaster", check=name_problem)
    # host:port[,host:port...] of some nodes of a Redis Cluster (redis-py discovers the rest and follows the slot
    # map); REDIS_URL's password and rediss:// still apply when it is set, its host is ignored, its database is 0.
    redis_cluster_nodes: str | None = setting(None, check=host_port_list_problem)
    # Redis is a cache: a caller that cannot get a connection soon is better served from MongoDB.
    redis_pool_timeout_seconds: float = 2.0
    redis_health_check_interval_seconds: int = setting(30, maximum=DAY_SECONDS)
    # redis-py 8 retries 10 times by default; one retry covers a dropped idle connection without turning a
    # frozen Redis into a minute-long wait.
    redis_retries: int = setting(1, minimum=0, maximum=10)

    # -- chat and agent ---------------------------------------------------------------------------------------
    # The chat's agent: "offline" (deterministic, no network) or "openai" (any OpenAI-compatible server).
    agent_provider: str = setting("offline", choices=("offline", "openai"))
    # A base URL may carry a proxy's user and password: named, never echoed.
    openai_base_url: str = setting("https://api.openai.com/v1", check=openai_url_problem, secret=True)
    openai_api_key: str | None = setting(None, secret=True)
    openai_model: str = "gpt-4o-mini"
    # Retries of a 429 or 5xx answer, each after a jittered back-off, and only while the budget allows.
    openai_max_retries: int = setting(2, minimum=0, maximum=10)
    openai_connect_timeout_seconds: float = 5.0
    # Ask a streaming upstream for its token counts (stream_options.include_usage; /metrics and the stored
    # reply keep them). Off for a server that refuses the option.
    openai_stream_usage: bool = True
    # When the model cannot answer (circuit open, refused, 5xx after the retries, nothing sent while only the
    # fallback's share of the budget is left): "offline", the offline assistant answers, marked degraded;
    # "none", the turn fails with the model's 502/503/504. Only with AGENT_PROVIDER=openai.
    agent_fallback: str = setting("offline", choices=("offline", "none"))
    # A second OpenAI-compatible upstream, asked when the first cannot answer (before the offline assistant);
    # its own breaker and metrics label, the same limits. The model defaults to OPENAI_MODEL.
    openai_fallback_base_url: str | None = setting(None, check=openai_url_problem, secret=True)
    openai_fallback_model: str | None = None
    openai_fallback_api_key: str | None = setting(None, secret=True)
    # The longest reply the service accepts from the model upstream, in characters; past it the turn fails with
    # a 502 and nothing of the reply is stored. 100,000 is several times the longest answer today's models
    # write in one go (about 16k tokens, some 64,000 characters) and keeps a stored message far below
    # MongoDB's 16 MiB document limit (at most 400 KB of UTF-8); a hostile or looping upstream is cut off
    # there instead of filling the worker's memory.
    max_reply_chars: int = setting(
        100_000,
        maximum=MAX_REPLY_CHARS_LIMIT,
        why="a stored message must stay far below MongoDB's 16 MiB document limit",
    )
    # How many recent messages of a session the agent sees (and Redis caches): bounds prompt size and cost.
    chat_history_messages: int = setting(20, maximum=1000)
    # A stream sends a comment this often while the agent is silent, so proxies with a first-byte or idle
    # limit (Heroku: 30 s, then 55 s between bytes) keep the connection.
    chat_heartbeat_seconds: float = setting(10.0, maximum=15, why="a stream must show life at least every 15 s")
    # How long a running Idempotency-Key attempt holds its key without renewing it (it renews every third of
    # this while it runs): after a worker was killed or MongoDB died under a turn, retries get 409 this long.
    idempotency_lease_seconds: float = setting(10.0, minimum=1)
    # Unset keeps every chat. Set: MongoDB's TTL monitor removes each message this many days after it was
    # written and each session this many days after its last turn, so a session idle that long goes whole
    # (chat/indexes.py). Ten years at most: past that, keeping everything is what was meant.
    chat_retention_days: int | None = setting(None, kind=int, minimum=1, maximum=3650)
    # A pause between the offline agent's streamed words (a demo's typing effect; tests use it for timing).
    offline_chunk_delay_ms: int = setting(0, minimum=0, maximum=10_000)

    # -- observability ----------------------------------------------------------------------------------------
    log_dir: str = "data/logs"
    log_level: str = setting("info", choices=("debug", "info", "warning", "error"))
    log_format: str = setting("text", choices=("text", "json"))
    # Comma-separated path prefixes left out of the access log.
    access_log_skip_paths: str = setting("", check=paths_problem)
    # /health/live and /health/ready in the access log too. Off: orchestrators and load balancers call them
    # every few seconds per instance, which buries the requests worth reading and costs each probe about as
    # much as the rest of its answer (docs/PERFORMANCE.md, section 1); their counts and latencies are in
    # /metrics either way. /health, which monitors and people call, is logged regardless.
    access_log_probes: bool = False
    # GET /console/state in the access log too. Off: an open console page polls it every 1.5 s. Refusals
    # (4xx, 5xx) are logged either way: a script guessing the console's token shows.
    access_log_console: bool = False
    # Set: GET /metrics needs "Authorization: Bearer <token>".
    metrics_token: str | None = setting(None, check=secret_problem, secret=True)
    # The operator console (GET /console, docs/console.md) is served only with a token: it shows what an
    # attacker would like to see, and a loopback address may still be a reverse proxy's upstream.
    console_token: str | None = setting(None, check=console_token_problem, secret=True)
    # Where workers keep metric values (prometheus_client reads it too); unset: a fresh private temp directory.
    prometheus_multiproc_dir: str | None = setting(None, check=directory_problem)
    sentry_dsn: str | None = setting(None, check=sentry_dsn_problem, secret=True)
    sentry_environment: str = "production"

    @property
    def offline_may_answer(self) -> bool:
        """The offline assistant answers some turns: it is the agent, or the model's degraded mode."""
        return self.agent_provider == "offline" or self.agent_fallback == "offline"

    @property
    def redis_enabled(self) -> bool:
        return bool(self.redis_url or self.redis_sentinels or self.redis_cluster_nodes)

    @property
    def redis_sentinel_list(self) -> tuple[tuple[str, int], ...]:
        """(host, port) of each sentinel; empty without REDIS_SENTINELS."""
        return host_ports(self.redis_sentinels)

    @property
    def redis_cluster_node_list(self) -> tuple[tuple[str, int], ...]:
        """(host, port) of each configured cluster node; empty without REDIS_CLUSTER_NODES."""
        return host_ports(self.redis_cluster_nodes)

    @property
    def api_key_list(self) -> tuple[str, ...]:
        return split_list(self.api_keys)

    @property
    def rate_limit_rule(self) -> tuple[int, int] | None:
        """(requests, window seconds), or None when no limit is set."""
        return parse_rate_limit(self.rate_limit) if self.rate_limit else None

    @property
    def access_log_skip_list(self) -> tuple[str, ...]:
        return split_list(self.access_log_skip_paths)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None) -> Settings:
        """Defaults, then the environment, then overrides (a test's), all validated the same way."""
        env = dict(os.environ if environ is None else environ)
        for key, value in (overrides or {}).items():
            if value is None:
                env.pop(key.upper(), None)
            else:
                env[key.upper()] = str(value)
        errors: list[str] = []
        values = {field.name: read_field(field, env, errors) for field in fields(cls)}
        # Derived, not checked: the database the URI names wins over MONGODB_DB.
        values["mongodb_db"] = mongodb_uri_database(values["mongodb_uri"]) or values["mongodb_db"]
        errors += _cross_field_problems(values)
        if errors:
            raise ConfigError("invalid configuration: " + "; ".join(errors))
        return cls(**values)


def read_setting(name: str, environ: Mapping[str, str] | None = None) -> Any:
    """One setting by its field name, read and checked as ``from_env`` reads it (a probe needs only PORT and
    must not fail on another variable); ConfigError names it."""
    field = next(f for f in fields(Settings) if f.name == name)
    errors: list[str] = []
    value = read_field(field, os.environ if environ is None else environ, errors)
    if errors:
        raise ConfigError("invalid configuration: " + "; ".join(errors))
    return value


def _cross_field_problems(values: Mapping[str, Any]) -> list[str]:
    """The rules that need more than one field: each a line naming the variable; nothing is changed."""
    problems = []
    if values["mongo_min_pool_size"] > values["mongo_max_pool_size"]:
        problems.append("MONGO_MIN_POOL_SIZE: must not exceed MONGO_MAX_POOL_SIZE")
    if values["drain_margin_seconds"] >= values["graceful_timeout_seconds"]:
        problems.append("DRAIN_MARGIN_SECONDS: must be below GRACEFUL_TIMEOUT_SECONDS")
    uri, database = values["mongodb_uri"], values["mongodb_db"]
    if mongodb_uri_problem(uri) is None and (problem := database_name_problem(database)):
        named_in_uri = mongodb_uri_database(uri)
        problems.append(
            f"MONGODB_URI: the database name in its path: {problem}"
            if named_in_uri
            else f"MONGODB_DB={database!r}: {problem}"
        )
    if values["redis_sentinels"] and is_unix_socket_url(values["redis_url"]):
        problems.append("REDIS_URL: a unix socket cannot be combined with REDIS_SENTINELS")
    if values["redis_cluster_nodes"]:
        if values["redis_sentinels"]:
            problems.append("REDIS_CLUSTER_NODES: cannot be combined with REDIS_SENTINELS (a cluster has no sentinels)")
        if is_unix_socket_url(values["redis_url"]):
            problems.append("REDIS_URL: a unix socket cannot be combined with REDIS_CLUSTER_NODES")
        elif redis_url_names_a_database(values["redis_url"]):
            problems.append("REDIS_URL: a Redis Cluster has only database 0")
    if not values["openai_fallback_base_url"]:
        # A second upstream half configured would silently never be asked.
        for name in ("openai_fallback_model", "openai_fallback_api_key"):
            if values[name]:
                problems.append(f"{name.upper()}: set, but OPENAI_FALLBACK_BASE_URL is not (the second upstream's URL)")
    return problems
