"""Settings: defaults, environment, overrides, and errors that name the variable."""

import pytest

from travel_agent.config import ConfigError, Settings


def test_defaults_are_the_seed_values() -> None:
    s = Settings.from_env({})
    assert s.host == "0.0.0.0"
    assert (s.port, s.web_concurrency, s.mongodb_uri, s.mongodb_db) == (
        8000, 2, "mongodb://127.0.0.1:27017/", "travel_agent")
    assert (s.mongo_server_selection_timeout_ms, s.mongo_connect_timeout_ms, s.mongo_socket_timeout_ms,
            s.mongo_heartbeat_frequency_ms) == (5000, 10000, 20000, 10000)
    assert (s.mongo_max_pool_size, s.mongo_min_pool_size, s.mongo_max_idle_time_ms,
            s.mongo_wait_queue_timeout_ms) == (50, 5, 30000, 10000)
    assert (s.redis_max_connections, s.redis_socket_timeout_seconds, s.redis_connect_timeout_seconds,
            s.redis_health_check_interval_seconds) == (50, 5.0, 5.0, 30)
    assert s.redis_url is None and not s.redis_enabled
    assert (s.startup_retries, s.startup_retry_delay_seconds) == (3, 2.0)
    assert (s.log_dir, s.log_level, s.log_format) == ("data/logs", "info", "text")
    assert (s.request_timeout_seconds, s.chat_timeout_seconds, s.max_body_bytes) == (30.0, 90.0, 65536)


def test_environment_then_overrides() -> None:
    env = {"PORT": "9000", "REDIS_URL": "redis://h:1/0", "LOG_FORMAT": "JSON", "LOG_LEVEL": "debug"}
    s = Settings.from_env(env, overrides={"port": 9100, "REDIS_URL": None})
    assert s.port == 9100
    assert s.redis_url is None
    assert s.log_format == "json" and s.log_level == "debug"


@pytest.mark.parametrize(("uri", "db_var", "expected"), [
    ("mongodb://h:27017/trips", "other", "trips"),
    ("mongodb://h:27017/", "other", "other"),
    ("mongodb://h:27017", None, "travel_agent"),
    ("mongodb://u:p@h:27017/bookings?authSource=admin", None, "bookings"),
])
def test_database_comes_from_uri_path_then_variable(uri: str, db_var: str | None, expected: str) -> None:
    env = {"MONGODB_URI": uri} | ({"MONGODB_DB": db_var} if db_var else {})
    assert Settings.from_env(env).mongodb_db == expected


@pytest.mark.parametrize(("name", "value"), [
    ("PORT", "eighty"), ("PORT", "70000"), ("WEB_CONCURRENCY", "0"), ("STARTUP_RETRIES", "-1"),
    ("STARTUP_RETRY_DELAY_SECONDS", "soon"), ("LOG_FORMAT", "xml"), ("LOG_LEVEL", "loud"),
    ("MONGO_MAX_POOL_SIZE", "1.5"), ("REDIS_URL", "http://h/"), ("CHAT_TIMEOUT_SECONDS", "0"),
])
def test_bad_value_names_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: value})


def test_bad_mongodb_uri_is_named_but_never_echoed() -> None:
    with pytest.raises(ConfigError, match="MONGODB_URI") as caught:
        Settings.from_env({"MONGODB_URI": "postgres://admin:hunter2@db/x"})
    assert "hunter2" not in str(caught.value)


def test_all_errors_reported_at_once() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"PORT": "x", "LOG_FORMAT": "y"})
    assert "PORT" in str(caught.value) and "LOG_FORMAT" in str(caught.value)


def test_min_pool_above_max_is_rejected() -> None:
    with pytest.raises(ConfigError, match="MONGO_MIN_POOL_SIZE"):
        Settings.from_env({"MONGO_MIN_POOL_SIZE": "10", "MONGO_MAX_POOL_SIZE": "5"})


def test_chat_settings_defaults_and_validation() -> None:
    s = Settings.from_env({})
    assert (s.agent_provider, s.openai_base_url, s.openai_model, s.openai_max_retries) == (
        "offline", "https://api.openai.com/v1", "gpt-4o-mini", 2)
    assert (s.chat_history_messages, s.chat_heartbeat_seconds, s.offline_chunk_delay_ms) == (20, 10.0, 0)
    s = Settings.from_env({"AGENT_PROVIDER": "OpenAI", "OPENAI_API_KEY": "sk-very-secret", "OPENAI_MAX_RETRIES": "0",
                           "OFFLINE_CHUNK_DELAY_MS": "0"})
    assert (s.agent_provider, s.openai_max_retries, s.offline_chunk_delay_ms) == ("openai", 0, 0)
    assert "sk-very-secret" not in repr(s)
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"AGENT_PROVIDER": "gpt", "CHAT_HEARTBEAT_SECONDS": "20", "OPENAI_BASE_URL": "api.openai.com",
                           "OPENAI_MAX_RETRIES": "-1"})
    message = str(caught.value)
    for name in ("AGENT_PROVIDER", "CHAT_HEARTBEAT_SECONDS", "OPENAI_BASE_URL", "OPENAI_MAX_RETRIES"):
        assert name in message
