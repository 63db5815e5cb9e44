"""What is switched on, said without a secret: the master's start-up line and the console's "Features".

An allow-list: each item says whether a secret is set (and how many keys), never its value; a URL is shown
as its host only, since a URL may carry a password. Standard library only (the master imports it).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from travel_agent.config import Settings


def _on(value: object) -> str:
    return "set" if value else "not set"


def _host(url: str) -> str:
    try:
        parts = urlsplit(url)
        return parts.hostname + (f":{parts.port}" if parts.port else "") if parts.hostname else "?"
    except ValueError:
        return "?"


def redis_mode(s: Settings) -> str:
    if s.redis_cluster_nodes:
        return f"cluster ({len(s.redis_cluster_node_list)} seed node(s))"
    if s.redis_sentinels:
        return f"sentinel ({len(s.redis_sentinel_list)} sentinel(s), primary {s.redis_sentinel_master})"
    return "on (REDIS_URL)" if s.redis_url else "off (no cache)"


def features(s: Settings) -> list[tuple[str, str]]:
    """(variable, what it means now) for everything an operator switches on or off."""
    agent = s.agent_provider
    if agent == "openai":
        agent = f"openai ({s.openai_model} at {_host(s.openai_base_url)}, key {_on(s.openai_api_key)})"
    fallback: list[tuple[str, str]] = []
    if s.agent_provider == "openai":
        second = _host(s.openai_fallback_base_url) if s.openai_fallback_base_url else "none"
        fallback = [("AGENT_FALLBACK", f"{s.agent_fallback} (second upstream: {second})")]
    return [
        ("AGENT_PROVIDER", agent),
        *fallback,
        ("REDIS", redis_mode(s)),
        ("API_KEYS", f"{len(s.api_key_list)} key(s)" if s.api_key_list else "not set (API open)"),
        ("RATE_LIMIT", s.rate_limit or "not set"),
        ("METRICS_TOKEN", _on(s.metrics_token)),
        ("CONSOLE_TOKEN", _on(s.console_token)),
        ("SENTRY_DSN", _on(s.sentry_dsn)),
        ("CHAT_RETENTION_DAYS", f"{s.chat_retention_days} day(s)" if s.chat_retention_days else "not set (kept)"),
        ("LOG_FORMAT", s.log_format),
        ("LOG_LEVEL", s.log_level),
    ]


def summary_line(s: Settings) -> str:
    """One line for the log at start: "travel_agent on: AGENT_PROVIDER=offline; REDIS=off (no cache); ..."."""
    return "travel_agent on: " + "; ".join(f"{name}={value}" for name, value in features(s))
