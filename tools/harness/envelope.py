"""The JSON error envelope every error answer carries (code, status, message, request_id), checked one way by
the tests, the chaos run and the fuzzer."""

from __future__ import annotations

import json
from typing import Any


def envelope_problem(code: int, body: Any, request_id: str | None = None) -> str | None:
    """Why ``body`` is not the error envelope of a ``code`` answer, or None when it is; ``request_id`` (the
    X-Request-ID header, where the answer has headers) must be the one the body names."""
    if not isinstance(body, dict) or body.get("code") != code or not body.get("status") or not body.get("request_id"):
        return f"a {code} without the error envelope: {body!r:.200}"
    if request_id is not None and body["request_id"] != request_id:
        return f"a {code} naming request {body['request_id']!r} under X-Request-ID {request_id!r}"
    return None


def assert_envelope(response: Any, code: int, status: str | None = None) -> dict[str, Any]:
    """A JSON error envelope with this status code (and, if given, this status phrase), the X-Request-ID
    header's id and no stack trace; ``response`` is a Flask test response or a requests one. Returns the body."""
    text = response.get_data(as_text=True) if hasattr(response, "get_data") else response.text
    assert response.status_code == code, (response.status_code, text)
    assert response.headers.get("Content-Type", "").startswith("application/json"), response.headers
    body = json.loads(text)
    problem = envelope_problem(code, body, response.headers.get("X-Request-ID", ""))
    assert problem is None, problem
    assert status is None or body["status"] == status, body
    assert "Traceback" not in text
    return body
