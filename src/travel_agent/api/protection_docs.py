"""What API_KEYS and RATE_LIMIT add to every ``/api/`` operation of the OpenAPI document: the bearer scheme
(Swagger's Authorize button), the 401 and the 429, each with the one error envelope.

An apispec plugin, so each operation is completed as flask-smorest registers it, whatever blueprint it is in;
the document describes this instance, so a 401 is listed only where keys are on, a 429 only with a limit.
"""

from __future__ import annotations

from typing import Any

from apispec import APISpec, BasePlugin

from travel_agent.config import Settings
from travel_agent.web.auth import is_api_path

SCHEME = "apiKey"
ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
INTRODUCTION = """\
The backend of an AI travel-planning chat. Send a message with `POST /api/chat/send` (or `/api/chat/stream`
for server-sent events) and keep the `session_id` it returns to go on with the conversation; read a session with
`GET /api/chat/sessions/{session_id}`, delete it with `DELETE`.

Every error is the same JSON envelope (`code`, `status`, `error`, `message`, `request_id`): `error` is a
stable, machine-readable kind; quote `request_id` when reporting a problem. A 503 or 429 carries
`Retry-After`. {protection}

The probes (`/health`, `/health/live`, `/health/ready`) need no key. More: docs/api.md in the repository."""


def introduction(settings: Settings) -> str:
    keys = (
        "This instance needs an API key on every `/api/` route: `Authorization: Bearer <key>` (the Authorize "
        "button below)."
        if settings.api_key_list
        else "This instance runs without API keys."
    )
    limit = f" Requests are limited to {settings.rate_limit} per key or client address." if settings.rate_limit else ""
    return INTRODUCTION.replace("{protection}", keys + limit)


class ProtectionDocs(BasePlugin):
    def __init__(self, settings: Settings) -> None:
        self.keys_on = bool(settings.api_key_list)
        self.limit = settings.rate_limit

    def init_spec(self, spec: APISpec) -> None:
        if self.keys_on:
            spec.components.security_scheme(
                SCHEME,
                {"type": "http", "scheme": "bearer", "description": "One of the keys in API_KEYS"},
            )

    def operation_helper(
        self, path: str | None = None, operations: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        if path is None or not is_api_path(path):
            return
        for operation in (operations or {}).values():
            responses = operation.setdefault("responses", {})
            if self.keys_on:
                operation["security"] = [{SCHEME: []}]
                responses["401"] = {
                    "description": "No API key, or not one of API_KEYS.",
                    "content": ERROR,
                    "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}},
                }
            if self.limit:
                responses["429"] = {
                    "description": f"Over the rate limit ({self.limit}); retry after Retry-After seconds.",
                    "content": ERROR,
                    "headers": {
                        name: {"schema": {"type": "integer"}, "description": meaning}
                        for name, meaning in (
                            ("Retry-After", "Seconds until the window resets"),
                            ("RateLimit-Limit", "Requests allowed per window"),
                            ("RateLimit-Remaining", "Requests left in this window"),
                            ("RateLimit-Reset", "Seconds until the window resets"),
                        )
                    },
                }
