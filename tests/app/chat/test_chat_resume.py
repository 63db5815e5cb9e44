"""Resuming a streamed turn in-process: replay after a Last-Event-ID, the live tail, bad ids, unknown turns,
and an Idempotency-Key retry that joins the same turn."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from tests.support.chat import STREAM, blocks, chunks_text, parse_block, parse_sse, session_path

from tools.harness.upstream import UpstreamServer
from travel_agent.chat.turns import stream_plan


def sse_ids(raw: str) -> list[int]:
    return [int(block.split("\n")[0].removeprefix("id: ")) for block in raw.split("\n\n") if block.startswith("id:")]


def resume(client: FlaskClient, url: str, last: str | None = None, query: bool = False) -> tuple[int, str]:
    headers = {} if last is None or query else {"Last-Event-ID": last}
    response = client.get(url, headers=headers, query_string={"last_event_id": last} if query and last else None)
    return response.status_code, response.get_data(as_text=True)


def answered(client: FlaskClient, session_id: str) -> str:
    messages = client.get(session_path(session_id)).get_json()["messages"]
    return next(m["content"] for m in messages if m["role"] == "assistant")


def test_an_answered_turn_replays_in_full_or_after_the_last_event_id(app: Flask) -> None:
    client = app.test_client()
    raw = client.post(STREAM, json={"message": "Ten days in Portugal in May"}).get_data(as_text=True)
    events = parse_sse(raw)
    start, text = events[0][1], chunks_text(events)
    assert text == answered(client, start["session_id"])
    status, replay = resume(client, start["resume_url"])
    assert status == 200 and parse_sse(replay) == [events[0], ("chunk", {"text": text}), events[-1]]
    assert sse_ids(replay) == [0, len(text), len(text) + 1]
    # After an id in the middle: exactly the rest, by header or by query parameter.
    for query in (False, True):
        status, rest = resume(client, start["resume_url"], "7", query=query)
        assert status == 200 and [kind for kind, _ in parse_sse(rest)] == ["chunk", "done"]
        assert text[:7] + chunks_text(parse_sse(rest)) == text and sse_ids(rest) == [len(text), len(text) + 1]
    # After the last chunk, or after done: nothing but the end.
    for last in (len(text), len(text) + 1):
        status, end = resume(client, start["resume_url"], str(last))
        assert status == 200 and [kind for kind, _ in parse_sse(end)] == ["done"]


@pytest.mark.parametrize("last", ["abc", "-1", "1.5", "9" * 30, "99999999", str(10**7 + 1)])
def test_a_malformed_or_foreign_last_event_id_is_a_400(app: Flask, last: str) -> None:
    client = app.test_client()
    start = parse_sse(client.post(STREAM, json={"message": "Lisbon"}).get_data(as_text=True))[0][1]
    response = client.get(start["resume_url"], headers={"Last-Event-ID": last})
    assert response.status_code == 400 and response.mimetype == "application/json"
    body = response.get_json()
    assert body["code"] == 400 and "Last-Event-ID" in body["message"] and body["request_id"]


def test_an_unknown_session_or_message_is_the_json_404(app: Flask) -> None:
    client = app.test_client()
    start = parse_sse(client.post(STREAM, json={"message": "Oslo"}).get_data(as_text=True))[0][1]
    for url in (
        f"{session_path('no-such-session')}/messages/{start['user_message_id']}/stream",
        f"{session_path(start['session_id'])}/messages/no-such-message/stream",
    ):
        response = client.get(url)
        assert response.status_code == 404 and response.get_json()["code"] == 404


def test_a_resume_follows_a_running_turn_live_until_done(
    openai_app: Callable[..., Flask], upstream: UpstreamServer
) -> None:
    client = openai_app().test_client()
    upstream.chunk_delay = 0.15
    message = "one two three four five six seven eight"
    response = client.post(STREAM, json={"message": message}, buffered=False)
    body = iter(blocks(response.response))  # type: ignore[arg-type]
    start = parse_block(next(body))[1]
    first = parse_block(next(body))
    assert first[0] == "chunk"
    response.close()  # the connection is lost after one chunk
    got = first[1]["text"]
    status, rest = resume(client, start["resume_url"], str(len(got)))
    assert status == 200 and parse_sse(rest)[-1][0] == "done"
    assert got + chunks_text(parse_sse(rest)) == f"echo: {message}" == answered(client, start["session_id"])
    assert len(upstream.requests) == 1  # one model call: the resume followed the same turn


def test_an_idempotent_retry_joins_the_same_turn(openai_app: Callable[..., Flask], upstream: UpstreamServer) -> None:
    client = openai_app().test_client()
    upstream.chunk_delay = 0.1
    body, headers = {"message": "a b c d e f"}, {"Idempotency-Key": "trip-42"}
    results: list[list[tuple[str, Any]]] = []

    def post() -> None:
        results.append(parse_sse(client.post(STREAM, json=body, headers=headers).get_data(as_text=True)))

    threads = [threading.Thread(target=post) for _ in range(2)]
    threads[0].start()
    threads[0].join(0.3)
    threads[1].start()
    for thread in threads:
        thread.join(20)
    post()  # once answered: the same turn replayed
    assert len(results) == 3
    for events in results:
        assert events[0][0] == "start" and events[-1][0] == "done" and chunks_text(events) == "echo: a b c d e f"
    assert len({events[0][1]["user_message_id"] for events in results}) == 1
    assert len({events[-1][1]["message_id"] for events in results}) == 1
    assert len(upstream.requests) == 1
    messages = client.get(session_path(results[0][0][1]["session_id"])).get_json()["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant"]
    other = client.post(STREAM, json={"message": "something else"}, headers=headers)
    assert other.status_code == 422


def test_a_thousand_followers_of_one_turn_share_one_feed_and_one_poller(
    app: Flask, wait_until: Callable[..., Any]
) -> None:
    svc = app.extensions["travel_agent"]
    turn = svc.chat.begin(stream_plan(None), "Lisbon")  # a question whose turn runs elsewhere (no runner here)
    threads = threading.active_count()
    feeds = [svc.turns.follow(turn.plan.session_id, turn.question.id) for _ in range(1000)]
    assert all(feed is feeds[0] for feed in feeds) and feeds[0].subscribers == 1000 and len(svc.turns.feeds) == 1
    assert threading.active_count() <= threads + 1  # one poller for all of them
    for feed in feeds:
        svc.turns.leave(feed)
    wait_until(lambda: len(svc.turns.feeds) == 0 and threading.active_count() <= threads, 5)
