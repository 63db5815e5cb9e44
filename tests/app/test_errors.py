"""One JSON envelope for every error, with the request id; no stack trace or driver text reaches a client."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from gunicorn.http.errors import InvalidChunkSize

from tools.harness.envelope import assert_envelope


def test_unknown_route_is_a_json_404(app: Flask) -> None:
    body = assert_envelope(app.test_client().get("/no/such/route"), 404, "Not Found")
    assert body["message"]


def test_wrong_method_is_a_json_405_with_allow(app: Flask) -> None:
    response = app.test_client().delete("/health")
    assert_envelope(response, 405, "Method Not Allowed")
    assert "GET" in response.headers["Allow"]


def test_malformed_json_is_400(app: Flask) -> None:
    response = app.test_client().post("/_test/echo", data="{not json", content_type="application/json")
    body = assert_envelope(response, 400, "Bad Request")
    assert body["errors"] == {"json": ["Invalid JSON body."]}


def test_validation_failure_is_422_with_field_errors(app: Flask) -> None:
    response = app.test_client().post("/_test/echo", json={"name": {"$ne": None}})
    body = assert_envelope(response, 422, "Unprocessable Entity")
    assert "name" in body["errors"]["json"]


def test_oversized_body_is_413(build_app: Callable[..., Flask]) -> None:
    app = build_app(MAX_BODY_BYTES=1024)
    response = app.test_client().post("/_test/echo", json={"name": "x" * 2000})
    assert_envelope(response, 413, "Request Entity Too Large")


def test_non_json_body_is_415(app: Flask) -> None:
    response = app.test_client().post("/_test/echo", data="name=x", content_type="application/x-www-form-urlencoded")
    assert_envelope(response, 415, "Unsupported Media Type")


def test_unexpected_exception_is_a_generic_500_logged_once_with_context(
    app: Flask, log_file: Callable[[], str]
) -> None:
    response = app.test_client().get(
        "/_test/boom", headers={"X-Request-ID": "req-boom-1"}, environ_base={"REMOTE_ADDR": "203.0.113.9"}
    )
    body = assert_envelope(response, 500, "Internal Server Error")
    text = response.get_data(as_text=True)
    assert "hunter2" not in text and "mongodb://" not in text and "RuntimeError" not in text
    assert body["request_id"] == "req-boom-1"
    logged = log_file()
    assert logged.count("unhandled exception in GET /_test/boom client=203.0.113.9 request_id=req-boom-1") == 1
    assert "Traceback (most recent call last)" in logged and "RuntimeError" in logged


def test_dependency_unavailable_is_503_with_retry_after(app: Flask) -> None:
    response = app.test_client().get("/_test/unavailable")
    assert_envelope(response, 503, "Service Unavailable")
    assert response.headers["Retry-After"] == "3"


def test_spent_budget_is_504(app: Flask) -> None:
    assert_envelope(app.test_client().get("/_test/too-slow"), 504, "Gateway Timeout")


@pytest.mark.parametrize(
    ("inbound", "echoed"),
    [
        ("abc-123", True),
        ("0f8e2c1d-aaaa-4bbb-8ccc-1234567890ab", True),
        ("bad id with spaces", False),
        ("x" * 200, False),
        ("<script>", False),
        ("", False),
    ],
)
def test_request_id_is_echoed_only_when_sane(app: Flask, inbound: str, echoed: bool) -> None:
    response = app.test_client().get("/no/such/route", headers={"X-Request-ID": inbound})
    got = response.headers["X-Request-ID"]
    assert (got == inbound) is echoed
    assert response.get_json()["request_id"] == got
    if not echoed:
        assert len(got) == 32 and got.isalnum()


def test_request_id_is_on_every_log_line_of_the_request(app: Flask, log_file: Callable[[], str]) -> None:
    app.test_client().get("/_test/boom", headers={"X-Request-ID": "trace-me-42"})
    lines = [line for line in log_file().splitlines() if "/_test/boom" in line]
    assert lines and all("[trace-me-42]" in line for line in lines)


class _BadChunks(io.RawIOBase):
    """A request body as gunicorn's reader delivers a chunked body with a chunk size that is not hex."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        raise InvalidChunkSize(b"zz")


def test_a_malformed_chunked_body_is_400_not_500(app: Flask) -> None:
    """Found by the raw-abuse run under gunicorn: its ParseException came out of get_data() as a 500."""
    response = app.test_client().post(
        "/api/chat/send",
        headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input": io.BufferedReader(_BadChunks()), "wsgi.input_terminated": True},
    )
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.get_json()["message"] == "The request body is malformed."
