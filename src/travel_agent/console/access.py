"""Who may see the console: a bearer token (scripts) or a session cookie set by the login form (people).

The cookie carries no secret: it is the time it was issued and an HMAC of that time keyed by CONSOLE_TOKEN,
so changing the token logs every session out, and nothing is stored on the server.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from flask import Request

from travel_agent.web.auth import bearer_token, matches_any

COOKIE = "travel_agent_console"
SESSION_SECONDS = 12 * 3600


def _mac(token: str, issued: int) -> str:
    return hmac.new(token.encode(), f"console-session:{issued}".encode(), hashlib.sha256).hexdigest()


def new_session(token: str, now: float | None = None) -> str:
    issued = int(time.time() if now is None else now)
    return f"{issued}.{_mac(token, issued)}"


def valid_session(token: str, value: str | None, now: float | None = None) -> bool:
    issued_text, _, mac = (value or "").partition(".")
    # ASCII digits only: str.isdigit() also takes "²", which int() refuses (a 500 on every request).
    if not (issued_text.isascii() and issued_text.isdigit()) or len(issued_text) > 12:
        return False
    issued = int(issued_text)
    age = (time.time() if now is None else now) - issued
    return 0 <= age + 60 and age < SESSION_SECONDS and hmac.compare_digest(mac, _mac(token, issued))


def allowed(request: Request, token: str) -> bool:
    presented = bearer_token(request.headers.get("Authorization"))
    if presented is not None:
        return matches_any(presented, (token,))
    return valid_session(token, request.cookies.get(COOKIE))


def token_matches(presented: str, token: str) -> bool:
    return matches_any(presented, (token,))
