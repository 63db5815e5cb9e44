"""Settings read once from the environment, validated, and frozen."""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any, TypeVar
from urllib.parse import parse_qsl, unquote_plus, urlsplit

T = TypeVar("T")


class ConfigError(ValueError):
    """A variable holds a value the service cannot run with; the message names it."""


def _parse(
    env: Mapping[str, str],
    name: str,
    default: T,
    convert: Callable[[str], T],
    check: Callable[[T], bool],
    rule: str,
    errors: list[str],
) -> T:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = convert(raw.strip())
    except ValueError:
        errors.append(f"{name}={raw!r}: expected {rule}")
        return default
    if not check(value):
        errors.append(f"{name}={raw!r}: expected {rule}")
        return default
    return value


@dataclass(frozen=True)
class Settings:
    """Every tunable of the service; the environment variable is the field name in upper case."""

    port: int = 8000
    # Platforms route to 0.0.0.0:$PORT; tests and a laptop may keep it on loopback.
    host: str = "0.0.0.0"
    # gunicorn's worker processes. gunicorn itself parses WEB_CONCURRENCY when it is imported, before any
    # configuration of ours runs, so a bad value is caught by ``python -m travel_agent serve`` (the Procfile).
    web_concurrency: int = 2
    # Connections (greenlets, idle keep-alive ones included) per worker; MAX_IN_FLIGHT sheds before this fills.
    # MAX_IN_FLIGHT plus 500: room for idle keep-alive connections and probes beside 2,000 held chats (a
    # tenth of it, at most 50, is kept free for new connections: runtime/connection_slots.py).
    worker_connections: int = 2500
    # gunicorn's watchdog: under gevent it does not bound a request, it kills a worker whose event loop stopped
    # turning (a CPU loop, a blocking C call). Request budgets are REQUEST_TIMEOUT_SECONDS/CHAT_TIMEOUT_SECONDS.
    gunicorn_timeout: int = 30
    # SIGTERM: stop accepting, finish requests, answer stragglers 503 DRAIN_MARGIN_SECONDS before this runs
    # out, then exit. 25 s stays under Heroku's SIGKILL 30 s after SIGTERM.
    graceful_timeout_seconds: int = 25
    # Time to write the stragglers' 503s and close the pools before gunicorn's SIGKILL.
    drain_margin_seconds: float = 3.0
    # Behind a load balancer keep this longer than the balancer's idle timeout, or the balancer may reuse a
    # connection we are closing.
    gunicorn_keepalive: int = 5
    # How long a new connection may take to send its first complete request head (request line and headers).
    # gunicorn would allow GUNICORN_KEEPALIVE for it; a client sends its head with its first packets, so 2 s
    # spares a lossy mobile link (a retransmission or two) while a slowloris connection, one header byte at a
    # time, holds a connection slot for 2 s instead of 5. Later heads on a keep-alive connection keep
    # GUNICORN_KEEPALIVE. See docs/RELIABILITY.md, "Connection exhaustion", for the measurements.
    request_head_timeout_seconds: float = 2.0
    # Proxies whose X-Forwarded-* headers gunicorn trusts (comma-separated addresses, or *).
    forwarded_allow_ips: str = "127.0.0.1,::1"
    # Where workers keep metric values (prometheus_client reads it too); unset: a fresh private temp directory.
    prometheus_multiproc_dir: str | None = None
    mongodb_uri: str = "mongodb://127.0.0.1:27017/"
    mongodb_db: str = "travel_agent"
    # The seed's MongoDB pool: selection 5 s, connect 10 s, socket 20 s, heartbeat 10 s, 5..50 connections,
    # idle ones closed after 30 s, at most 10 s waiting for a free one.
    mongo_server_selection_timeout_ms: int = 5000
    mongo_connect_timeout_ms: int = 10000
    mongo_socket_timeout_ms: int = 20000
    mongo_heartbeat_frequency_ms: int = 10000
    mongo_max_pool_size: int = 50
    mongo_min_pool_size: int = 5
    mongo_max_idle_time_ms: int = 30000
    mongo_wait_queue_timeout_ms: int = 10000
    # Inside a request every MongoDB call runs under pymongo.timeout (CSOT), and CSOT replaces the driver's
    # serverSelectionTimeoutMS, socketTimeoutMS and waitQueueTimeoutMS with the one deadline. Without a cap a
    # killed server would hold a request for its whole budget; capped at the seed's 5 s selection bound it
    # answers 503 in 5 s. The service's queries are single-document reads and writes that take milliseconds.
    mongo_operation_timeout_ms: int = 5000
    redis_url: str | None = None
    # host:port[,host:port...] of Redis Sentinels: the primary is looked up through them (and again after a
    # failover) instead of REDIS_URL's host, whose password, database and rediss:// still apply when it is set.
    redis_sentinels: str | None = None
    # The name the sentinels monitor the primary under; Sentinel's own examples (and most charts) use mymaster.
    redis_sentinel_master: str = "mymaster"
    # The seed's Redis pool: 50 connections, 5 s socket and connect timeouts, a health check every 30 s.
    redis_max_connections: int = 50
    redis_socket_timeout_seconds: float = 5.0
    redis_connect_timeout_seconds: float = 5.0
    redis_health_check_interval_seconds: int = 30
    # redis-py 8 retries 10 times by default; one retry covers a dropped idle connection without turning a
    # frozen Redis into a minute-long wait.
    redis_retries: int = 1
    # Redis is a cache: a caller that cannot get a connection soon is better served from MongoDB.
    redis_pool_timeout_seconds: float = 2.0
    # The chat's agent: "offline" (deterministic, no network) or "openai" (any OpenAI-compatible server).
    agent_provider: str = dataclasses.field(default="offline", metadata={"choices": ("offline", "openai")})
    openai_base_url: str = "https://api.openai.com/v1"
    openai_api_key: str | None = dataclasses.field(default=None, repr=False)  # a secret: never in a repr or a log line
    openai_model: str = "gpt-4o-mini"
    # Retries of a 429 or 5xx answer, each after a jittered back-off, and only while the budget allows.
    openai_max_retries: int = dataclasses.field(default=2, metadata={"minimum": 0})
    openai_connect_timeout_seconds: float = 5.0
    # Ask a streaming upstream for its token counts (stream_options.include_usage; /metrics and the stored
    # reply keep them). Off for a server that refuses the option.
    openai_stream_usage: bool = True
    # When the model cannot answer (circuit open, refused, 5xx after the retries, nothing sent while only the
    # fallback's share of the budget is left): "offline", the offline assistant answers, marked degraded;
    # "none", the turn fails with the model's 502/503/504. Only with AGENT_PROVIDER=openai.
    agent_fallback: str = dataclasses.field(default="offline", metadata={"choices": ("offline", "none")})
    # A second OpenAI-compatible upstream, asked when the first cannot answer (before the offline assistant);
    # its own breaker and metrics label, the same limits. The model defaults to OPENAI_MODEL.
    openai_fallback_base_url: str | None = None
    openai_fallback_model: str | None = None
    openai_fallback_api_key: str | None = dataclasses.field(default=None, repr=False)  # a secret, as above
    # How many recent messages of a session the agent sees (and Redis caches): bounds prompt size and cost.
    chat_history_messages: int = 20
    # A stream sends a comment this often while the agent is silent, so proxies with a first-byte or idle
    # limit (Heroku: 30 s, then 55 s between bytes) keep the connection.
    chat_heartbeat_seconds: float = 10.0
    # The longest reply the service accepts from the model upstream, in characters; past it the turn fails with
    # a 502 and nothing of the reply is stored. 100,000 is several times the longest answer today's models
    # write in one go (about 16k tokens, some 64,000 characters) and keeps a stored message far below
    # MongoDB's 16 MiB document limit (at most 400 KB of UTF-8); a hostile or looping upstream is cut off
    # there instead of filling the worker's memory.
    max_reply_chars: int = 100_000
    # A pause between the offline agent's streamed words (a demo's typing effect; tests use it for timing).
    offline_chunk_delay_ms: int = dataclasses.field(default=0, metadata={"minimum": 0})
    startup_retries: int = 3
    startup_retry_delay_seconds: float = 2.0
    startup_ping_timeout_seconds: float = 2.0
    log_dir: str = "data/logs"
    log_level: str = "info"
    log_format: str = "text"
    health_check_timeout_seconds: float = 1.0
    health_cache_seconds: float = 1.5
    breaker_failure_threshold: int = 3
    breaker_reset_seconds: float = 1.0
    request_timeout_seconds: float = 30.0
    chat_timeout_seconds: float = 90.0
    # How long a running Idempotency-Key attempt holds its key without renewing it (it renews every third of
    # this while it runs): after a worker was killed or MongoDB died under a turn, retries get 409 this long.
    idempotency_lease_seconds: float = dataclasses.field(default=10.0, metadata={"minimum": 1})
    max_body_bytes: int = 65536
    # A body not received in full within this is a 408: a slow or stalled sender must not hold its request (and
    # a MAX_IN_FLIGHT slot) for the whole budget.
    body_read_timeout_seconds: float = 10.0
    # Requests one worker runs at once before it answers a fast 503 instead of queueing. A chat waiting on the
    # model (a held stream is in flight until its last event) costs about 65 KiB and no CPU but its
    # heartbeats: one worker held 2,000 behind a 90 s model and still answered /health/live at once
    # (docs/PERFORMANCE.md, "Held streams"). Behind a database slower than the arrivals, set it lower (section
    # 4 there). Keep it below WORKER_CONNECTIONS, which also counts idle keep-alive connections.
    max_in_flight: int = 2000
    # Operations and protection (docs/operations.md).
    api_keys: str | None = None  # comma-separated; set: /api/... needs "Authorization: Bearer <key>"
    rate_limit: str | None = None  # e.g. "30/minute", per API key (or client address); unset: no limit
    # Proxies in front of the service that append to X-Forwarded-For (1 on Heroku); 0 trusts no header.
    trusted_proxy_hops: int = 0
    metrics_token: str | None = None  # set: GET /metrics needs "Authorization: Bearer <token>"
    # The operator console (GET /console, docs/console.md) is served only with a token: it shows what an
    # attacker would like to see, and a loopback address may still be a reverse proxy's upstream.
    console_token: str | None = dataclasses.field(default=None, repr=False)
    access_log_skip_paths: str = ""  # comma-separated path prefixes left out of the access log
    # /health/live and /health/ready in the access log too. Off: orchestrators and load balancers call them
    # every few seconds per instance, which buries the requests worth reading and costs each probe about as
    # much as the rest of its answer (docs/PERFORMANCE.md, section 1); their counts and latencies are in
    # /metrics either way. /health, which monitors and people call, is logged regardless.
    access_log_probes: bool = False
    # A plain POST /api/chat/send answered before Flask, byte for byte as Flask answers it (api/chat_fast_send.py,
    # docs/PERFORMANCE.md section 2); false sends every request through Flask.
    send_fast_path: bool = True
    sentry_dsn: str | None = None
    sentry_environment: str = "production"

    @property
    def redis_enabled(self) -> bool:
        return bool(self.redis_url or self.redis_sentinels)

    @property
    def redis_sentinel_list(self) -> tuple[tuple[str, int], ...]:
        """(host, port) of each sentinel; empty without REDIS_SENTINELS."""
        return tuple(
            (host, int(port)) for host, _, port in (item.rpartition(":") for item in split_list(self.redis_sentinels))
        )

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
        values: dict[str, Any] = {}
        for field in fields(cls):
            name = field.name.upper()
            default = field.default
            if field.name in _CHOICES or "choices" in field.metadata:
                allowed = _CHOICES.get(field.name) or field.metadata["choices"]
                values[field.name] = _parse(
                    env, name, default, str.lower, lambda v, a=allowed: v in a, "one of " + ", ".join(allowed), errors
                )
            elif isinstance(default, bool):
                values[field.name] = _parse(
                    env, name, default, _boolean, lambda v: True, "true or false (also 1/0, yes/no, on/off)", errors
                )
            elif isinstance(default, int):
                low = field.metadata.get("minimum", _MINIMUM.get(field.name, 1))
                values[field.name] = _parse(
                    env, name, default, int, lambda v, low=low: v >= low, f"a whole number >= {low}", errors
                )
            elif isinstance(default, float):
                low = field.metadata.get("minimum")
                if low is None:
                    values[field.name] = _parse(
                        env, name, default, float, lambda v: 0 < v < 86400, "a number of seconds above 0", errors
                    )
                else:
                    values[field.name] = _parse(
                        env,
                        name,
                        default,
                        float,
                        lambda v, low=low: low <= v < 86400,
                        f"a number of seconds >= {low:g}",
                        errors,
                    )
            else:
                raw = env.get(name, "").strip()
                values[field.name] = raw or default
        if values["port"] > 65535:
            errors.append(f"PORT={values['port']}: expected a port number up to 65535")
        _check_uris(values, env, errors)
        _check_protection(values, errors)
        if values["mongo_min_pool_size"] > values["mongo_max_pool_size"]:
            errors.append("MONGO_MIN_POOL_SIZE: must not exceed MONGO_MAX_POOL_SIZE")
        _check_chat(values, errors)
        if values["drain_margin_seconds"] >= values["graceful_timeout_seconds"]:
            errors.append("DRAIN_MARGIN_SECONDS: must be below GRACEFUL_TIMEOUT_SECONDS")
        if errors:
            raise ConfigError("invalid configuration: " + "; ".join(errors))
        return cls(**values)


