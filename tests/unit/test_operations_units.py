"""Operations and protection, piece by piece: settings, bearer tokens, the in-memory window, the metrics
directory the master keeps, the healthcheck's edge cases, Sentry's options, and what the master imports."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from travel_agent import __main__ as cli
from travel_agent import __version__
from travel_agent.config import ConfigError, Settings, parse_rate_limit
from travel_agent.observability import error_reporting
from travel_agent.runtime import metrics_files
from travel_agent.web import rate_limit
from travel_agent.web.auth import bearer_token, matches_any

SECRET = "s3cret-key-0123456789"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30/minute", (30, 60)),
        ("100 per hour", (100, 3600)),
        ("5/10 seconds", (5, 10)),
        ("1/Day", (1, 86400)),
        ("3/second", (3, 1)),
        ("2 per 5 minutes", (2, 300)),
    ],
)
def test_rate_limit_grammar(text: str, expected: tuple[int, int]) -> None:
    assert parse_rate_limit(text) == expected
    assert Settings.from_env({"RATE_LIMIT": text}).rate_limit_rule == expected


@pytest.mark.parametrize("text", ["30", "0/minute", "ten/minute", "30/fortnight", "30/0 seconds", "-1/second"])
def test_bad_rate_limit_names_the_variable(text: str) -> None:
    with pytest.raises(ConfigError, match="RATE_LIMIT"):
        Settings.from_env({"RATE_LIMIT": text})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("API_KEYS", "short"),
        ("API_KEYS", f"{SECRET},tiny"),
        ("API_KEYS", " , "),
        ("API_KEYS", f"{SECRET} x"),
        ("METRICS_TOKEN", "tiny-token"),
        ("SENTRY_DSN", f"ftp://{SECRET}@sentry.example/1"),
        ("ACCESS_LOG_SKIP_PATHS", "health"),
        ("TRUSTED_PROXY_HOPS", "-1"),
    ],
)
def test_bad_protection_settings_are_named_never_echoed(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name) as caught:
        Settings.from_env({name: value})
    assert SECRET not in str(caught.value)


def test_protection_is_off_by_default() -> None:
    s = Settings.from_env({})
    assert (s.api_key_list, s.rate_limit_rule, s.metrics_token, s.sentry_dsn) == ((), None, None, None)
    assert (s.trusted_proxy_hops, s.access_log_skip_list) == (0, ())
    keyed = Settings.from_env({"API_KEYS": f" {SECRET} , other-key-0123456789 ", "ACCESS_LOG_SKIP_PATHS": "/health,"})
    assert keyed.api_key_list == (SECRET, "other-key-0123456789")
    assert keyed.access_log_skip_list == ("/health",)


@pytest.mark.parametrize(
    ("header", "token"),
    [
        (f"Bearer {SECRET}", SECRET),
        (f"bearer   {SECRET} ", SECRET),
        ("Bearer", None),
        ("Bearer ", None),
        (f"Basic {SECRET}", None),
        (None, None),
        ("", None),
    ],
)
def test_bearer_token(header: str | None, token: str | None) -> None:
    assert bearer_token(header) == token


def test_matches_any_key() -> None:
    keys = (SECRET, "other-key-0123456789")
    assert matches_any(SECRET, keys) and matches_any("other-key-0123456789", keys)
    assert not matches_any(SECRET[:-1], keys) and not matches_any(SECRET + "x", keys)
    assert not matches_any("clé-non-ascii-éèà", keys)
    assert not matches_any(SECRET, ())


def test_memory_window_limits_resets_and_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(rate_limit.time, "monotonic", lambda: now[0])
    windows = rate_limit.MemoryWindows(limit=2, window_seconds=60)
    assert [(d.allowed, d.remaining) for d in (windows.hit("a") for _ in range(3))] == [
        (True, 1),
        (True, 0),
        (False, 0),
    ]
    assert windows.hit("a").retry_after == 60  # the time left in the window, rounded up
    now[0] += 59.5
    assert windows.hit("a") == rate_limit.Decision(False, 1, "memory", 0)
    now[0] += 1
    assert windows.hit("a").allowed
    monkeypatch.setattr(rate_limit, "MAX_MEMORY_ENTRIES", 3)
    for client in "bcdefg":
        windows.hit(client)
    assert len(windows._windows) <= 3


def test_metrics_directory_configured_is_emptied_of_old_values(tmp_path: Path) -> None:
    configured = tmp_path / "prom"
    configured.mkdir()
    (configured / "counter_123.db").write_bytes(b"old")
    (configured / "README").write_text("not ours")
    env = {metrics_files.VARIABLE: str(configured)}
    assert metrics_files.prepare_directory(env) == str(configured)
    assert sorted(p.name for p in configured.iterdir()) == ["README"]
    metrics_files.remove_directory()
    assert configured.exists(), "a configured directory is never removed"


def test_metrics_directory_default_is_private_and_removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metrics_files.tempfile, "gettempdir", lambda: str(tmp_path))
    env: dict[str, str] = {}
    path = Path(metrics_files.prepare_directory(env))
    assert env[metrics_files.VARIABLE] == str(path) and path.parent == tmp_path and str(os.getpid()) in path.name
    assert path.is_dir() and not any(path.iterdir())
    metrics_files.remove_directory()
    assert not path.exists()


def test_dead_worker_loses_live_gauges_keeps_counters(tmp_path: Path) -> None:
    names = [
        "gauge_livesum_41.db",
        "gauge_livemax_41.db",
        "gauge_livemostrecent_41.db",
        "counter_41.db",
        "histogram_41.db",
        "gauge_livesum_42.db",
        "gauge_max_41.db",
    ]
    for name in names:
        (tmp_path / name).write_bytes(b"")
    metrics_files.mark_worker_dead(41, {metrics_files.VARIABLE: str(tmp_path)})
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["counter_41.db", "histogram_41.db", "gauge_livesum_42.db", "gauge_max_41.db"]
    )
    metrics_files.mark_worker_dead(41, {})  # no directory: nothing to do, no error


class _Canned(BaseHTTPRequestHandler):
    status = 200
    body = b""

    def do_GET(self) -> None:
        self.send_response(self.status)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def canned() -> Iterator[Any]:
    """``canned(status, body)`` -> the URL of a local server that answers just that."""
    servers: list[ThreadingHTTPServer] = []

    def serve(status: int, body: bytes) -> str:
        server = ThreadingHTTPServer(("127.0.0.1", 0), type("H", (_Canned,), {"status": status, "body": body}))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/health"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("status", "body", "code"),
    [
        (200, {"status": "healthy"}, 0),
        (200, {"status": "degraded"}, 0),
        (503, {"status": "unhealthy"}, 1),
        (200, {"status": "unknown"}, 1),
        (200, ["healthy"], 1),
        (503, b"<html>proxy error</html>", 1),
        (502, b"Bad Gateway", 1),
        (200, b"not json", 1),
        (404, b"", 1),
    ],
)
def test_healthcheck_answers(
    canned: Any, capsys: pytest.CaptureFixture[str], status: int, body: Any, code: int
) -> None:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    assert cli.healthcheck(canned(status, raw), timeout=2) == code
    assert "Traceback" not in capsys.readouterr().err


def test_healthcheck_default_url_follows_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "5123")
    assert cli.default_health_url() == "http://127.0.0.1:5123/health"
    monkeypatch.delenv("PORT")
    assert cli.default_health_url() == "http://127.0.0.1:8000/health"


def test_healthcheck_reads_port_as_serve_does(canned: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fullwidth digits are a PORT that serve accepts (int() reads them): the probe must ask that port."""
    url = canned(200, json.dumps({"status": "healthy"}).encode())
    port = url.split(":")[2].split("/")[0]
    monkeypatch.setenv("PORT", port.translate({ord(d): 0xFF10 + int(d) for d in "0123456789"}))
    assert Settings.from_env().port == int(port)
    assert cli.main(["healthcheck", "--timeout", "2"]) == 0


