"""The chat API: send a message, stream a reply, read or delete a session."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from flask import Response, jsonify, request
from flask.typing import ResponseReturnValue
from flask_smorest import Blueprint

from travel_agent.api.chat_schemas import (
    AnswerSchema,
    IdempotencyHeaderSchema,
    SendSchema,
    SessionPageArgs,
    SessionSchema,
)
from travel_agent.api.error_schema import ErrorSchema
from travel_agent.api.json_parser import JsonParser
from travel_agent.api.turn_events import client_writer, turn_response
from travel_agent.chat.service import Answer
from travel_agent.chat.store import Message
from travel_agent.services import services
from travel_agent.web.auth import bearer_token, key_fingerprint

log = logging.getLogger("travel_agent.api.chat")


class ChatBlueprint(Blueprint):
    ARGUMENTS_PARSER = JsonParser()


blp = ChatBlueprint("chat", __name__, url_prefix="/api/chat", description="Plan a trip by chatting with the assistant")

ERRORS = {
    400: "The body is not valid JSON.",
    404: "There is no chat session with that id.",
    408: "The body did not arrive in full within BODY_READ_TIMEOUT_SECONDS (10 s by default).",
    409: "The first request with this Idempotency-Key is still running; retry after Retry-After seconds.",
    413: "The body is larger than MAX_BODY_BYTES (64 KiB by default).",
    415: "The body is not application/json.",
    422: "Invalid fields (see `errors`), or an Idempotency-Key first used with another body.",
    502: "The model upstream refused the request or answered something unusable or longer than MAX_REPLY_CHARS.",
    503: "MongoDB or the model upstream is unavailable, or its circuit is open; retry after Retry-After seconds.",
    504: "The request's time budget (CHAT_TIMEOUT_SECONDS) was spent.",
}
RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before retrying", "schema": {"type": "integer"}}}
BODY_ERRORS = (400, 404, 408, 413, 415, 502, 503, 504)  # 422 is documented by the arguments decorator
STREAM_DOC = (
    'Server-sent events, each with an `id` (see docs/api.md, "Resuming a stream"). `start` {session_id, '
    "user_message_id, resume_url} at once; `chunk` {text} as the reply is produced; a `: heartbeat` comment "
    "whenever CHAT_HEARTBEAT_SECONDS (at most 15) pass without one; then `done` {session_id, message_id, "
    "created_at} once the whole reply is stored, or `error` {code, status, message, request_id, session_id} "
    "(the user message then stays unanswered), or `resume` {session_id, user_message_id, resume_url} when the "
    "worker is restarting: reconnect to `resume_url` with the last id received. After a take-over in restart "
    "mode a `restart` {generation} event says the text so far is void. Failures before the stream starts "
    "(validation, unknown session, MongoDB down, the model upstream's circuit open) are plain JSON errors."
)

# One server-sent event (heartbeat comments are not events); `data` is a JSON object, as described above.
STREAM_EVENT = {
    "type": "object",
    "required": ["event", "data"],
    "properties": {
        "id": {"type": "string", "description": "Where in the answer the event ends (Last-Event-ID)"},
        "event": {"type": "string", "enum": ["start", "chunk", "done", "error", "resume", "restart"]},
        "data": {"type": "string", "description": "A JSON object"},
    },
}


# Instances, not classes: webargs instantiates a schema class it is given on every request, and building a
# marshmallow schema (its fields deep-copied) cost a chat request more than validating the body with it.
SEND_SCHEMA, IDEMPOTENCY_HEADER_SCHEMA, SESSION_PAGE_ARGS = SendSchema(), IdempotencyHeaderSchema(), SessionPageArgs()


def errors(*codes: int) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Document these error statuses, each with the one error envelope.

    Only their documentation is kept: each ``alt_response`` also wraps the view in a layer that just calls it
    (through ``current_app.ensure_sync``), and nine such layers cost a chat request more than its routing."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        documented = view
        for code in codes:
            headers = RETRY_AFTER if code in (409, 503) else None
            documented = blp.alt_response(code, schema=ErrorSchema, description=ERRORS[code], headers=headers)(
                documented
            )
        view._apidoc = documented._apidoc  # type: ignore[attr-defined]  # where flask-smorest reads it
        return view

    return decorate


def optional_header(header: str, schema: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``blp.arguments(schema, location="headers", as_kwargs=True)``, for a schema of one optional header,
    parsed only when the request carries that header: without it the view gets the schema's defaults, which
    is all webargs could answer then (it ignores every other header), for a tenth of the cost."""
    environ_key = "HTTP_" + header.upper().replace("-", "_")  # how a WSGI server passes it, whatever its case
    defaults = schema.load({})

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        parsed = blp.arguments(schema, location="headers", as_kwargs=True)(view)

        @functools.wraps(parsed)  # with its OpenAPI documentation (``_apidoc``)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if environ_key in request.environ:
                return parsed(*args, **kwargs)
            return view(*args, **kwargs, **defaults)

        return wrapper

    return decorate


