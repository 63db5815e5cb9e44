"""The resume route: a streamed turn followed again, from where its client lost it, on any worker."""

from __future__ import annotations

from flask import request
from flask.typing import ResponseReturnValue

from travel_agent.api.chat import STREAM_EVENT, blp, errors
from travel_agent.api.chat_schemas import ResumeArgs
from travel_agent.api.error_schema import ErrorSchema
from travel_agent.api.turn_events import turn_response
from travel_agent.chat.errors import BadLastEventId
from travel_agent.chat.turn_feed import BadLastEventId as Unparsable
from travel_agent.chat.turn_feed import TurnFeed, parse_last_event_id
from travel_agent.services import services

RESUME_ARGS = ResumeArgs()
RESUME_DOC = (
    "The turn's server-sent events after `Last-Event-ID` (all of them, `start` included, without one), then "
    "the turn live until `done` or `error` (or `resume`, when this worker is restarting). An answered turn "
    "replays and ends with `done`, a failed one with its `error`."
)
BAD_ID = "Last-Event-ID (or last_event_id) is not an event id of this turn's stream."


@blp.get("/sessions/<session_id>/messages/<message_id>/stream")
@blp.arguments(RESUME_ARGS, location="query", as_kwargs=True)
@blp.response(200, STREAM_EVENT, content_type="text/event-stream", description=RESUME_DOC)
@blp.alt_response(400, schema=ErrorSchema, description=BAD_ID)
@errors(404, 503, 504)
def resume_stream(session_id: str, message_id: str, last_event_id: str | None = None) -> ResponseReturnValue:
    """Resume a streamed reply

    EventSource-compatible: a browser's EventSource sends `Last-Event-ID` by itself when it reconnects.
    `message_id` is the `user_message_id` of the stream's `start` event.
    """
    header = request.headers.get("Last-Event-ID")
    try:
        position = parse_last_event_id(header if header is not None else last_event_id)
    except Unparsable:
        raise BadLastEventId() from None
    turns = services().turns
    feed = turns.follow(session_id, message_id)
    if position is not None and not _within(feed, position):
        turns.leave(feed)
        raise BadLastEventId()
    return turn_response(turns, feed, position)


def _within(feed: TurnFeed, position: tuple[int, int]) -> bool:
    """Whether a position could be of this turn: not of a later generation, and, once the turn has ended,
    not past its end (a running turn may be known here at a coarser grain than the client had it)."""
    gen, offset = position
    if gen > feed.gen:
        return False
    return not (feed.terminal is not None and gen == feed.gen and offset > feed.length + 1)
