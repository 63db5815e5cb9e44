"""Settings: defaults, environment, overrides, and errors that name the variable."""

from pathlib import Path

import pytest

from travel_agent.config import ConfigError, Settings


def test_defaults_are_the_seed_values() -> None:
    s = Settings.from_env({})
    assert s.host == "0.0.0.0"
    assert (s.port, s.web_concurrency, s.mongodb_uri, s.mongodb_db) == (
        8000,
        2,
        "mongodb://127.0.0.1:27017/",
        "travel_agent",
    )
    assert (
        s.mongo_server_selection_timeout_ms,
        s.mongo_connect_timeout_ms,
        s.mongo_socket_timeout_ms,
        s.mongo_heartbeat_frequency_ms,
    ) == (5000, 10000, 20000, 10000)
    assert (s.mongo_max_pool_size, s.mongo_min_pool_size, s.mongo_max_idle_time_ms, s.mongo_wait_queue_timeout_ms) == (
        50,
        5,
        30000,
        10000,
    )
    assert (
        s.redis_max_connections,
        s.redis_socket_timeout_seconds,
        s.redis_connect_timeout_seconds,
        s.redis_health_check_interval_seconds,
    ) == (50, 5.0, 5.0, 30)
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


@pytest.mark.parametrize(
    ("uri", "db_var", "expected"),
    [
        ("mongodb://h:27017/trips", "other", "trips"),
        ("mongodb://h:27017/", "other", "other"),
        ("mongodb://h:27017", None, "travel_agent"),
        ("mongodb://u:p@h:27017/bookings?authSource=admin", None, "bookings"),
    ],
)
def test_database_comes_from_uri_path_then_variable(uri: str, db_var: str | None, expected: str) -> None:
    env = {"MONGODB_URI": uri} | ({"MONGODB_DB": db_var} if db_var else {})
    assert Settings.from_env(env).mongodb_db == expected


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PORT", "eighty"),
        ("PORT", "70000"),
        ("WEB_CONCURRENCY", "0"),
        ("STARTUP_RETRIES", "-1"),
        ("STARTUP_RETRY_DELAY_SECONDS", "soon"),
        ("LOG_FORMAT", "xml"),
        ("LOG_LEVEL", "loud"),
        ("MONGO_MAX_POOL_SIZE", "1.5"),
        ("REDIS_URL", "http://h/"),
        ("CHAT_TIMEOUT_SECONDS", "0"),
        ("AGENT_FALLBACK", "second"),
        ("OPENAI_FALLBACK_BASE_URL", "api.example.com/v1"),
        ("OPENAI_FALLBACK_MODEL", "set-without-its-url"),
        ("OPENAI_FALLBACK_API_KEY", "sk-set-without-its-url"),
        ("OPENAI_STREAM_USAGE", "sometimes"),
    ],
)
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
        "offline",
        "https://api.openai.com/v1",
        "gpt-4o-mini",
        2,
    )
    assert (s.chat_history_messages, s.chat_heartbeat_seconds, s.offline_chunk_delay_ms) == (20, 10.0, 0)
    s = Settings.from_env(
        {
            "AGENT_PROVIDER": "OpenAI",
            "OPENAI_API_KEY": "sk-very-secret",
            "OPENAI_MAX_RETRIES": "0",
            "OFFLINE_CHUNK_DELAY_MS": "0",
        }
    )
    assert (s.agent_provider, s.openai_max_retries, s.offline_chunk_delay_ms) == ("openai", 0, 0)
    assert "sk-very-secret" not in repr(s)
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(
            {
                "AGENT_PROVIDER": "gpt",
                "CHAT_HEARTBEAT_SECONDS": "20",
                "OPENAI_BASE_URL": "api.openai.com",
                "OPENAI_MAX_RETRIES": "-1",
            }
        )
    message = str(caught.value)
    for name in ("AGENT_PROVIDER", "CHAT_HEARTBEAT_SECONDS", "OPENAI_BASE_URL", "OPENAI_MAX_RETRIES"):
        assert name in message


# -- values the drivers would refuse when a worker builds its clients -----------------------------------------

REFUSED_MONGODB_URIS = [
    "mongodb://127.0.0.1:99999/",
    "mongodb://127.0.0.1:0/",
    "mongodb://127.0.0.1:port/",
    "mongodb://h1:1,h2:x/",
    "mongodb://u:hunter2@127.0.0.1:99999/",
    "mongodb://127.0.0.1/my db",
    "mongodb://127.0.0.1/a$b",
    "mongodb+srv://u:hunter2@cluster.example.com:27017/",
    "mongodb+srv://a.example.com,b.example.com/",
]
ACCEPTED_MONGODB_URIS = [
    "mongodb://127.0.0.1:27017/",
    "mongodb://h1:1,h2:2/trips?replicaSet=rs0",
    "mongodb://[::1]:27017/",
    "mongodb://u:p%40ss@h/db?authSource=admin",
    "mongodb+srv://u:p@cluster0.example.com/trips",
]
REFUSED_REDIS_URLS = [
    "redis://127.0.0.1:notaport/0",
    "redis://127.0.0.1:99999/0",
    "redis://:hunter2@h:x/0",
    "unix:///tmp/redis.sock?db=a",
]
ACCEPTED_REDIS_URLS = ["redis://127.0.0.1:6379/0", "rediss://:p@h:6380/2", "redis://h", "unix:///tmp/r.sock?db=1"]


