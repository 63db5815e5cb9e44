"""The headers of the service's own HTML pages (the operator console, the chat page): nothing from elsewhere,
no inline script or style, never framed, never cached; each page only talks to this service."""

from __future__ import annotations

from flask import Blueprint, Response

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def secure_pages(bp: Blueprint) -> None:
    """Every answer of ``bp`` gets the headers (those it set itself are kept)."""

    @bp.after_request
    def _secure(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response