@pytest.mark.parametrize(
    ("env", "args", "named"),
    [
        ({"PORT": "abc"}, [], "PORT='abc'"),
        ({"PORT": "70000"}, [], "PORT='70000'"),
        ({}, ["--timeout", "inf"], "--timeout='inf'"),
        ({}, ["--timeout", "nan"], "--timeout='nan'"),
        ({}, ["--timeout", "-1"], "--timeout='-1'"),
        ({}, ["--timeout", "soon"], "--timeout='soon'"),
        ({}, ["--verbose"], "unrecognized arguments: --verbose"),
    ],
)
def test_healthcheck_bad_input_is_one_line_and_exit_1(env: dict[str, str], args: list[str], named: str) -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "travel_agent", "healthcheck", *args],
        env=dict(os.environ, PORT="1") | env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("travel_agent healthcheck: ") and named in lines[0], done.stderr


def test_sentry_is_inert_without_a_dsn(monkeypatch: pytest.MonkeyPatch) -> None:
    import sentry_sdk

    monkeypatch.setattr(sentry_sdk, "init", lambda **_: pytest.fail("Sentry initialised without a DSN"))
    assert error_reporting.init_error_reporting(Settings.from_env({})) is False


def test_sentry_init_options(monkeypatch: pytest.MonkeyPatch) -> None:
    import sentry_sdk

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(sentry_sdk, "init", lambda **options: calls.append(options))
    settings = Settings.from_env({"SENTRY_DSN": "https://public@sentry.example/7", "SENTRY_ENVIRONMENT": "staging"})
    assert error_reporting.init_error_reporting(settings) is True
    [options] = calls
    assert options["dsn"] == "https://public@sentry.example/7" and options["environment"] == "staging"
    assert options["send_default_pii"] is False
    assert options["max_request_body_size"] == "never" and options["include_local_variables"] is False
    assert options["release"] == f"travel_agent@{__version__}"


