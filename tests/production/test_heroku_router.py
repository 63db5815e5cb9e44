"""A router with Heroku's limits: 30 s to the first byte, then 55 s between bytes. HAProxy (deploy/haproxy.cfg)
with one server-inactivity timeout and a client timeout stands in for it, every duration divided by ten so the
default run stays short: 3 s to first byte, 5.5 s idle, heartbeats every 1 s, a model that takes 8 s for a
stream and 4.5 s for a plain send. The real-time variant (30 s / 55 s / 80 s / 45 s): make production."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import requests
from tests.support.chat import SEND, STREAM, blocks, parse_block

from tools.harness.upstream import UpstreamServer

pytestmark = pytest.mark.slow

SCALE = 0.1
FIRST_BYTE = 30 * SCALE
IDLE = 55 * SCALE


def heroku_router_replace(scale: float) -> dict[str, str]:
    """deploy/haproxy.cfg's timeouts turned into Heroku's limits (times ``scale``)."""
    return {
        "    timeout server 95s": f"    timeout server {int(30_000 * scale)}ms",
        "    timeout client 60s": f"    timeout client {int(55_000 * scale)}ms",
    }


@pytest.fixture
def behind_heroku(
    make_mongo: Callable[..., Any],
    make_redis: Callable[..., Any],
    make_gunicorn: Callable[..., Any],
    make_router: Callable[..., Any],
    upstream: UpstreamServer,
) -> tuple[Any, Any]:
    service = make_gunicorn(
        mongo_uri=make_mongo().uri,
        redis_url=make_redis().url,
        env={
            "AGENT_PROVIDER": "openai",
            "OPENAI_BASE_URL": upstream.base_url,
            "OPENAI_API_KEY": "sk-heroku-test-key",
            "CHAT_HEARTBEAT_SECONDS": str(10 * SCALE),
        },
    )
    router = make_router({"app1": service.port, "app2": service.port}, replace=heroku_router_replace(SCALE))
    return service, router


def test_a_long_stream_completes_and_a_long_send_ends_in_the_routers_504_logged_as_a_client_that_left(
    behind_heroku: tuple[Any, Any], upstream: UpstreamServer, wait_until: Callable[..., Any]
) -> None:
    service, router = behind_heroku
    upstream.configure(delay=80 * SCALE)  # the model thinks longer than the router waits for a first byte
    started = time.monotonic()
    events, gaps, last = [], [], time.monotonic()
    with requests.post(
        router.base_url + STREAM, json={"message": "plan two weeks in Japan"}, stream=True, timeout=30
    ) as response:
        assert response.status_code == 200
        for block in blocks(response.iter_content(chunk_size=None)):
            now = time.monotonic()
            gaps.append(now - last)
            last = now
            events.append(parse_block(block))
    took = time.monotonic() - started
    kinds = [kind for kind, _ in events]
    assert kinds[-1] == "done", kinds
    assert took > 80 * SCALE > FIRST_BYTE
    assert max(gaps) < FIRST_BYTE, gaps  # heartbeats kept every silence under the router's limit
    assert kinds.count("comment") >= 5

    upstream.configure(delay=45 * SCALE)
    since = len(service.log_file_text())
    started = time.monotonic()
    sent = requests.post(
        router.base_url + SEND,
        json={"message": "and a plain send"},
        headers={"Idempotency-Key": "heroku-45s-send"},
        timeout=30,
    )
    cut_after = time.monotonic() - started
    assert sent.status_code == 504  # the router's own answer, not the service's
    assert FIRST_BYTE - 0.2 < cut_after < FIRST_BYTE + 1.5, cut_after
    found = service.wait_for_log("client left before the answer: POST /api/chat/send", 10, since=since, in_file=True)
    line = service.log_file_text()[found.start() - 80 : found.end() + 60]
    assert " INFO " in line and "ERROR" not in line, line
    later = service.log_file_text()[since:]
    assert "Traceback" not in later and " ERROR " not in later
    # The turn was done; the caller's retry with its Idempotency-Key gets it at once.
    retry = requests.post(
        router.base_url + SEND,
        json={"message": "and a plain send"},
        headers={"Idempotency-Key": "heroku-45s-send"},
        timeout=30,
    )
    assert retry.status_code == 200 and retry.headers["Idempotent-Replayed"] == "true"
