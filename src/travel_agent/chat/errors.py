"""The chat's own refusals, each with its status (the agent's failures are in ``agent.errors``)."""

from __future__ import annotations

from travel_agent.errors import TravelAgentError


class SessionNotFound(TravelAgentError):
    status_code = 404
    kind = "session_not_found"
    message = "There is no chat session with that id."


class IdempotencyKeyReused(TravelAgentError):
    """The key was first used with another body: replaying that answer for this body would be a lie."""

    status_code = 422
    kind = "idempotency_key_reused"
    message = "This Idempotency-Key was already used with a different request body."


class IdempotencyKeyInFlight(TravelAgentError):
    """The first request with this key is still running and outlasted this one's patience."""

    status_code = 409
    kind = "idempotency_key_in_flight"
    message = "A request with this Idempotency-Key is still in progress. Retry it shortly."
    retry_after = 1


class PositionTaken(TravelAgentError):
    """The position handed out for a message is already used: the database lost a session's counter update
    (a crash before it was journaled, a rollback). A retry is given the next free position."""

    status_code = 503
    kind = "position_taken"
    message = "The conversation could not be stored just now. Please retry."
    retry_after = 1


class MessageNotFound(TravelAgentError):
    """A resume asked for a question the session does not hold."""

    status_code = 404
    kind = "message_not_found"
    message = "There is no such message in that chat session."


class BadLastEventId(TravelAgentError):
    """A resume's Last-Event-ID (or ``last_event_id``) is no event id of that turn."""

    status_code = 400
    kind = "bad_last_event_id"
    message = "Last-Event-ID is not an event id of this turn's stream; omit it to replay from the start."
