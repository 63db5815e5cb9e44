"""REDIS_SENTINELS and REDIS_SENTINEL_MASTER: validated, and the pool they build keeps today's bounds."""

from __future__ import annotations

import pytest

from travel_agent.backends.redis_store import (
    DeadlineQueue,
    DeadlineSentinelConnection,
    DeadlineSentinelSSLConnection,
    SentinelBlockingPool,
    create_pool,
)
from travel_agent.config import ConfigError, Settings


def test_sentinels_enable_redis_and_parse() -> None:
    settings = Settings.from_env({"REDIS_SENTINELS": "10.0.0.1:26379, sentinel-b:26380"})
    assert settings.redis_enabled and settings.redis_sentinel_master == "mymaster"
    assert settings.redis_sentinel_list == (("10.0.0.1", 26379), ("sentinel-b", 26380))


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("REDIS_SENTINELS", "10.0.0.1"),
        ("REDIS_SENTINELS", "h:0"),
        ("REDIS_SENTINELS", "h:70000"),
        ("REDIS_SENTINELS", "h:x"),
        ("REDIS_SENTINEL_MASTER", "my master"),
    ],
)
def test_bad_sentinel_settings_are_named(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({"REDIS_SENTINELS": "h:26379", name: value})


def test_sentinel_pool_keeps_the_bounds_deadlines_and_the_url_password() -> None:
    settings = Settings.from_env(
        {
            "REDIS_SENTINELS": "127.0.0.1:26379",
            "REDIS_URL": "redis://:pw-1@ignored/2",
            "REDIS_MAX_CONNECTIONS": "7",
            "REDIS_POOL_TIMEOUT_SECONDS": "0.5",
        }
    )
    pool = create_pool(settings)
    assert isinstance(pool, SentinelBlockingPool)
    assert (pool.max_connections, pool.timeout, pool.queue_class) == (7, 0.5, DeadlineQueue)
    assert pool.connection_class is DeadlineSentinelConnection
    assert (pool.connection_kwargs["password"], pool.connection_kwargs["db"]) == ("pw-1", 2)
    assert "host" not in pool.connection_kwargs  # the sentinels name the primary
    tls = create_pool(Settings.from_env({"REDIS_SENTINELS": "h:1", "REDIS_URL": "rediss://:p@x/0?ssl_cert_reqs=none"}))
    assert tls.connection_class is DeadlineSentinelSSLConnection
