"""Two edges of POST /api/chat/send where an earlier second implementation of the route answered differently
from Flask's: a client that resets its connection mid-body, and a Content-Type with a stray non-ASCII byte.
Raw sockets against real gunicorn; the one implementation must answer both as a client's mistake."""

from __future__ import annotations

import json
import socket
import struct
from collections.abc import Callable
from typing import Any

import pytest
import requests

pytestmark = pytest.mark.slow


def test_a_client_resetting_mid_body_is_no_error_of_ours(
    serve: Callable[..., Any], wait_until: Callable[..., Any]
) -> None:
    service = serve(BODY_READ_TIMEOUT_SECONDS="5")
    for _ in range(3):
        sock = socket.create_connection(("127.0.0.1", service.port), timeout=5)
        sock.sendall(
            b"POST /api/chat/send HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 200\r\n\r\n{"message": "half'
        )
        # SO_LINGER 0: close() sends a RST instead of a FIN, as a phone losing its network can.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    # The worker is fine and says nothing alarming about it.
    wait_until(lambda: requests.get(service.base_url + "/health/live", timeout=5).status_code == 200, 10)
    answer = requests.post(service.base_url + "/api/chat/send", json={"message": "Lisbon for 3 days"}, timeout=30)
    assert answer.status_code == 200, answer.text
    text = service.log_text() + service.log_file_text()
    assert "Traceback" not in text and " 500 " not in text, text[-3000:]
    assert "ERROR" not in service.log_file_text(), service.log_file_text()[-3000:]


def test_a_content_type_with_a_non_ascii_space_is_a_415_and_stores_nothing(serve: Callable[..., Any]) -> None:
    service = serve()
    body = json.dumps({"message": "Oslo for 2 days"}).encode()
    with socket.create_connection(("127.0.0.1", service.port), timeout=10) as sock:
        sock.sendall(
            b"POST /api/chat/send HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            b"Content-Type: application/json\xa0\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, payload = received.partition(b"\r\n\r\n")
    assert head.split(b" ", 2)[1] == b"415", received
    envelope = json.loads(payload)
    assert envelope["code"] == 415 and envelope["error"] == "unsupported_media_type"
