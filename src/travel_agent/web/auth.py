"""API keys: with ``API_KEYS`` set, every ``/api/...`` request needs ``Authorization: Bearer <key>``.

Protection goes by path prefix in the request gate (``web/gate.py``), not by decorating views, so a route added under
``/api/`` later is covered without anyone remembering to. Health, docs, the OpenAPI document and
``/metrics`` (which has its own ``METRICS_TOKEN``) live outside ``/api/`` and stay open.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable, Sequence

from flask import Response, request

from travel_agent.config import Settings
from travel_agent.web.error_handlers import error_response

log = logging.getLogger("travel_agent.auth")
API_PREFIX = "/api/"


def is_api_path(path: str) -> bool:
    return path == API_PREFIX.rstrip("/") or path.startswith(API_PREFIX)


def bearer_token(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, else None."""
    scheme, _, token = (header or "").strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8")).digest()


def matches_any(presented: str, secrets: Sequence[str]) -> bool:
    """Constant-time comparison against every secret: digests first, so neither the length of a key nor
    which key came closest shows in the time taken, and no early exit on a match."""
    candidate = _digest(presented)
    found = False
    for secret in secrets:
        found |= hmac.compare_digest(candidate, _digest(secret))
    return found


def key_fingerprint(token: str) -> str:
    """A stable, non-secret name for a key (rate-limit counters are keyed by it, never by the key)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()[:16]


def check_bearer(secrets: Sequence[str], what: str) -> Response | None:
    """None when the request carries one of ``secrets`` as a bearer token, else the 401 to answer."""
    token = bearer_token(request.headers.get("Authorization"))
    if token is not None and matches_any(token, secrets):
        return None
    reason = "no bearer token" if token is None else "unknown bearer token"
    log.info("%s %s refused: %s (client %s)", request.method, request.path, reason, request.remote_addr)
    # RFC 6750: a request without credentials gets the bare challenge, a wrong token says so.
    challenge = 'Bearer realm="travel_agent"' + ("" if token is None else ', error="invalid_token"')
    return error_response(
        401, f"Send {what} as 'Authorization: Bearer <token>'.", headers={"WWW-Authenticate": challenge}
    )


def api_key_check(settings: Settings) -> Callable[[], Response | None] | None:
    """The check of an ``/api/`` request's key (None when keys are off), for the request gate."""
    keys = settings.api_key_list
    if not keys:
        log.info("API keys off (API_KEYS is not set): /api/ is open")
        return None
    return lambda: check_bearer(keys, "an API key")
