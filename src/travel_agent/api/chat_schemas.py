"""What the chat API accepts and answers, as marshmallow schemas (they also write the OpenAPI document).

Only strings are accepted where strings belong: marshmallow refuses a number, a list or an object such as
``{"$ne": null}`` with a 422, so no client value can reach a MongoDB query as an operator.
"""

from __future__ import annotations

import re
from typing import Any

import marshmallow as ma
from marshmallow import validate

MAX_MESSAGE_CHARS = 4000
MAX_SESSION_ID_CHARS = 128
# A session read is paged so that its cost stays bounded however long a conversation grows: at most
# 500 messages of 4,000 characters is 2 MB of text in one answer.
MIN_PAGE_MESSAGES, DEFAULT_PAGE_MESSAGES, MAX_PAGE_MESSAGES = 2, 100, 500
MAX_IDEMPOTENCY_KEY_CHARS = 255
IDEMPOTENCY_KEY_PATTERN = re.compile(r"^[\x21-\x7e]+$")  # visible ASCII
# BSON integers are 64-bit: a larger cursor would fail in the driver (a 500) instead of being refused (a 422).
MAX_POSITION = 2**63 - 1


class Text(ma.fields.String):
    """A string that is text: JSON may escape an unpaired UTF-16 surrogate ("\\ud800"), which Python accepts
    but no UTF-8 store can hold (BSON refuses to encode it, which would end the request in a 500)."""

    default_error_messages = {"surrogate": "Not valid Unicode text (an unpaired surrogate)."}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text: str = super()._deserialize(value, attr, data, **kwargs)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise self.make_error("surrogate") from None
        return text


class TrimmedString(Text):
    """Text with surrounding whitespace removed before validation, so "   " is empty."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        return super()._deserialize(value, attr, data, **kwargs).strip()


class SendSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE  # a misspelt field is a mistake worth reporting, not something to ignore

    message = TrimmedString(
        required=True,
        validate=validate.Length(min=1, max=MAX_MESSAGE_CHARS),
        metadata={
            "description": "What the traveller says: 1 to 4,000 characters after trimming.",
            "pattern": r"\S",  # documents "not only whitespace" (the check itself is the trimmed length)
            "example": "Plan 5 days in Lisbon for two in May, mid-range.",
        },
    )
    session_id = Text(
        load_default=None,
        allow_none=True,
        validate=validate.Length(min=1, max=MAX_SESSION_ID_CHARS),
        metadata={"description": "The conversation to continue; omit (or null) to start a new one."},
    )


class IdempotencyHeaderSchema(ma.Schema):
    class Meta:
        unknown = ma.EXCLUDE  # every other header

    idempotency_key = ma.fields.String(
        data_key="Idempotency-Key",
        load_default=None,
        validate=[
            validate.Length(min=1, max=MAX_IDEMPOTENCY_KEY_CHARS),
            validate.Regexp(IDEMPOTENCY_KEY_PATTERN, error="Use visible ASCII characters only, e.g. a UUID."),
        ],
        metadata={
            "description": "Makes a retry safe for 24 h: the same key with the same body gets the original "
            "response and stores nothing twice; with another body it is a 422."
        },
    )


class AnswerSchema(ma.Schema):
    session_id = ma.fields.String(required=True)
    message_id = ma.fields.String(required=True, metadata={"description": "The id of the assistant's reply"})
    reply = ma.fields.String(required=True)
    created_at = ma.fields.DateTime(required=True, metadata={"description": "When the reply was stored (UTC)"})
    degraded = ma.fields.Boolean(
        required=True,
        metadata={
            "description": "true when no model could answer and the offline assistant did (AGENT_FALLBACK=offline)"
        },
    )


class UsageSchema(ma.Schema):
    prompt_tokens = ma.fields.Integer()
    completion_tokens = ma.fields.Integer()
    total_tokens = ma.fields.Integer()


class MessageSchema(ma.Schema):
    id = ma.fields.String(required=True)
    role = ma.fields.String(required=True, validate=validate.OneOf(["user", "assistant"]))
    content = ma.fields.String(required=True)
    created_at = ma.fields.DateTime(required=True)
    status = ma.fields.String(
        validate=validate.OneOf(["answered", "unanswered"]),
        metadata={
            "description": "User messages only: unanswered while the reply is being written, or when the "
            "agent failed or the request ended before it answered."
        },
    )
    reply_to = ma.fields.String(metadata={"description": "Assistant messages only: the user message answered"})
    model = ma.fields.String(
        metadata={"description": "Assistant messages only: the model that wrote it (`offline`: the offline assistant)"}
    )
    degraded = ma.fields.Boolean(
        metadata={"description": "Assistant messages only: true when the offline assistant answered for the model"}
    )
    usage = ma.fields.Nested(
        UsageSchema, metadata={"description": "Assistant messages only: the tokens the model reported using"}
    )


class SessionPageArgs(ma.Schema):
    """Which messages of a session to read: the newest ``limit`` before ``before``."""

    limit = ma.fields.Integer(
        load_default=DEFAULT_PAGE_MESSAGES,
        validate=validate.Range(MIN_PAGE_MESSAGES, MAX_PAGE_MESSAGES),
        metadata={
            "description": f"At most this many messages ({MIN_PAGE_MESSAGES} to {MAX_PAGE_MESSAGES}); "
            "a page never splits a question from its answer, so it may hold one fewer"
        },
    )
    before = ma.fields.Integer(
        validate=validate.Range(0, MAX_POSITION),
        metadata={"description": "The `next_before` of the page read before: older messages than that page's"},
    )


class SessionSchema(ma.Schema):
    session_id = ma.fields.String(required=True)
    created_at = ma.fields.DateTime(required=True)
    messages = ma.fields.List(
        ma.fields.Nested(MessageSchema),
        required=True,
        metadata={"description": "The newest page of the session (or the page before `before`), oldest first"},
    )
    has_more = ma.fields.Boolean(required=True, metadata={"description": "Older messages than these exist"})
    next_before = ma.fields.Integer(
        required=True,
        allow_none=True,
        metadata={"description": "Pass as `before` to read the older page; null when there is none"},
    )
