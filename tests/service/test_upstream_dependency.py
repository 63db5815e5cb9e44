"""The model as a dependency in the real service (gunicorn, gevent, a worker waiting inline on the upstream):
killed, the offline assistant answers degraded and /health says degraded; back, its circuit closes within
BREAKER_RESET_SECONDS plus one call; an unframed stream forwarded word by word."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from tests.support.chat import SEND, STREAM, blocks, parse_block
from tests.support.service import OPENAI_AGAINST

from tools.harness.upstream import UpstreamServer

pytestmark = pytest.mark.slow

RESET_SECONDS = 1.0


@pytest.fixture
def service(
    make_mongo: Callable[..., Any], make_gunicorn: Callable[..., Any], upstream: UpstreamServer
) -> Iterator[Any]:
    yield make_gunicorn(
        mongo_uri=make_mongo().uri,
        workers=1,
        env={
            **OPENAI_AGAINST,
            "AGENT_FALLBACK": "offline",
            "OPENAI_BASE_URL": upstream.base_url,
            "CHAT_TIMEOUT_SECONDS": "5",
            "BREAKER_FAILURE_THRESHOLD": "2",
            "BREAKER_RESET_SECONDS": str(RESET_SECONDS),
            "HEALTH_CACHE_SECONDS": "0.2",
        },
    )


def send(service: Any, message: str) -> dict[str, Any]:
    response = requests.post(service.base_url + SEND, json={"message": message}, timeout=10)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_killed_model_degrades_the_answers_and_health_and_its_return_ends_it(
    service: Any, upstream: UpstreamServer, wait_until: Callable[..., Any]
) -> None:
    assert send(service, "Tallinn")["degraded"] is False
    port = upstream.port
    upstream.stop()  # connections refused from now on
    for _ in range(3):
        body = send(service, "3 days in Lisbon")
        assert body["degraded"] is True and "Lisbon" in body["reply"]
    wait_until(
        lambda: (
            requests.get(service.base_url + "/health", timeout=5).json()["checks"]["upstream"]["status"]
            == "unavailable"
        ),
        3,
    )
    health = requests.get(service.base_url + "/health", timeout=5)
    assert health.status_code == 200 and health.json()["status"] == "degraded", health.text
    metrics = requests.get(service.base_url + "/metrics", timeout=5).text
    assert 'travel_agent_circuit_state{dependency="upstream"} 2.0' in metrics
    assert 'travel_agent_chat_turns_total{mode="send",outcome="degraded"} 3.0' in metrics
    back = UpstreamServer(port=port).start()  # the model returns on its address
    try:
        returned = time.monotonic()
        # Within BREAKER_RESET_SECONDS plus one call, the answers are the model's again.
        wait_until(lambda: send(service, "Vilnius")["degraded"] is False, RESET_SECONDS + 3, interval=0.1)
        assert time.monotonic() - returned < RESET_SECONDS + 3
        body = send(service, "Kaunas")
        assert (body["reply"], body["degraded"]) == ("echo: Kaunas", False)
    finally:
        back.stop()


def test_an_unframed_stream_is_forwarded_word_by_word(service: Any, upstream: UpstreamServer) -> None:
    upstream.configure(framing="close", chunk_delay=0.3)
    started = time.monotonic()
    arrivals: list[tuple[float, str]] = []
    with requests.post(
        service.base_url + STREAM, json={"message": "one two three four five six"}, stream=True, timeout=20
    ) as response:
        for block in blocks(response.iter_content(chunk_size=None)):
            kind, _ = parse_block(block)
            arrivals.append((time.monotonic() - started, kind))
    chunks = [at for at, kind in arrivals if kind == "chunk"]
    # Seven words 0.3 s apart. A chunk is sent once it is saved for resumes (chat/turn_runner.py), so two words
    # may share one; what matters is that they come as they arrive, not all at the end.
    assert arrivals[-1][1] == "done" and len(chunks) >= 5, arrivals
    assert chunks[0] < 1.0 and chunks[-1] - chunks[0] > 1.2, arrivals


def test_both_models_stalling_still_leave_the_offline_assistant_its_share(
    make_mongo: Callable[..., Any], make_gunicorn: Callable[..., Any], upstream: UpstreamServer
) -> None:
    """The first hangs, the second drips its answer a byte at a time (no read ever waits long enough for a
    socket timeout): each is given up at its share of the budget, inside its reads (agent/waiting.py), and the
    offline assistant answers. Only the inline wait of a gevent worker can cut a drip at a share: the reply
    pump (threads, the Flask test client) cuts it at the request's deadline, a 504."""
    with UpstreamServer() as second:
        service = make_gunicorn(
            mongo_uri=make_mongo().uri,
            workers=1,
            env={
                "AGENT_PROVIDER": "openai",
                "AGENT_FALLBACK": "offline",
                "OPENAI_BASE_URL": upstream.base_url,
                "OPENAI_FALLBACK_BASE_URL": second.base_url,
                "OPENAI_MAX_RETRIES": "0",
                "CHAT_TIMEOUT_SECONDS": "4",
                "STARTUP_RETRIES": "1",
                "REDIS_URL": None,
            },
        )
        upstream.mode = "hang"
        second.configure(mode="drip", chunk_delay=0.05)
        for path in (SEND, STREAM):
            started = time.monotonic()
            response = requests.post(service.base_url + path, json={"message": "Hanoi for 4 days"}, timeout=10)
            elapsed = time.monotonic() - started
            assert response.status_code == 200, response.text
            if path == SEND:
                degraded = response.json()["degraded"]
            else:
                degraded = [parse_block(b) for b in response.text.split("\n\n") if b.strip()][-1][1]["degraded"]
            assert degraded is True and elapsed < 4 + 0.75, (path, elapsed)
        assert len(second.requests) == 2  # each turn asked the second model before the offline assistant