def _check_chat(values: dict[str, Any], errors: list[str]) -> None:
    if values["chat_heartbeat_seconds"] > 15:
        errors.append("CHAT_HEARTBEAT_SECONDS: expected at most 15 (a stream must show life at least every 15 s)")
    if values["max_reply_chars"] > MAX_REPLY_CHARS_LIMIT:
        errors.append(
            f"MAX_REPLY_CHARS: expected at most {MAX_REPLY_CHARS_LIMIT:,} (a stored message must stay far"
            " below MongoDB's 16 MiB document limit)"
        )
    for name in ("openai_base_url", "openai_fallback_base_url"):
        base = urlsplit(values[name] or "https://unset")
        if base.scheme not in ("http", "https") or not base.netloc:
            errors.append(f"{name.upper()}: expected http(s)://host[:port]/path, e.g. https://api.openai.com/v1")
    if not values["openai_fallback_base_url"]:
        # A second upstream half configured would silently never be asked.
        for name in ("openai_fallback_model", "openai_fallback_api_key"):
            if values[name]:
                errors.append(f"{name.upper()}: set, but OPENAI_FALLBACK_BASE_URL is not (the second upstream's URL)")


# A million characters is at most 4 MB of UTF-8: a stored reply stays well inside a 16 MiB BSON document.
MAX_REPLY_CHARS_LIMIT = 1_000_000
_CHOICES = {"log_level": ("debug", "info", "warning", "error"), "log_format": ("text", "json")}
_MINIMUM = {
    "startup_retries": 1,
    "mongo_min_pool_size": 0,
    "redis_retries": 0,
    "port": 1,
    "trusted_proxy_hops": 0,
    "gunicorn_keepalive": 0,
}
# A secret a header can carry as is, long enough not to be guessed.
_SECRET = re.compile(r"^[A-Za-z0-9._~+/=-]{16,}$")
_RATE = re.compile(r"^(\d+)\s*(?:/|per)\s*(\d+)?\s*(second|minute|hour|day)s?$", re.IGNORECASE)
_UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


