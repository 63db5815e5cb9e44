"""Streaming in-process: the event sequence and its ids, the stored reply, heartbeats, failures mid-stream,
and a turn that runs on after its client left."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from tests.support.chat import SEND, STREAM, blocks, chunks_text, parse_block, parse_sse, session_path

from tools.harness.upstream import UpstreamServer, split_words
from travel_agent.agent import offline
from travel_agent.agent.interface import Turn


def stream(client: FlaskClient, message: str, session_id: str | None = None) -> list[tuple[str, Any]]:
    response = client.post(STREAM, json={"message": message} | ({"session_id": session_id} if session_id else {}))
    assert response.status_code == 200 and response.mimetype == "text/event-stream"
    assert response.headers["Cache-Control"] == "no-cache"
    return parse_sse(response.get_data(as_text=True))


def stored(client: FlaskClient, session_id: str) -> list[tuple[str, str, str | None]]:
    messages = client.get(session_path(session_id)).get_json()["messages"]
    return [(m["role"], m["content"], m.get("status")) for m in messages]


def test_offline_stream_sends_the_reply_in_chunks_then_done_and_stores_it(app: Flask) -> None:
    client = app.test_client()
    first = client.post(SEND, json={"message": "Two weeks in Japan"}).get_json()
    body = {"message": "We are 3, budget 4000 EUR", "session_id": first["session_id"]}
    raw = client.post(STREAM, json=body).get_data(as_text=True)
    events = parse_sse(raw)
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "start" and kinds[-1] == "done" and set(kinds[1:-1]) == {"chunk"}
    start, done = events[0][1], events[-1][1]
    assert start["resume_url"] == f"{session_path(first['session_id'])}/messages/{start['user_message_id']}/stream"
    assert start["session_id"] == done["session_id"] == first["session_id"]
    expected = offline.reply(
        [Turn("user", "Two weeks in Japan"), Turn("assistant", first["reply"])], "We are 3, budget 4000 EUR"
    )
    assert chunks_text(events) == expected
    # Each event's id is where in the answer it ends: 0 for start, the offset after each chunk, the end + 1.
    ids = [int(block.split("\n")[0].removeprefix("id: ")) for block in raw.split("\n\n") if block.startswith("id:")]
    assert ids[0] == 0 and ids[-1] == len(expected) + 1 and ids == sorted(set(ids))
    messages = client.get(session_path(first["session_id"])).get_json()["messages"]
    assert (messages[2]["id"], messages[3]["id"]) == (start["user_message_id"], done["message_id"])
    assert messages[3]["content"] == expected and messages[3]["created_at"] == done["created_at"]
    assert messages[2]["status"] == "answered"


def test_openai_stream_relays_the_upstream_chunks(openai_app: Callable[..., Flask], upstream: UpstreamServer) -> None:
    client = openai_app().test_client()
    events = stream(client, "A weekend in Rome please")
    # Chunks are shown once durable (relayed through Redis at most every TURN_RELAY_SECONDS), so a fast
    # upstream's words may arrive joined.
    assert chunks_text(events) == "echo: A weekend in Rome please"
    assert events[-1][0] == "done"
    request = upstream.requests[-1]["json"]
    assert request["stream"] is True and request["messages"][-1] == {
        "role": "user",
        "content": "A weekend in Rome please",
    }
    assert stored(client, events[0][1]["session_id"]) == [
        ("user", "A weekend in Rome please", "answered"),
        ("assistant", "echo: A weekend in Rome please", None),
    ]


def test_a_stream_that_breaks_upstream_ends_with_an_error_event_and_a_consistent_history(
    openai_app: Callable[..., Flask], upstream: UpstreamServer
) -> None:
    client = openai_app().test_client()
    upstream.configure(mode="stream_break", break_after=2)
    events = stream(client, "one two three four five")
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "start" and kinds[-1] == "error" and set(kinds[1:-1]) == {"chunk"}, kinds
    assert chunks_text(events) == "".join(split_words("echo: one two three four five")[:2])
    error = events[-1][1]
    assert error["code"] == 502 and error["session_id"] == events[0][1]["session_id"] and error["request_id"]
    # The question stays, unanswered; no partial answer is stored.
    assert stored(client, error["session_id"]) == [("user", "one two three four five", "unanswered")]


def test_heartbeats_keep_a_waiting_stream_alive(openai_app: Callable[..., Flask], upstream: UpstreamServer) -> None:
    client = openai_app(CHAT_HEARTBEAT_SECONDS=0.2).test_client()
    upstream.delay = 1.0
    events = stream(client, "Bali")
    first_chunk = next(i for i, (kind, _) in enumerate(events) if kind == "chunk")
    assert events[1:first_chunk] and all(event == ("comment", "heartbeat") for event in events[1:first_chunk])
    assert events[-1][0] == "done"


def test_a_stream_past_its_budget_ends_with_a_504_event_on_time(
    openai_app: Callable[..., Flask], upstream: UpstreamServer
) -> None:
    client = openai_app(CHAT_TIMEOUT_SECONDS=2).test_client()
    upstream.chunk_delay = 0.6
    started = time.monotonic()
    events = stream(client, "a b c d e f g h")
    elapsed = time.monotonic() - started
    assert 1.0 < elapsed < 2.75
    assert events[-1][0] == "error" and events[-1][1]["code"] == 504
    assert 0 < len([kind for kind, _ in events if kind == "chunk"]) < len(split_words("echo: a b c d e f g h"))
    assert stored(client, events[0][1]["session_id"]) == [("user", "a b c d e f g h", "unanswered")]


def test_a_client_that_leaves_mid_stream_still_gets_its_question_answered(
    openai_app: Callable[..., Flask], upstream: UpstreamServer, wait_until: Callable[..., Any]
) -> None:
    client = openai_app().test_client()
    upstream.chunk_delay = 0.2
    response = client.post(STREAM, json={"message": "one two three four five six"}, buffered=False)
    body: Iterator[str] = iter(blocks(response.response))  # type: ignore[arg-type]
    start = parse_block(next(body))[1]
    assert parse_block(next(body))[0] == "chunk"
    response.close()  # the client hangs up; the turn runs on without it
    reply = "echo: one two three four five six"
    wait_until(
        lambda: (
            stored(client, start["session_id"])
            == [("user", "one two three four five six", "answered"), ("assistant", reply, None)]
        ),
        10,
        message="the turn did not finish without its client",
    )
    assert len(upstream.requests) == 1


def test_an_unexpected_failure_mid_stream_is_an_error_event_logged_once(
    make_mongo: Callable[..., Any],
    build_app: Callable[..., Flask],
    upstream: UpstreamServer,
    log_file: Callable[[], str],
) -> None:
    # make_mongo first, so the app (and its connections) is closed before this server stops.
    mongo = make_mongo()
    client = build_app(MONGODB_URI=mongo.uri, AGENT_PROVIDER="openai", OPENAI_BASE_URL=upstream.base_url).test_client()
    upstream.delay = 0.5
    with client.post(STREAM, json={"message": "Cairo"}, buffered=False) as response:
        body = iter(blocks(response.response))  # type: ignore[arg-type]
        start = parse_block(next(body))[1]
        # The question is stored; now storing the answer fails with an error that is not an outage.
        mongo.fail_command(["insert"], error_code=2, times=1, app_name="travel_agent")
        events = [parse_block(block) for block in body]
    assert events[-1][0] == "error" and events[-1][1]["code"] == 500
    assert events[-1][1]["session_id"] == start["session_id"]
    assert log_file().count("unhandled exception in a chat stream") == 1
    assert stored(client, start["session_id"]) == [("user", "Cairo", "unanswered")]
