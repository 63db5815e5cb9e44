"""A turn's feed takes only text that extends it (no gap, no repeat, whatever the order and overlap of the
segments it is given), its event ids encode (generation, offset), and a follower whose own budget ends before
the turn is told to resume."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from travel_agent import request_context
from travel_agent.api.turn_events import TurnEvents
from travel_agent.chat.turn_feed import GEN_STRIDE, BadLastEventId, FeedRegistry, TurnFeed, parse_last_event_id


def test_segments_seen_twice_overlapping_or_ahead_are_taken_once_and_in_order() -> None:
    feed = TurnFeed("q", "s")
    assert feed.extend(0, 0, "Hello")
    assert not feed.extend(0, 0, "Hel")  # seen
    assert not feed.extend(0, 8, "xyz")  # ahead of what the feed has: held back, never a gap
    assert feed.extend(0, 3, "lo, wor")  # overlapping: only the new part
    assert feed.text() == "Hello, wor" and feed.length == 10
    assert feed.text_after(0) == "Hello, wor" and feed.text_after(7) == "wor" and feed.text_after(10) == ""
    assert feed.text_after(4) == "o, wor"


def test_a_newer_generation_replaces_the_text_and_an_older_one_is_ignored() -> None:
    feed = TurnFeed("q", "s")
    feed.extend(0, 0, "first try")
    assert feed.extend(1, 0, "Second")
    assert feed.gen == 1 and feed.text() == "Second"
    assert not feed.extend(0, 9, " more")
    feed.finish("done", {})
    assert not feed.extend(1, 6, " after the end")


@pytest.mark.parametrize(
    ("raw", "expected"), [(None, None), ("", None), (" 12 ", (0, 12)), (str(2 * GEN_STRIDE + 5), (2, 5))]
)
def test_last_event_ids_parse_to_generation_and_offset(raw: str | None, expected: Any) -> None:
    assert parse_last_event_id(raw) == expected


@pytest.mark.parametrize("raw", ["x", "-1", "1.5", "1e3", "٣", "9" * 21])
def test_malformed_last_event_ids_are_refused(raw: str) -> None:
    with pytest.raises(BadLastEventId):
        parse_last_event_id(raw)


class _Turns:
    """The part of ``chat.turns.Turns`` a follower's event stream uses."""

    heartbeat_seconds = 0.2

    def __init__(self) -> None:
        self.feeds = FeedRegistry()

    def resume_data(self, session_id: str, turn_id: str) -> dict[str, str]:
        return {"session_id": session_id, "user_message_id": turn_id, "resume_url": "/resume"}

    def leave(self, feed: TurnFeed) -> None:
        self.feeds.close(feed)


def test_a_follower_whose_budget_ends_before_the_turn_is_told_to_resume_in_time() -> None:
    turns = _Turns()
    feed, _ = turns.feeds.open("q", "s")
    feed.extend(0, 0, "partial")
    tokens = request_context.bind("req", 2.1)
    started = time.monotonic()
    try:
        events = list(TurnEvents(turns, feed, (0, 3)))  # type: ignore[arg-type]
    finally:
        request_context.unbind(tokens)
    elapsed = time.monotonic() - started
    assert events[0] == b'id: 7\nevent: chunk\ndata: {"text":"tial"}\n\n'
    assert events[-1].startswith(b"id: 7\nevent: resume\n") and all(e.startswith(b": heartbeat") for e in events[1:-1])
    assert 0.4 < elapsed < 1.2, elapsed  # 1.5 s before the budget's end, not at it


def test_a_waiting_follower_leaves_with_resume_before_a_drain_that_starts_meanwhile() -> None:
    turns = _Turns()
    turns.heartbeat_seconds = 10.0  # no heartbeat would wake it before the drain's cut-off
    feed, _ = turns.feeds.open("q", "s")
    tokens = request_context.bind("req", 60.0)
    drain = threading.Timer(0.3, lambda: request_context.set_drain_cutoff(time.monotonic() + 2.5))
    drain.start()
    started = time.monotonic()
    try:
        events = list(TurnEvents(turns, feed, (0, 0)))  # type: ignore[arg-type]
    finally:
        request_context.set_drain_cutoff(None)
        request_context.unbind(tokens)
    assert [event.split(b"\n")[1] for event in events] == [b"event: resume"]
    assert time.monotonic() - started < 2.6  # before the cut-off (0.3 + 2.5 s), not at the heartbeat