def _boolean(raw: str) -> bool:
    word = raw.lower()
    if word in ("1", "true", "yes", "on"):
        return True
    if word in ("0", "false", "no", "off"):
        return False
    raise ValueError(raw)


def split_list(raw: str | None) -> tuple[str, ...]:
    return tuple(item.strip() for item in (raw or "").split(",") if item.strip())


def parse_rate_limit(raw: str) -> tuple[int, int]:
    """ "30/minute", "100 per hour", "5/10 seconds" -> (requests, window seconds); ValueError otherwise."""
    match = _RATE.match(raw.strip())
    if match is None or int(match.group(1)) < 1 or match.group(2) == "0":
        raise ValueError(raw)
    return int(match.group(1)), int(match.group(2) or 1) * _UNIT_SECONDS[match.group(3).lower()]


def _check_uris(values: dict[str, Any], env: Mapping[str, str], errors: list[str]) -> None:
    # What the drivers would refuse when a worker builds its clients is refused here, naming the variable:
    # a worker that raises while loading makes gunicorn halt the whole server ("Worker failed to boot") with a
    # traceback. The rules are those of PyMongo's and redis-py's URI parsers (tests/unit/test_config.py checks
    # them against the drivers); the drivers themselves cannot be imported here, in gunicorn's master.
    # A URI is never echoed: it may carry a password.
    uri = values["mongodb_uri"]
    parts = urlsplit(uri)
    if parts.scheme not in ("mongodb", "mongodb+srv") or not parts.netloc:
        errors.append("MONGODB_URI: expected mongodb://host[:port]/[database]")
    else:
        problem = _mongodb_uri_problem(uri, srv=parts.scheme == "mongodb+srv")
        if problem:
            errors.append(f"MONGODB_URI: {problem}")
        path_db = parts.path.lstrip("/")
        explicit = env.get("MONGODB_DB", "").strip()
        values["mongodb_db"] = path_db or explicit or "travel_agent"
        if not problem and _BAD_DB_NAME.search(values["mongodb_db"]):
            source = "MONGODB_URI: the database name in its path" if path_db else f"MONGODB_DB={explicit!r}"
            errors.append(f'{source}: expected a database name without spaces, dots or any of / \\ " $')
    redis_url = values["redis_url"]
    if redis_url:
        # REDIS_URL is optional, but a value that cannot be used is refused like any other setting: starting
        # without the cache would hide a typo until someone wonders why nothing is cached.
        problem = _redis_url_problem(redis_url)
        if problem:
            errors.append(f"REDIS_URL: {problem}")
    _check_sentinels(values, errors)