@pytest.mark.parametrize("uri", REFUSED_MONGODB_URIS)
def test_a_mongodb_uri_the_driver_refuses_is_named_never_echoed(uri: str) -> None:
    with pytest.raises(ConfigError, match="MONGODB_URI") as caught:
        Settings.from_env({"MONGODB_URI": uri})
    assert "hunter2" not in str(caught.value) and uri not in str(caught.value)
    assert "MONGODB_DB" not in str(caught.value)


@pytest.mark.parametrize("uri", REFUSED_MONGODB_URIS + ACCEPTED_MONGODB_URIS)
def test_mongodb_uri_rules_agree_with_pymongo(uri: str) -> None:
    """The config's verdict is PyMongo's own (its parser, without the SRV lookup that needs DNS)."""
    from pymongo.errors import ConfigurationError, InvalidName
    from pymongo.uri_parser_shared import _validate_uri

    try:
        parsed = _validate_uri(uri, srv_max_hosts=None)
        from pymongo import MongoClient

        MongoClient(connect=False)[parsed["database"] or "travel_agent"]
        driver_accepts = True
    except (ValueError, ConfigurationError, InvalidName):
        driver_accepts = False
    try:
        Settings.from_env({"MONGODB_URI": uri})
        config_accepts = True
    except ConfigError:
        config_accepts = False
    assert config_accepts == driver_accepts


@pytest.mark.parametrize("name", ["my db", "a.b", "x$", "a/b"])
def test_a_database_name_the_driver_refuses_is_named(name: str) -> None:
    from pymongo import MongoClient
    from pymongo.errors import InvalidName

    with pytest.raises(InvalidName):
        MongoClient(connect=False)[name]
    with pytest.raises(ConfigError, match="MONGODB_DB"):
        Settings.from_env({"MONGODB_DB": name})


@pytest.mark.parametrize("url", REFUSED_REDIS_URLS + ACCEPTED_REDIS_URLS)
def test_redis_url_rules_agree_with_redis_py(url: str) -> None:
    """An optional REDIS_URL that cannot be used stops the start like any other bad setting (exit 2, named);
    redis-py's own parser is the judge of what it can use."""
    from redis import ConnectionPool

    try:
        ConnectionPool.from_url(url)  # parses; connects only on first use
        driver_accepts = True
    except ValueError:
        driver_accepts = False
    try:
        Settings.from_env({"REDIS_URL": url})
        config_accepts = True
    except ConfigError as exc:
        assert "REDIS_URL" in str(exc) and url not in str(exc) and "hunter2" not in str(exc)
        config_accepts = False
    assert config_accepts == driver_accepts


def test_a_redis_database_path_that_is_not_a_number_is_refused() -> None:
    """Stricter than redis-py, which ignores such a path and silently uses database 0."""
    with pytest.raises(ConfigError, match="REDIS_URL"):
        Settings.from_env({"REDIS_URL": "redis://h:6379/zero"})


def test_max_reply_chars_is_bounded_below_mongodbs_document_limit() -> None:
    assert Settings.from_env({}).max_reply_chars == 100_000
    assert Settings.from_env({"MAX_REPLY_CHARS": "1000000"}).max_reply_chars == 1_000_000
    for bad in ("0", "1000001", "lots"):
        with pytest.raises(ConfigError, match="MAX_REPLY_CHARS"):
            Settings.from_env({"MAX_REPLY_CHARS": bad})


# -- the one mechanism: each rule is its field's metadata --------------------------------------------------------


def test_each_rule_is_stated_on_its_field() -> None:
    """choices, minimum, maximum and checks live on the fields (no side tables), and the reader obeys them."""
    from dataclasses import fields

    known = {"choices", "minimum", "maximum", "check", "why", "secret", "kind"}
    by_name = {field.name: field for field in fields(Settings)}
    assert all(set(field.metadata) <= known for field in by_name.values())
    assert by_name["port"].metadata["maximum"] == 65535 and by_name["log_format"].metadata["choices"]
    assert Settings.from_env({"PORT": "65535"}).port == 65535
    with pytest.raises(ConfigError, match=r"PORT='65536': expected a whole number from 1 to 65535$"):
        Settings.from_env({"PORT": "65536"})
    with pytest.raises(ConfigError, match=r"CHAT_HEARTBEAT_SECONDS='20': .* at most 15 \(a stream must show life"):
        Settings.from_env({"CHAT_HEARTBEAT_SECONDS": "20"})


