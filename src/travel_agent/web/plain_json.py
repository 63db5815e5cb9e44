"""JSON answers written without Flask, byte for byte what the Flask routes write for the same body.

The layers that answer before the framework (the health probes, the chat's send fast path) must not differ
from the routes they stand in for: a client, a cache or a test comparing the two sees the same status line,
headers and bytes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.http import HTTP_STATUS_CODES

_STATUS_LINES: dict[int, str] = {}


def encode(body: dict[str, Any]) -> bytes:
    """What Flask's ``jsonify`` writes outside debug mode, with the app's key order kept: compact, ASCII, a
    final newline."""
    return (json.dumps(body, ensure_ascii=True, separators=(",", ":")) + "\n").encode()


def status_line(code: int) -> str:
    """Werkzeug's status line for ``code`` ("429 TOO MANY REQUESTS"): it writes the phrase in capitals."""
    line = _STATUS_LINES.get(code)
    if line is None:
        line = _STATUS_LINES[code] = f"{code} {HTTP_STATUS_CODES[code].upper()}"
    return line


def answer(
    start_response: Callable[..., Any], code: int, body: dict[str, Any], headers: Iterable[tuple[str, str]] = ()
) -> list[bytes]:
    """Start and return a JSON answer as a Flask view returning ``jsonify(body)`` would, plus ``headers``."""
    data = encode(body)
    start_response(
        status_line(code), [("Content-Type", "application/json"), ("Content-Length", str(len(data))), *headers]
    )
    return [data]