# PyMongo's rules: uri_parser's bad characters in a URI's database, and Database's in any database name.
_BAD_URI_DB = re.compile(r'[/ "$]')
_BAD_DB_NAME = re.compile(r'[/\\. "$\x00]')
_PORT_RULE = "expected each port to be a number from 1 to 65535"


def _mongodb_uri_problem(uri: str, *, srv: bool) -> str | None:
    hosts_and_more = uri.split("://", 1)[1]
    host_part, _, path_part = hosts_and_more.partition("/")
    host_part = host_part.partition("?")[0]
    hosts = host_part.rpartition("@")[2]
    if not hosts:
        return "expected at least one host"
    if srv:
        if "," in hosts or _port_of(hosts) is not None:
            return "expected one host name and no port with mongodb+srv://"
    for host in hosts.split(","):
        port = _port_of(host)
        if port is not None and not (port.isdigit() and 0 < int(port) <= 65535):
            return _PORT_RULE
    database = unquote_plus(path_part.partition("?")[0]).split(".", 1)[0]
    if _BAD_URI_DB.search(database):
        return 'expected a database name without spaces or any of / " $ in its path'
    return None


def _port_of(host: str) -> str | None:
    if host.startswith("["):  # an IPv6 literal: [::1]:27017
        _, _, after = host.partition("]")
        return after[1:] if after.startswith(":") else None
    return host.rpartition(":")[2] if ":" in host else None


