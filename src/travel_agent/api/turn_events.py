"""A followed turn as server-sent events: what the client has not had yet, then the turn live until its end.

Shared by ``POST /api/chat/stream`` (which asked the question) and the resume route; each event's ``id`` says
where in the answer it ends (``chat.turn_feed``), so a client that reconnects with it gets exactly the rest.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from flask import Response, request

from travel_agent import formats, request_context
from travel_agent.chat.turn_feed import TurnFeed, event_id
from travel_agent.chat.turn_runner import TurnRunner
from travel_agent.chat.turns import Turns
from travel_agent.errors import UNEXPECTED_MESSAGE
from travel_agent.request_context import CLIENT_WRITE_KEY, ERROR_MESSAGE_KEY, STREAM_ERROR_KEY

log = logging.getLogger("travel_agent.api.chat")

HEARTBEAT = formats.SSE_HEARTBEAT
# A follower whose own request budget (or the worker's drain) has less than this left ends with `resume`.
LEAVE_MARGIN_SECONDS = 1.5
DRAIN_CHECK_SECONDS = 1.0
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def sse(event: str, data: dict[str, Any], id_: int) -> bytes:
    return formats.sse_event(event, data, id_)


class TurnEvents:
    """The body of a followed turn's stream; closing it (the server always does) leaves the feed."""

    def __init__(
        self,
        turns: Turns,
        feed: TurnFeed,
        position: tuple[int, int] | None,
        driver: TurnRunner | None = None,
        environ: dict[str, Any] | None = None,
    ) -> None:
        self.turns, self.feed, self.position, self.driver = turns, feed, position, driver
        self.closed = False
        # Read now: the body is produced outside the request's context.
        self.request_id = request_context.request_id()
        self.environ: dict[str, Any] | None = environ

    def _failed_in_band(self, status: int, message: str) -> None:
        """A stream that ends in an error event failed with that status, though its status line said 200: told
        to the request metrics, the console's last errors and the access log (``STREAM_ERROR_KEY``)."""
        if self.environ is not None:
            self.environ[STREAM_ERROR_KEY] = str(status)
            self.environ[ERROR_MESSAGE_KEY] = message
        log.warning("stream %s ended with an error event: %d %s", self.request_id or "-", status, message)

    def __iter__(self) -> Iterator[bytes]:
        return self._events()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            if self.driver is not None:
                self.driver.detach()  # the turn runs on without its client
            self.turns.leave(self.feed)

    def _events(self) -> Iterator[bytes]:
        feed = self.feed
        try:
            if self.position is None:
                yield sse("start", self.turns.resume_data(feed.session_id, feed.turn_id), 0)
            gen, offset = self.position or (0, 0)
            driver = self.driver
            quiet_since = time.monotonic()
            while True:
                driving = driver is not None and not driver.ended
                if driver is not None and driving:
                    # This request runs the turn: a step is its wait for the agent's next piece.
                    step = driver.step()
                    if driver.client_gone:
                        return  # the server closes the body: the turn runs on detached
                    if step == "silence" and driver.client_write is None:
                        yield HEARTBEAT
                seen, terminal = feed.version, feed.terminal
                if feed.gen > gen:
                    gen, offset = feed.gen, 0
                    yield sse("restart", {"generation": gen}, event_id(gen, 0))
                text = feed.text_after(offset)
                if text:
                    offset += len(text)
                    yield sse("chunk", {"text": text}, event_id(gen, offset))
                if terminal is not None:  # read before the text: nothing is added to a feed after its end
                    if terminal.kind == "error":
                        self._failed_in_band(int(terminal.data.get("code", 500)), str(terminal.data.get("message")))
                    ends_text = terminal.kind != "resume"
                    yield sse(terminal.kind, terminal.data, event_id(gen, offset + ends_text))
                    return
                if driving:
                    continue
                left = request_context.remaining()
                if left is not None and left <= LEAVE_MARGIN_SECONDS:
                    # This request's budget (or the drain's cut-off) ends before the turn: the client is told to
                    # resume, rather than cut off with an error while the turn runs on.
                    yield sse("resume", self.turns.resume_data(feed.session_id, feed.turn_id), event_id(gen, offset))
                    return
                # Woken at least every DRAIN_CHECK_SECONDS: a drain that starts meanwhile moves the cut-off closer
                # than the heartbeat interval, and the follower must still leave before it.
                wait = DRAIN_CHECK_SECONDS if left is None else min(DRAIN_CHECK_SECONDS, left - LEAVE_MARGIN_SECONDS)
                if text:
                    quiet_since = time.monotonic()
                elif not feed.wait(seen, wait) and time.monotonic() - quiet_since >= self.turns.heartbeat_seconds:
                    quiet_since = time.monotonic()
                    yield HEARTBEAT
        except Exception as exc:
            # The status line is long gone: an error event is the only way left to tell the client. The turn
            # itself runs on (the client may resume it).
            log.error("unhandled exception in a chat stream", exc_info=exc)
            self._failed_in_band(500, UNEXPECTED_MESSAGE)
            data = formats.error_body(
                500, UNEXPECTED_MESSAGE, request_id=self.request_id, context={"session_id": feed.session_id}
            )
            yield sse("error", data, 0)


def turn_response(
    turns: Turns, feed: TurnFeed, position: tuple[int, int] | None, driver: TurnRunner | None = None
) -> Response:
    events = TurnEvents(turns, feed, position, driver, request.environ)
    return Response(events, mimetype="text/event-stream", headers=SSE_HEADERS)


def client_writer(environ: dict[str, Any]) -> Callable[[bytes], object] | None:
    """Writes straight to the client while the body is iterated (gunicorn's ``write``, see
    ``request_context.ClientWrite``): how a driven turn sends heartbeats from inside the agent's waits. None
    when the server offers none (the turn's silences then come back as steps, and become comments here)."""
    client = environ.get(CLIENT_WRITE_KEY)
    if client is None:
        return None

    def write(data: bytes) -> object:
        if client.write is None:  # pragma: no cover - the response starts before its body is iterated
            raise OSError("the response has not started")
        return client.write(data)

    return write
