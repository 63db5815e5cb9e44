"""The access log of runtime/logger.py: the service's line written without gunicorn's generic formatting, the
same text; the orchestrator's probes left out unless ACCESS_LOG_PROBES is on."""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass, field
from typing import Any

import pytest
from gunicorn import glogging
from gunicorn.config import Config

from travel_agent.config import ConfigError, Settings
from travel_agent.request_context import STREAM_ERROR_KEY
from travel_agent.runtime.logger import ACCESS_LOG_FORMAT, GunicornLogger


@dataclass
class FakeResponse:
    """What gunicorn's access() reads of its Response (a stand-in: building a real one needs a socket)."""

    status: str = "200 OK"
    sent: int | None = 18
    headers: list[tuple[str, str]] = field(
        default_factory=lambda: [("Content-Type", "application/json"), ("X-Request-ID", "abc-123")]
    )


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def make_logger(monkeypatch: pytest.MonkeyPatch, **env: str) -> tuple[GunicornLogger, Lines]:
    for name, value in {"LOG_FORMAT": "text", **env}.items():
        monkeypatch.setenv(name, value)
    cfg = Config()
    cfg.set("accesslog", "-")
    cfg.set("access_log_format", ACCESS_LOG_FORMAT)
    logger = GunicornLogger(cfg)
    lines = Lines()
    logger.access_log.addHandler(lines)
    return logger, lines


def environ(path: str, raw_uri: str | None = None, method: str = "GET") -> dict[str, Any]:
    return {
        "REQUEST_METHOD": method,
        "RAW_URI": raw_uri or path,
        "PATH_INFO": path,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "QUERY_STRING": "",
        "HTTP_USER_AGENT": "wrk",
    }


CASES = [
    (FakeResponse(), environ("/health")),
    (FakeResponse(status="404 NOT FOUND", sent=None, headers=[]), environ("/a%20b", '/a%20b?x=%s&y="q"')),
    (FakeResponse(status="503 SERVICE UNAVAILABLE", sent=0), environ("/api/chat/send", method="POST")),
]


@pytest.mark.parametrize(("resp", "env"), CASES)
def test_the_line_is_what_gunicorns_formatting_writes(
    monkeypatch: pytest.MonkeyPatch, resp: FakeResponse, env: dict[str, Any]
) -> None:
    logger, lines = make_logger(monkeypatch)
    took = datetime.timedelta(seconds=1, microseconds=234_567)
    logger.access(resp, None, env, took)
    glogging.Logger.access(logger, resp, [("Host", "x")], env, took)  # gunicorn's own formatting of it
    ours, theirs = lines.lines
    assert ours == theirs


def test_probes_are_left_out_unless_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    took = datetime.timedelta(microseconds=900)
    logger, lines = make_logger(monkeypatch)
    for path in ("/health/live", "/health/ready", "/health", "/health/live/x"):
        logger.access(FakeResponse(), None, environ(path), took)
    assert [line.split('"')[1] for line in lines.lines] == ["GET /health HTTP/1.1", "GET /health/live/x HTTP/1.1"]
    logger, lines = make_logger(monkeypatch, ACCESS_LOG_PROBES="true")
    for path in ("/health/live", "/health/ready"):
        logger.access(FakeResponse(), None, environ(path), took)
    assert len(lines.lines) == 2


def test_skip_paths_still_apply(monkeypatch: pytest.MonkeyPatch) -> None:
    logger, lines = make_logger(monkeypatch, ACCESS_LOG_PROBES="on", ACCESS_LOG_SKIP_PATHS="/health,/metrics")
    for path in ("/health/live", "/health", "/metrics", "/api/chat/send"):
        logger.access(FakeResponse(), None, environ(path), datetime.timedelta())
    assert len(lines.lines) == 1 and "/api/chat/send" in lines.lines[0]


def test_access_log_probes_is_a_validated_boolean() -> None:
    assert Settings.from_env({}).access_log_probes is False
    for word, meaning in (("true", True), ("ON", True), ("1", True), ("no", False), ("False", False)):
        assert Settings.from_env({"ACCESS_LOG_PROBES": word}).access_log_probes is meaning
    with pytest.raises(ConfigError, match="ACCESS_LOG_PROBES='maybe': expected true or false"):
        Settings.from_env({"ACCESS_LOG_PROBES": "maybe"})


def test_a_stream_that_ended_in_an_error_event_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    """Its status line was 200; the line adds the status of the error event the client got (api/chat.py)."""
    took = datetime.timedelta(milliseconds=5)
    failed = environ("/api/chat/stream", method="POST") | {STREAM_ERROR_KEY: "502"}
    logger, lines = make_logger(monkeypatch)
    logger.access(FakeResponse(), None, failed, took)
    logger.access(FakeResponse(), None, environ("/api/chat/stream", method="POST"), took)
    assert lines.lines[0].endswith(" 200 18 5ms rid=abc-123 stream_error=502"), lines.lines
    assert lines.lines[1].endswith(" 200 18 5ms rid=abc-123"), lines.lines


def test_the_consoles_polling_is_left_out_unless_asked_for_but_not_its_refusals(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    took = datetime.timedelta(microseconds=900)
    logger, lines = make_logger(monkeypatch)
    logger.access(FakeResponse(), None, environ("/console/state"), took)
    logger.access(FakeResponse(status="401 UNAUTHORIZED"), None, environ("/console/state"), took)
    logger.access(FakeResponse(), None, environ("/console"), took)
    assert [line.split('"')[2].split()[0] for line in lines.lines] == ["401", "200"]
    assert "/console/state" in lines.lines[0] and "GET /console HTTP" in lines.lines[1]
    logger, lines = make_logger(monkeypatch, ACCESS_LOG_CONSOLE="true")
    logger.access(FakeResponse(), None, environ("/console/state"), took)
    assert len(lines.lines) == 1
