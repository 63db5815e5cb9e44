"""The one error envelope as the OpenAPI document shows it (it is written by ``formats.error_body``)."""

from __future__ import annotations

import marshmallow as ma


class ErrorSchema(ma.Schema):
    """The one error envelope, as documented in the OpenAPI document."""

    code = ma.fields.Integer(required=True, metadata={"description": "HTTP status code"})
    status = ma.fields.String(required=True, metadata={"description": "HTTP reason phrase"})
    error = ma.fields.String(
        required=True,
        metadata={"description": "What kind of error, stable and machine-readable (docs/api.md lists them)"},
    )
    message = ma.fields.String(metadata={"description": "What went wrong, safe to show"})
    errors = ma.fields.Dict(metadata={"description": "Field errors of a rejected request"})
    session_id = ma.fields.String(metadata={"description": "Chat: the session the message was stored in (unanswered)"})
    request_id = ma.fields.String(allow_none=True, metadata={"description": "Quote this when reporting"})
