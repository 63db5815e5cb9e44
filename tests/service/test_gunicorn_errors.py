"""Errors gunicorn answers itself, before the app sees the request, in the service's JSON envelope; and the
forwarded SCRIPT_NAME/PATH_INFO headers a trusted peer sends, ignored. Real gunicorn, raw sockets."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from typing import Any

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture
def serve(make_mongo: Callable[..., Any], make_gunicorn: Callable[..., Any]) -> Callable[..., Any]:
    mongo = make_mongo()

    def start(wait_ready: bool = True, **env: str) -> Any:
        return make_gunicorn(mongo_uri=mongo.uri, env={"STARTUP_RETRIES": "1", **env}, wait_ready=wait_ready)

    return start


def exchange(port: int, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """Sends ``raw`` on a fresh connection and reads until the server closes it: (status, headers, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10.0) as sock:
        sock.sendall(raw)
        sock.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split(" ")[1]), headers, body


def assert_json_envelope(port: int, raw: bytes, status: int) -> dict[str, Any]:
    code, headers, body = exchange(port, raw)
    assert code == status, body[:300]
    assert headers["content-type"] == "application/json", headers
    envelope = json.loads(body)
    assert envelope["code"] == status
    assert envelope["status"] and envelope["message"]
    assert envelope["request_id"] == headers["x-request-id"]
    assert "<" not in body.decode(), body  # no HTML anywhere
    return envelope


GUNICORN_ERRORS = {
    "bad request line": (b"GET\r\n\r\n", 400),
    "bad HTTP version": (b"GET / HTTP/9.9\r\nHost: t\r\n\r\n", 400),
    "bad header name": (b"GET / HTTP/1.1\r\nHost: t\r\nBad Name: x\r\n\r\n", 400),
    "request line over 4094 bytes": (b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: t\r\n\r\n", 414),
    "header field over 8190 bytes": (b"GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n", 431),
    "over 100 header fields": (
        b"GET / HTTP/1.1\r\nHost: t\r\n" + b"".join(b"X-F%d: v\r\n" % n for n in range(120)) + b"\r\n",
        431,
    ),
    "unsupported transfer coding": (
        b"POST /api/chat/send HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: br, chunked\r\n\r\n",
        501,
    ),
    "unmeetable expectation": (
        b"POST /api/chat/send HTTP/1.1\r\nHost: t\r\nExpect: magic\r\nContent-Length: 2\r\n\r\n{}",
        417,
    ),
}


def test_each_gunicorn_error_class_answers_the_json_envelope(serve: Callable[..., Any]) -> None:
    service = serve()
    for name, (raw, status) in GUNICORN_ERRORS.items():
        try:
            assert_json_envelope(service.port, raw, status)
        except AssertionError as exc:
            raise AssertionError(f"{name}: {exc}") from exc
    # The worker survived all of them.
    code, _, _ = exchange(service.port, b"GET /health/live HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    assert code == 200


def test_a_sane_inbound_request_id_is_kept_in_a_gunicorn_error() -> None:
    """Unit-level check of the one place the id comes from (the header, when gunicorn parsed it)."""
    from travel_agent.runtime.error_pages import json_error_page

    class Req:
        headers = [("HOST", "t"), ("X-REQUEST-ID", "trace-42")]

    page = json_error_page(431, Req())
    assert b"X-Request-ID: trace-42\r\n" in page
    assert json.loads(page.partition(b"\r\n\r\n")[2])["request_id"] == "trace-42"
    hostile = type("R", (), {"headers": [("X-REQUEST-ID", "<script>")]})()
    assert b"<script>" not in json_error_page(400, hostile)


def test_gunicorns_own_500_answers_the_json_envelope(serve: Callable[..., Any], wait_until: Callable[..., Any]) -> None:
    # A SCRIPT_NAME in the server's environment that the request path does not start with: gunicorn refuses
    # the request as a configuration problem, a 500 of its own.
    service = serve(SCRIPT_NAME="/mounted", wait_ready=False)  # its readiness probe gets that 500 too

    def mounted_live() -> bool:
        try:
            return exchange(service.port, b"GET /mounted/health/live HTTP/1.1\r\nHost: t\r\n\r\n")[0] == 200
        except OSError:
            return False  # not listening yet

    wait_until(mounted_live, timeout=30, message="the service under /mounted never answered")
    envelope = assert_json_envelope(service.port, b"GET /health/live HTTP/1.1\r\nHost: t\r\n\r\n", 500)
    assert "mounted" not in envelope["message"]  # nothing of the server's configuration to the client


def test_forwarded_script_name_and_path_info_from_a_trusted_peer_are_ignored(serve: Callable[..., Any]) -> None:
    service = serve()  # 127.0.0.1, the test's address, is in FORWARDED_ALLOW_IPS by default
    code, headers, body = exchange(
        service.port, b"GET /health/live HTTP/1.1\r\nHost: t\r\nSCRIPT_NAME: /elsewhere\r\nConnection: close\r\n\r\n"
    )
    assert code == 200, body[:300]
    assert json.loads(body)["status"] == "alive" or headers["content-type"] == "application/json"
    code, _, body = exchange(
        service.port,
        b"GET /health/live HTTP/1.1\r\nHost: t\r\nPATH_INFO: /api/chat/sessions\r\nConnection: close\r\n\r\n",
    )
    assert code == 200, body[:300]
    live = json.loads(body)
    code, _, body = exchange(service.port, b"GET /health/live HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    assert json.loads(body).keys() == live.keys()