def test_secrets_are_neither_echoed_nor_in_the_repr() -> None:
    secrets = {"API_KEYS": "k" * 20, "METRICS_TOKEN": "m" * 20, "CONSOLE_TOKEN": "console-Tq8vX2mLp4Rz9wKbN3"}
    settings = Settings.from_env(secrets)
    assert not any(secret in repr(settings) for secret in secrets.values())
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"API_KEYS": "short-key", "CONSOLE_TOKEN": "weak"})
    assert "short-key" not in str(caught.value) and "weak" not in str(caught.value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MONGODB_URI", "mongodb://[::1/"),  # urllib raises on an unclosed IPv6 bracket
        ("MONGODB_URI", "mongodb://h:\u00b2/"),  # "²".isdigit() is true, int("²") raises
        ("REDIS_URL", "redis://[h/0"),
        ("REDIS_URL", "redis://h:6379/\u00b2"),
        ("SENTRY_DSN", "https://[k@h/1"),
        ("OPENAI_BASE_URL", "http://[h/v1"),
    ],
)
def test_a_malformed_address_is_one_named_line_not_a_traceback(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name) as caught:
        Settings.from_env({name: value})
    assert value not in str(caught.value)


def test_fullwidth_digits_in_a_port_are_read_as_pymongo_reads_them() -> None:
    assert (
        Settings.from_env({"MONGODB_URI": "mongodb://h:\uff12\uff17\uff10\uff11\uff17/"}).mongodb_db == "travel_agent"
    )


# -- upper bounds: what the drivers, gevent or the OS would refuse later is refused at start -------------------


def _int_fields() -> list[str]:
    from dataclasses import fields

    return [f.name for f in fields(Settings) if f.metadata.get("kind", type(f.default)) is int]


def test_every_whole_number_setting_has_an_upper_bound_stated_in_the_docs() -> None:
    from dataclasses import fields
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "configuration.md").read_text(encoding="utf-8")
    rows = {line.split("`")[1]: line for line in doc.splitlines() if line.startswith("| `")}
    by_name = {f.name: f for f in fields(Settings)}
    for name in _int_fields():
        maximum = by_name[name].metadata.get("maximum")
        assert maximum is not None, f"{name.upper()} has no maximum"
        assert f"at most {maximum:,}" in rows[name.upper()], (
            f"docs/configuration.md: {name.upper()} needs 'at most {maximum:,}'"
        )


@pytest.mark.parametrize("name", _int_fields())
def test_one_past_the_maximum_is_named_and_the_maximum_is_accepted(name: str) -> None:
    from dataclasses import fields

    maximum = next(f for f in fields(Settings) if f.name == name).metadata["maximum"]
    variable = name.upper()
    env = {"GRACEFUL_TIMEOUT_SECONDS": "86400"}  # DRAIN_MARGIN_SECONDS must stay below it
    if name == "mongo_min_pool_size":
        env["MONGO_MAX_POOL_SIZE"] = str(maximum)
    assert getattr(Settings.from_env(env | {variable: str(maximum)}), name) == maximum
    with pytest.raises(ConfigError, match=rf"^invalid configuration: {variable}='{maximum + 1}': expected a whole"):
        Settings.from_env(env | {variable: str(maximum + 1)})


def test_the_drivers_and_gevent_take_every_maximum() -> None:
    """The bounds are below what PyMongo (timeouts under 1e9 ms), redis-py and gevent's pools (a C ssize_t)
    accept: a client built from settings at their maxima constructs without error."""
    import subprocess
    import sys
    from dataclasses import fields

    from travel_agent.backends.mongo import create_client
    from travel_agent.backends.redis_store import create_pool

    maxima = {f.name.upper(): str(f.metadata["maximum"]) for f in fields(Settings) if "maximum" in f.metadata}
    maxima["REDIS_URL"] = "redis://127.0.0.1:1/0"
    settings = Settings.from_env(maxima)
    client = create_client(settings)  # connects in the background only
    client.close()
    create_pool(settings).disconnect()
    # In a child: gevent's hub, once made here, would keep a stale clock for later tests' timers.
    pools = f"gevent.pool.Pool({settings.worker_connections}); gevent.queue.LifoQueue({settings.redis_max_connections})"
    subprocess.run([sys.executable, "-c", "import gevent.pool, gevent.queue; " + pools], check=True, timeout=60)
    for huge in ("1000000000", "99999999999999999999"):  # PyMongo's limit, and the overflow
        with pytest.raises(ConfigError, match="MONGO_SOCKET_TIMEOUT_MS"):
            Settings.from_env({"MONGO_SOCKET_TIMEOUT_MS": huge})


def test_an_unusable_prometheus_directory_is_named(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    for path in (blocker, blocker / "below"):
        with pytest.raises(ConfigError, match="PROMETHEUS_MULTIPROC_DIR=.*a file is in the way"):
            Settings.from_env({"PROMETHEUS_MULTIPROC_DIR": str(path)})
    assert Settings.from_env({"PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "new" / "dir")}).prometheus_multiproc_dir