@blp.post("/send")
@blp.arguments(SEND_SCHEMA)
@optional_header("Idempotency-Key", IDEMPOTENCY_HEADER_SCHEMA)
@blp.response(
    200,
    AnswerSchema,
    description="The assistant's reply, stored with the message it answers",
    headers={
        "Idempotent-Replayed": {
            "description": "`true` when this replays an earlier answer",
            "schema": {"type": "string"},
        }
    },
)
@errors(*BODY_ERRORS, 409)
def send(body: dict[str, Any], idempotency_key: str | None) -> ResponseReturnValue:
    """Send a message and get the reply

    No `session_id` starts a new session. The message is stored before the agent is asked; if the agent fails it
    stays in the session as `unanswered`. While the model upstream is known to be down (its circuit is open) the
    turn is refused at once with a 503 and nothing is stored; so is a retry with an `Idempotency-Key`, whose
    stored answer is replayed once the circuit closes.
    """
    svc = services()
    key = per_caller(idempotency_key, bool(svc.settings.api_key_list), request.headers.get("Authorization"))
    answer, replayed = svc.chat.send(body["message"], body["session_id"], key)
    # A ready Response: flask-smorest passes it through without its marshmallow dump, which cost more than
    # building the body.
    response = jsonify(answer_body(answer))
    if replayed:
        response.headers["Idempotent-Replayed"] = REPLAYED[1]
    return response


REPLAYED = ("Idempotent-Replayed", "true")


def answer_body(answer: Answer) -> dict[str, Any]:
    """A send's answer: AnswerSchema's fields in its order, its DateTime dumped as isoformat()."""
    return {
        "session_id": answer.session_id,
        "message_id": answer.message_id,
        "reply": answer.reply,
        "created_at": answer.created_at.isoformat(),
        "degraded": answer.degraded,
    }


def per_caller(idempotency_key: str | None, keys_on: bool, authorization: str | None) -> str | None:
    """With API keys on, each key has its own Idempotency-Key space: two callers who happen to pick the
    same key (and send the same body) must never be handed each other's answer and session."""
    if idempotency_key is None or not keys_on:
        return idempotency_key
    token = bearer_token(authorization)
    return idempotency_key if token is None else f"{key_fingerprint(token)}:{idempotency_key}"


@blp.post("/stream")
@blp.arguments(SEND_SCHEMA)
@optional_header("Idempotency-Key", IDEMPOTENCY_HEADER_SCHEMA)
@blp.response(200, STREAM_EVENT, content_type="text/event-stream", description=STREAM_DOC)
@errors(*BODY_ERRORS, 409)
def stream(body: dict[str, Any], idempotency_key: str | None) -> ResponseReturnValue:
    """Send a message and stream the reply as it is written

    The turn runs to its end whatever the client does; a client that lost the stream resumes it from the URL
    of the `start` event (see the resume route). A retry with the same `Idempotency-Key` and body joins the
    same turn: its events from the start, then the turn live.
    """
    svc = services()
    key = per_caller(idempotency_key, bool(svc.settings.api_key_list), request.headers.get("Authorization"))
    feed, driver = svc.turns.ask(body["message"], body["session_id"], key, client_writer(request.environ))
    # The services are captured here: the body is produced after this view returns, outside its app context.
    return turn_response(svc.turns, feed, None, driver)


@blp.get("/sessions/<session_id>")
@blp.arguments(SESSION_PAGE_ARGS, location="query", as_kwargs=True)
@blp.response(
    200, SessionSchema, description="The session and its newest messages (or those before `before`), oldest first"
)
@errors(404, 503, 504)
def get_session(session_id: str, limit: int, before: int | None = None) -> ResponseReturnValue:
    """Read a session, a page at a time

    The newest `limit` messages come first; follow `next_before` (as `before`) while `has_more` is true to read
    older ones. A page never splits a question from its answer.
    """
    stored, status = services().chat.session(session_id, limit, before)
    return {
        "session_id": stored.id,
        "created_at": stored.created_at,
        "messages": [_message(message, status) for message in stored.messages],
        "has_more": stored.next_before is not None,
        "next_before": stored.next_before,
    }


@blp.delete("/sessions/<session_id>")
@blp.response(204, description="The session and all its messages are gone")
@errors(404, 503, 504)
def delete_session(session_id: str) -> ResponseReturnValue:
    """Delete a session and its messages"""
    svc = services()
    turn_ids = svc.turns.turn_ids(session_id)
    svc.chat.delete(session_id)
    svc.turns.forget_turns(session_id, turn_ids)
    response = Response(status=204)
    del response.headers["Content-Type"]  # no body, so nothing to type (werkzeug adds text/html by default)
    return response


def _message(message: Message, status: dict[str, str]) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "id": message.id,
        "role": message.role,
        "content": message.content,
        "created_at": message.created_at,
    }
    if message.role == "user":
        shown["status"] = status[message.id]
    else:
        if message.reply_to is not None:
            shown["reply_to"] = message.reply_to
        shown |= message.written_by  # model, degraded, usage: as stored
    return shown
