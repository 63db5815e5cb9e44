"""The chat API: send a message, stream a reply, read or delete a session."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from typing import Any

from flask import Response, jsonify, request
from flask.typing import ResponseReturnValue
from flask_smorest import Blueprint

from travel_agent import formats
from travel_agent.agent.waiting import ClientGone
from travel_agent.api.chat_schemas import (
    AnswerSchema,
    IdempotencyHeaderSchema,
    SendSchema,
    SessionPageArgs,
    SessionSchema,
)
from travel_agent.api.error_schema import ErrorSchema
from travel_agent.api.json_parser import JsonParser
from travel_agent.chat.service import Answer, ChatService, StartedTurn
from travel_agent.chat.store import Message
from travel_agent.errors import UNEXPECTED_MESSAGE, as_seen_by_client
from travel_agent.request_context import CLIENT_WRITE_KEY, ERROR_MESSAGE_KEY, STREAM_ERROR_KEY, request_id
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
    "Server-sent events. `start` {session_id, user_message_id} at once; `chunk` {text} as the reply is produced; "
    "a `: heartbeat` comment whenever CHAT_HEARTBEAT_SECONDS (at most 15) pass without one; then `done` "
    "{session_id, message_id, created_at} once the whole reply is stored, or `error` {code, status, message, "
    "request_id, session_id} (the user message then stays unanswered and no partial reply is stored). "
    "Failures before the stream starts (validation, unknown session, MongoDB down, the model upstream's circuit "
    "open) are plain JSON errors."
)


# One server-sent event (heartbeat comments are not events); `data` is a JSON object, as described above.
STREAM_EVENT = {
    "type": "object",
    "required": ["event", "data"],
    "properties": {
        "event": {"type": "string", "enum": ["start", "chunk", "done", "error"]},
        "data": {"type": "string", "description": "A JSON object"},
    },
}


# Instances, not classes: webargs instantiates a schema class it is given on every request, and building a
# marshmallow schema (its fields deep-copied) cost a chat request more than validating the body with it.
SEND_SCHEMA, IDEMPOTENCY_HEADER_SCHEMA, SESSION_PAGE_ARGS = SendSchema(), IdempotencyHeaderSchema(), SessionPageArgs()
# The stream's "done" event: the answer without its text (sent as chunks already).
DONE_SCHEMA = AnswerSchema(exclude=("reply",))


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
@blp.response(200, STREAM_EVENT, content_type="text/event-stream", description=STREAM_DOC)
@errors(*BODY_ERRORS)
def stream(body: dict[str, Any]) -> ResponseReturnValue:
    """Send a message and stream the reply as it is written"""
    chat = services().chat
    turn = chat.start_stream(body["message"], body["session_id"])
    # The services are captured here: the body is produced after this view returns, outside its app context.
    return Response(
        _events(chat, turn, _heartbeat_writer(request.environ), request.environ),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


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
    services().chat.delete(session_id)
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


def _heartbeat_writer(environ: dict[str, Any]) -> Callable[[], None] | None:
    """Writes a heartbeat straight to the client, for a stream whose agent waits inline (``chat.pump``); None
    when the server offers no ``write`` to use while the body is iterated."""
    client = environ.get(CLIENT_WRITE_KEY)
    if client is None:
        return None

    def beat() -> None:
        if client.write is None:  # pragma: no cover - the response starts before its body is iterated
            raise ClientGone()
        try:
            client.write(formats.SSE_HEARTBEAT)
        except OSError as exc:
            raise ClientGone() from exc

    return beat


def _events(
    chat: ChatService, turn: StartedTurn, beat: Callable[[], None] | None, environ: dict[str, Any]
) -> Iterator[bytes]:
    session_id = turn.plan.session_id
    req_id = request_id()  # read once: the body is produced outside the request's context
    yield formats.sse_event("start", {"session_id": session_id, "user_message_id": turn.question.id})
    try:
        for event in chat.stream(turn, beat):
            if event.kind == "heartbeat":
                yield formats.SSE_HEARTBEAT
            elif event.kind == "chunk":
                yield formats.sse_event("chunk", {"text": event.text})
            elif event.answer is not None:
                done = DONE_SCHEMA.dump(event.answer.as_dict())
                yield formats.sse_event("done", done)
            elif event.error is not None:
                # The same status a plain request would get: a drain's cut-off is a 503 with a retry hint.
                error = as_seen_by_client(event.error)
                _failed_in_band(environ, req_id, error.status_code, error.message)
                data = formats.error_body(
                    error.status_code,
                    error.message,
                    kind=error.kind,
                    request_id=req_id,
                    context={"session_id": session_id},
                )
                if error.retry_after is not None:
                    data["retry_after"] = error.retry_after
                yield formats.sse_event("error", data)
    except Exception as exc:
        # The status line is long gone: an error event is the only way left to tell the client. Logged once,
        # with the stack, like any unexpected error.
        log.error("unhandled exception in a chat stream (session kept, message unanswered)", exc_info=exc)
        _failed_in_band(environ, req_id, 500, UNEXPECTED_MESSAGE)
        data = formats.error_body(500, UNEXPECTED_MESSAGE, request_id=req_id, context={"session_id": session_id})
        yield formats.sse_event("error", data)


def _failed_in_band(environ: dict[str, Any], req_id: str | None, status: int, message: str) -> None:
    """A stream that ends in an error event failed with that status, though its status line said 200: told to
    the request metrics, the console's last errors and the access log (``STREAM_ERROR_KEY``)."""
    environ[STREAM_ERROR_KEY] = str(status)
    environ[ERROR_MESSAGE_KEY] = message
    log.warning("stream %s ended with an error event: %d %s", req_id or "-", status, message)
