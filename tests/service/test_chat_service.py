"""The chat API under real gunicorn (gevent workers): streaming as it arrives, and MongoDB, Redis and the
model upstream failing and coming back while the service keeps answering."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import requests
from tests.support.chat import SEND, STREAM, blocks, parse_block, session_path

from tools.harness.envelope import assert_envelope
from tools.harness.upstream import UpstreamServer

pytestmark = pytest.mark.slow


def send(service: Any, message: str, session_id: str | None = None, timeout: float = 15) -> requests.Response:
    return requests.post(service.base_url + SEND, json={"message": message, "session_id": session_id}, timeout=timeout)


def timed_stream(service: Any, message: str) -> list[tuple[float, str, Any]]:
    """(seconds since the request, event, data) for each SSE block, timed as it arrives."""
    started = time.monotonic()
    with requests.post(service.base_url + STREAM, json={"message": message}, stream=True, timeout=15) as response:
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        return [
            (time.monotonic() - started, *parse_block(block))
            for block in blocks(response.iter_content(chunk_size=None))
        ]


def history(service: Any, session_id: str) -> list[tuple[str, str, str | None]]:
    response = requests.get(service.base_url + session_path(session_id), timeout=10)
    assert response.status_code == 200
    return [(m["role"], m["content"], m.get("status")) for m in response.json()["messages"]]


@pytest.mark.parametrize("provider", ["offline", "openai"])
def test_a_stream_arrives_in_chunks_with_heartbeats_then_done_and_the_reply_is_stored(
    chat_stack: Callable[..., Any], upstream: UpstreamServer, provider: str
) -> None:
    _, _, service = chat_stack(AGENT_PROVIDER=provider, CHAT_HEARTBEAT_SECONDS="0.25", OFFLINE_CHUNK_DELAY_MS="20")
    upstream.configure(delay=1.0, chunk_delay=0.1)  # (openai) a second of thinking, then a word at a time
    events = timed_stream(service, "A weekend in Porto for two, mid-range please")
    kinds = [kind for _, kind, _ in events]
    assert kinds[0] == "start" and kinds[-1] == "done"
    chunks = [(at, data["text"]) for at, kind, data in events if kind == "chunk"]
    assert len(chunks) >= 5
    done_at = events[-1][0]
    assert chunks[0][0] < done_at - 0.2, "the first words came only with the end"
    if provider == "openai":
        first_chunk = kinds.index("chunk")
        assert kinds[1:first_chunk].count("comment") >= 2, kinds  # heartbeats while the upstream thought
    reply = "".join(text for _, text in chunks)
    session_id = events[-1][2]["session_id"]
    assert history(service, session_id)[-1] == ("assistant", reply, None)
    assert history(service, session_id)[0][2] == "answered"


def test_upstream_failures_under_gunicorn_end_on_time_with_the_message_kept(
    chat_stack: Callable[..., Any], upstream: UpstreamServer, wait_until: Callable[..., Any]
) -> None:
    _, _, service = chat_stack(AGENT_PROVIDER="openai", CHAT_TIMEOUT_SECONDS="3", CHAT_HEARTBEAT_SECONDS="0.5")
    # A stream that breaks mid-way: an error event, the question unanswered, no partial answer stored.
    upstream.configure(mode="stream_break", break_after=2)
    events = timed_stream(service, "one two three four")
    # The events; heartbeat comments may come between them (one before connecting, at a 0.5 s interval).
    kinds = [kind for _, kind, _ in events if kind != "comment"]
    assert kinds[0] == "start" and kinds[-1] == "error" and set(kinds[1:-1]) == {"chunk"}, kinds
    # The two words sent before the break (shown once durable, so perhaps as one chunk).
    assert "".join(data["text"] for _, kind, data in events if kind == "chunk") == "echo: one "
    error = events[-1][2]
    assert error["code"] == 502
    assert history(service, error["session_id"]) == [("user", "one two three four", "unanswered")]
    # A hung upstream: the stream says 504 in-band before its 3 s budget is out; a send answers 504 likewise.
    upstream.configure(mode="hang")
    events = timed_stream(service, "hello?")
    assert events[-1][1] == "error" and events[-1][2]["code"] == 504 and events[-1][0] < 3.5
    assert "comment" in [kind for _, kind, _ in events]
    started = time.monotonic()
    assert_envelope(send(service, "anyone?"), 504)
    assert time.monotonic() - started < 3.5
    # Three failures in a row opened the upstream's circuit; it closes once the upstream answers again.
    upstream.configure(mode="echo")
    wait_until(
        lambda: send(service, "back?").status_code == 200,
        10,
        interval=0.3,
        message="chat never recovered after the upstream came back",
    )


def test_chat_survives_redis_and_mongodb_outages_and_recovers_without_a_restart(
    chat_stack: Callable[..., Any], wait_until: Callable[..., Any]
) -> None:
    mongo, redis, service = chat_stack()
    first = send(service, "I want to go to Lisbon")
    assert first.status_code == 200
    session_id = first.json()["session_id"]
    workers = service.worker_pids()

    # Redis down: chat works from MongoDB alone (the offline agent still remembers Lisbon).
    redis.kill()
    second = send(service, "for 5 days", session_id)
    assert second.status_code == 200 and "Lisbon" in second.json()["reply"]

    # MongoDB frozen, then killed: a JSON 503 within 6 s each time, for send and for stream.
    for fault in (mongo.freeze, mongo.kill):
        fault()
        started = time.monotonic()
        body = assert_envelope(send(service, "still there?", session_id), 503)
        assert time.monotonic() - started < 6.0
        assert "mongodb://" not in str(body)
        if fault == mongo.freeze:
            mongo.thaw()
            wait_until(
                lambda: send(service, "thawed", session_id).status_code == 200,
                20,
                interval=0.5,
                message="chat never recovered after MongoDB thawed",
            )
    started = time.monotonic()
    response = requests.post(service.base_url + STREAM, json={"message": "hi", "session_id": session_id}, timeout=10)
    assert_envelope(response, 503)
    assert time.monotonic() - started < 6.0 and int(response.headers["Retry-After"]) >= 1

    # Both back: chat works again, in the same workers, with the history intact.
    mongo.restart()
    redis.restart()
    wait_until(
        lambda: send(service, "and in Porto?", session_id).status_code == 200,
        30,
        interval=0.5,
        message="chat never recovered after MongoDB and Redis came back",
    )
    assert service.worker_pids() == workers
    contents = [content for role, content, _ in history(service, session_id) if role == "user"]
    assert contents[:2] == ["I want to go to Lisbon", "for 5 days"] and contents[-1] == "and in Porto?"
    assert all(status == "answered" for role, _, status in history(service, session_id) if role == "user")
