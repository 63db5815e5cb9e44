"""A chat waits on the model in the request's own greenlet (chat/pump.py, agent/waiting.py): the deadline is
kept inside the upstream's reads and the upstream's connection let go with the request; the heartbeats come from
inside the wait; a client that leaves ends the wait without counting against the upstream's circuit.

The upstream here drips its answer a byte at a time, so that no single read ever waits long enough for a socket
timeout: only the request's own deadline, checked before every read, can end the wait. Real gunicorn, one
worker, a real upstream in its own thread."""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from tests.support.chat import SEND, STREAM, blocks, parse_block, session_path
from tests.support.service import OPENAI_AGAINST

from tools.harness.envelope import assert_envelope
from tools.harness.upstream import UpstreamServer

pytestmark = pytest.mark.slow

BUDGET = 3.0


@pytest.fixture
def service(
    make_mongo: Callable[..., Any], make_gunicorn: Callable[..., Any], upstream: UpstreamServer
) -> Iterator[Any]:
    yield make_gunicorn(
        mongo_uri=make_mongo().uri,
        workers=1,
        env={
            **OPENAI_AGAINST,
            "OPENAI_BASE_URL": upstream.base_url,
            "CHAT_TIMEOUT_SECONDS": str(BUDGET),
            "CHAT_HEARTBEAT_SECONDS": "0.25",
            "BREAKER_FAILURE_THRESHOLD": "3",
        },
    )


def test_a_dripping_upstream_is_cut_at_the_deadline_and_its_connection_let_go(
    service: Any, upstream: UpstreamServer, wait_until: Callable[..., Any]
) -> None:
    upstream.configure(mode="drip", chunk_delay=0.1)  # ~20 s for the answer's head alone
    started = time.monotonic()
    with requests.post(service.base_url + STREAM, json={"message": "Lisbon?"}, stream=True, timeout=10) as response:
        assert response.status_code == 200
        events = [parse_block(block) for block in blocks(response.iter_content(chunk_size=None))]
    took = time.monotonic() - started
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "start" and kinds[-1] == "error" and events[-1][1]["code"] == 504, events[-3:]
    assert took < BUDGET + 0.5, took
    # Heartbeats all along: every 0.25 s while bytes trickled in and no event could be sent.
    assert kinds.count("comment") >= (BUDGET - 0.5) / 0.25 - 2, kinds
    # The upstream's connection went with the request: its drip found nobody to write to.
    wait_until(
        lambda: upstream.in_flight == 0,
        3,
        interval=0.05,
        message="the dripping upstream was still being read after the stream ended",
    )

    started = time.monotonic()
    assert_envelope(requests.post(service.base_url + SEND, json={"message": "Porto?"}, timeout=10), 504)
    assert time.monotonic() - started < BUDGET + 0.5
    wait_until(
        lambda: upstream.in_flight == 0,
        3,
        interval=0.05,
        message="the dripping upstream was still being read after the send answered",
    )


def test_a_client_that_leaves_mid_wait_ends_the_wait_and_is_not_the_upstreams_fault(
    service: Any, upstream: UpstreamServer, wait_until: Callable[..., Any]
) -> None:
    upstream.configure(mode="drip", chunk_delay=0.1)
    sessions = []
    # Three times the breaker's threshold of failures would open the upstream's circuit, if leaving counted.
    for attempt in range(3):
        sessions.append(_stream_until_a_heartbeat_then_leave(service.base_url, f"trip {attempt}"))
        wait_until(
            lambda: upstream.in_flight == 0,
            3,
            interval=0.05,
            message="the upstream was still being read after its client left",
        )
    upstream.configure(mode="echo")
    answer = requests.post(service.base_url + SEND, json={"message": "still there?"}, timeout=10)
    assert answer.status_code == 200, answer.text  # not 503: the circuit stayed closed
    for session_id in sessions:
        page = requests.get(service.base_url + session_path(session_id), timeout=10).json()
        assert [(m["role"], m.get("status")) for m in page["messages"]] == [("user", "unanswered")]


def _stream_until_a_heartbeat_then_leave(base_url: str, message: str) -> str:
    """Start a stream on a raw connection, read its start event and a heartbeat (the agent is then waiting on
    the upstream), close the connection; the session id of the turn."""
    url = urlsplit(base_url)
    body = json.dumps({"message": message}).encode()
    head = (
        f"POST {STREAM} HTTP/1.1\r\nHost: {url.netloc}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    received = b""
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(head + body)
        while b": heartbeat" not in received:
            chunk = sock.recv(4096)
            assert chunk, received
            received += chunk
    assert received.startswith(b"HTTP/1.1 200"), received
    found = re.search(rb'"session_id": ?"([^"]+)"', received)
    assert found is not None, received
    return found.group(1).decode()