def _redis_url_problem(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss", "unix"):
        return "expected redis://host[:port]/[db]"
    try:
        parts.port  # noqa: B018 - urllib checks the port when asked for it, as redis-py does
    except ValueError:
        return "expected the port to be a number from 0 to 65535"
    databases = [value for name, value in parse_qsl(parts.query) if name == "db"]
    if parts.scheme != "unix":  # a unix socket's path is the socket's
        databases.append(parts.path.lstrip("/"))
    # redis-py ignores a path that is not a number (and uses database 0): refused here, as surely a typo.
    if any(database and not database.isdigit() for database in databases):
        return "expected the database to be a number, e.g. redis://host:6379/0"
    return None


_SENTINEL = re.compile(r"^[A-Za-z0-9.-]+:(\d{1,5})$")
_MASTER_NAME = re.compile(r"^[A-Za-z0-9._-]+$")


def _check_sentinels(values: dict[str, Any], errors: list[str]) -> None:
    raw = values["redis_sentinels"]
    if raw:
        items = split_list(raw)
        matches = [_SENTINEL.match(item) for item in items]
        if not items or not all(m and 1 <= int(m.group(1)) <= 65535 for m in matches):
            errors.append("REDIS_SENTINELS: expected host:port[,host:port...]")
        if values["redis_url"] and urlsplit(values["redis_url"]).scheme == "unix":
            errors.append("REDIS_URL: a unix socket cannot be combined with REDIS_SENTINELS")
    if not _MASTER_NAME.match(values["redis_sentinel_master"]):
        errors.append("REDIS_SENTINEL_MASTER: expected a name of letters, digits or ._-")


def _check_protection(values: dict[str, Any], errors: list[str]) -> None:
    # Secrets are named, never echoed.
    keys = split_list(values["api_keys"])
    if values["api_keys"] and (not keys or not all(_SECRET.match(key) for key in keys)):
        errors.append("API_KEYS: expected comma-separated keys of at least 16 letters, digits or ._~+/=-")
    token = values["metrics_token"]
    if token and not _SECRET.match(token):
        errors.append("METRICS_TOKEN: expected at least 16 letters, digits or ._~+/=-")
    console = values["console_token"]
    if console and not _SECRET.match(console):
        errors.append("CONSOLE_TOKEN: expected at least 16 letters, digits or ._~+/=-")
    if values["rate_limit"]:
        try:
            parse_rate_limit(values["rate_limit"])
        except ValueError:
            errors.append(
                f"RATE_LIMIT={values['rate_limit']!r}: expected <count>/<second|minute|hour|day>, e.g. 30/minute"
            )
    if not all(path.startswith("/") for path in split_list(values["access_log_skip_paths"])):
        errors.append("ACCESS_LOG_SKIP_PATHS: expected comma-separated paths starting with /")
    dsn = values["sentry_dsn"]
    if dsn and (urlsplit(dsn).scheme not in ("http", "https") or not urlsplit(dsn).netloc):
        errors.append("SENTRY_DSN: expected https://<key>@<host>/<project>")