def test_new_key_prints_a_key_every_secret_setting_accepts(capsys: pytest.CaptureFixture[str]) -> None:
    keys = set()
    for _ in range(50):
        assert cli.main(["new-key"]) == 0
        keys.add(capsys.readouterr().out.strip())
    assert len(keys) == 50 and all(len(key) == 43 for key in keys)
    for key in keys:
        settings = Settings.from_env({"API_KEYS": f"{key},{key[::-1]}", "METRICS_TOKEN": key, "CONSOLE_TOKEN": key})
        assert settings.api_key_list == (key, key[::-1])


def test_the_start_up_line_says_what_is_on_and_no_secret() -> None:
    from travel_agent.config_summary import summary_line

    secrets = {
        "API_KEYS": "key-one-Xq7Lm3pR9vT2,key-two-Hq3Zr8Wm2Kd7",
        "METRICS_TOKEN": "metrics-Tq8vX2mLp4Rz9w",
        "CONSOLE_TOKEN": "console-Tq8vX2mLp4Rz9wKbN3",
        "OPENAI_API_KEY": "sk-secret-value",
        "OPENAI_BASE_URL": "https://proxyuser:proxypass@llm.example.com:8443/v1",
        "SENTRY_DSN": "https://sentrykey@o1.ingest.example.com/2",
        "REDIS_URL": "redis://:redispass@cache.example.com:6379/0",
        "MONGODB_URI": "mongodb://dbuser:dbpass@db.example.com/trips",
    }
    line = summary_line(Settings.from_env(secrets | {"AGENT_PROVIDER": "openai", "RATE_LIMIT": "30/minute"}))
    assert "\n" not in line and line.startswith("travel_agent on: AGENT_PROVIDER=openai (gpt-4o-mini at ")
    for shown in ("llm.example.com:8443", "API_KEYS=2 key(s)", "RATE_LIMIT=30/minute", "CONSOLE_TOKEN=set"):
        assert shown in line
    assert "REDIS=on (REDIS_URL)" in line and "SENTRY_DSN=set" in line and "METRICS_TOKEN=set" in line
    never = ["key-one-Xq7Lm3pR9vT2", "key-two-Hq3Zr8Wm2Kd7", "metrics-Tq8vX2mLp4Rz9w", "console-Tq8vX2mLp4Rz9wKbN3"]
    never += ["sk-secret-value", "proxyuser", "proxypass", "sentrykey", "redispass", "dbuser", "dbpass"]
    assert [secret for secret in never if secret in line] == []
    off = summary_line(Settings.from_env({}))
    assert "AGENT_PROVIDER=offline" in off and "REDIS=off (no cache)" in off and "API_KEYS=not set (API open)" in off
