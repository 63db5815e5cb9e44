"""What a worker knows of one turn's answer while clients follow it: its text so far, its end, and who waits.

One ``TurnFeed`` per turn per worker, shared by every client of this worker that follows the turn (the stream
that asked the question, resumes, idempotent retries): thousands of resumes of one turn cost one copy of its
text and an offset each. A feed is written either by the turn's runner in this worker (``chat.turns``) or by
a poller that reads the turn from Redis and MongoDB when it runs elsewhere.

Positions in the answer are character offsets. Text arrives as segments ``(generation, start, text)`` and a
feed keeps only what extends what it has, so a segment seen twice (from Redis and from a MongoDB checkpoint)
or overlapping is never repeated, and one that starts past the end is held back until the gap is filled: what
a client is sent is always a prefix of the answer. A *generation* is one attempt at the answer's text: a
turn taken over in "restart" mode starts generation + 1 from offset 0, and the clients are told so.

SSE event ids (``event_id``) encode (generation, offset): ``generation * GEN_STRIDE + offset``. ``start`` is
0, a ``chunk`` carries the offset after its text, ``done`` and ``error`` the final offset + 1, ``resume`` the
offset reached (it adds no text), ``restart`` the new generation's offset 0.
"""

from __future__ import annotations

import bisect
import threading
from dataclasses import dataclass
from typing import Any

from travel_agent.config import MAX_REPLY_CHARS_LIMIT

# Larger than any answer (MAX_REPLY_CHARS_LIMIT) plus the final event's +1: offsets never reach the next
# generation's ids.
GEN_STRIDE = 10 * MAX_REPLY_CHARS_LIMIT
# A Last-Event-ID longer than this is no id of ours (and parsing it would cost for nothing).
MAX_EVENT_ID_CHARS = 20
TERMINALS = ("done", "error", "resume")


class BadLastEventId(ValueError):
    """A Last-Event-ID that is no id this service could have sent."""


def event_id(gen: int, offset: int) -> int:
    return gen * GEN_STRIDE + offset


def parse_last_event_id(raw: str | None) -> tuple[int, int] | None:
    """(generation, offset) of a Last-Event-ID, None when absent or empty (replay from the start)."""
    if raw is None or raw.strip() == "":
        return None
    raw = raw.strip()
    if len(raw) > MAX_EVENT_ID_CHARS or not raw.isascii() or not raw.isdigit():
        raise BadLastEventId(raw)
    gen, offset = divmod(int(raw), GEN_STRIDE)
    return gen, offset


@dataclass(frozen=True)
class Terminal:
    kind: str  # one of TERMINALS
    data: dict[str, Any]


class TurnFeed:
    """The answer so far (in pieces, with their end offsets), its generation and its terminal event."""

    def __init__(self, turn_id: str, session_id: str) -> None:
        self.turn_id, self.session_id = turn_id, session_id
        self.gen = 0
        self._pieces: list[str] = []
        self._ends: list[int] = []
        self.length = 0
        self.terminal: Terminal | None = None
        self.version = 0  # bumped on every change; a waiter waits for it to move
        self.subscribers = 0
        self.local = False  # a runner of this worker writes it
        self.polled = False  # a poller of this worker follows it (the turn runs elsewhere)
        self._changed = threading.Condition(threading.Lock())

    # -- writing --------------------------------------------------------------------------------------

    def extend(self, gen: int, start: int, text: str) -> bool:
        """Take what of ``text`` (at ``start`` in generation ``gen``) extends the feed; whether anything did.
        A newer generation replaces the text; an older one, or a segment past the end, is ignored."""
        with self._changed:
            if gen < self.gen or self.terminal is not None:
                return False
            if gen > self.gen:
                self.gen, self._pieces, self._ends, self.length = gen, [], [], 0
                self._bump()
            if start > self.length or start + len(text) <= self.length:
                return False
            self._pieces.append(text[self.length - start :])
            self.length = start + len(text)
            self._ends.append(self.length)
            self._bump()
            return True

    def restart(self, gen: int) -> None:
        """A new generation with no text yet (its clients are sent ``restart`` before any of it)."""
        with self._changed:
            if gen > self.gen and self.terminal is None:
                self.gen, self._pieces, self._ends, self.length = gen, [], [], 0
                self._bump()

    def finish(self, kind: str, data: dict[str, Any]) -> None:
        with self._changed:
            if self.terminal is None:
                self.terminal = Terminal(kind, data)
                self._bump()

    def reopen(self) -> None:
        """A ``resume`` is withdrawn: this worker took the turn over and continues it."""
        with self._changed:
            if self.terminal is not None and self.terminal.kind == "resume":
                self.terminal = None
                self._bump()

    def _bump(self) -> None:
        self.version += 1
        self._changed.notify_all()

    # -- reading --------------------------------------------------------------------------------------

    def text(self) -> str:
        with self._changed:
            return "".join(self._pieces)

    def text_after(self, offset: int) -> str:
        """The text of the current generation from ``offset`` on ('' when the feed has not reached it)."""
        with self._changed:
            if offset >= self.length:
                return ""
            index = bisect.bisect_right(self._ends, offset)
            first = self._pieces[index]
            begins = self._ends[index] - len(first)
            return first[offset - begins :] + "".join(self._pieces[index + 1 :])

    def wait(self, seen: int, timeout: float) -> bool:
        """Until the feed changes from version ``seen`` or ``timeout`` passes; whether it changed."""
        with self._changed:
            return self._changed.wait_for(lambda: self.version != seen, timeout)


class FeedRegistry:
    """This worker's feeds by turn (the question's id); a feed is dropped when nobody reads or writes it."""

    def __init__(self) -> None:
        self._feeds: dict[str, TurnFeed] = {}
        self._lock = threading.Lock()

    def get(self, turn_id: str) -> TurnFeed | None:
        return self._feeds.get(turn_id)

    def open(self, turn_id: str, session_id: str) -> tuple[TurnFeed, bool]:
        """The turn's feed with one more subscriber, and whether it is new."""
        with self._lock:
            feed = self._feeds.get(turn_id)
            created = feed is None
            if feed is None:
                feed = self._feeds[turn_id] = TurnFeed(turn_id, session_id)
            feed.subscribers += 1
            return feed, created

    def close(self, feed: TurnFeed) -> None:
        with self._lock:
            feed.subscribers -= 1
            self._drop_if_unused(feed)

    def writer_done(self, feed: TurnFeed) -> None:
        """The feed's runner or poller stopped."""
        with self._lock:
            self._drop_if_unused(feed)

    def _drop_if_unused(self, feed: TurnFeed) -> None:
        if feed.subscribers <= 0 and not feed.local and not feed.polled and self._feeds.get(feed.turn_id) is feed:
            del self._feeds[feed.turn_id]

    def running_locally(self) -> int:
        with self._lock:
            return sum(1 for feed in self._feeds.values() if feed.local)

    def __len__(self) -> int:
        return len(self._feeds)
