"""Log lines: JSON when asked, the request id on each, and a file that several processes can rotate."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from pathlib import Path

from travel_agent import request_context
from travel_agent.observability.logging_setup import JsonFormatter, RequestIdFilter, SharedRotatingFileHandler


def record(message: str) -> logging.LogRecord:
    rec = logging.LogRecord("travel_agent.test", logging.INFO, __file__, 1, message, (), None)
    RequestIdFilter().filter(rec)
    return rec


def test_json_line_carries_request_id_and_is_one_object() -> None:
    tokens = request_context.bind("rid-42", 5)
    try:
        line = JsonFormatter().format(record('quote " and\nnewline'))
    finally:
        request_context.unbind(tokens)
    assert "\n" not in line
    body = json.loads(line)
    assert body["request_id"] == "rid-42" and body["level"] == "INFO" and body["logger"] == "travel_agent.test"
    assert body["message"] == 'quote " and\nnewline'


def test_json_line_includes_the_stack_of_an_exception() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        rec = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    body = json.loads(JsonFormatter().format(rec))
    assert "Traceback" in body["exc_info"] and "ValueError: boom" in body["exc_info"]


def test_outside_a_request_the_id_is_a_dash() -> None:
    # A fresh context: an in-process test whose response was never closed may still have a request bound here.
    assert contextvars.Context().run(record, "x").request_id == "-"


def test_two_writers_rotate_one_file_without_losing_lines(tmp_path: Path) -> None:
    path = tmp_path / "travel_agent.log"
    # Two handlers on one file stand for two gunicorn workers.
    writers = [SharedRotatingFileHandler(path, maxBytes=2000, backupCount=50, encoding="utf-8") for _ in range(2)]
    try:
        for handler in writers:
            handler.setFormatter(logging.Formatter("%(message)s"))
        for i in range(400):
            writers[i % 2].emit(record(f"line {i:04d} " + "x" * 40))
    finally:
        for handler in writers:
            handler.close()
    files = [path, *sorted(tmp_path.glob("travel_agent.log.*"))]
    assert len(files) > 3, "it should have rotated several times"
    lines = [line for f in files if f.suffix != ".lock" for line in f.read_text().splitlines()]
    assert sorted(lines) == sorted(f"line {i:04d} " + "x" * 40 for i in range(400))
    assert all(f.stat().st_size < 2000 + 200 for f in files if f.suffix != ".lock")
