"""The request gate: the one ``before_request`` hook, in the order a refusal must come.

An ``/api/`` request is first asked for its key (401), then counted against the rate limit (429); then any
request's body is read whole, as JSON, within its limit and time (415, 413, 408). One hook rather than one per
concern: each hook Flask runs costs a call and a context lookup on every request, the probes' included.
"""

from __future__ import annotations

from flask import Flask, Response, request

from travel_agent.backends.redis_store import RedisGateway
from travel_agent.config import Settings
from travel_agent.web.auth import api_key_check, is_api_path
from travel_agent.web.error_handlers import error_response
from travel_agent.web.rate_limit import rate_gate
from travel_agent.web.request_bodies import BodyGuard

# Where a request's rate decision waits for the RateLimit headers of its answer.
RATE_HEADERS_KEY = "travel_agent.rate_headers"


def install_request_gate(app: Flask, settings: Settings, redis_gateway: RedisGateway | None) -> None:
    check_key = api_key_check(settings)
    rates = rate_gate(settings, redis_gateway)
    guard_body = BodyGuard(settings.body_read_timeout_seconds, settings.max_body_bytes)

    @app.before_request
    def _gate() -> Response | None:
        # The request itself, not its proxy: each attribute read through ``request`` costs a context lookup.
        req = request._get_current_object()  # type: ignore[attr-defined]
        if is_api_path(req.path):
            if check_key is not None:
                refused = check_key()
                if refused is not None:
                    return refused
            if rates is not None:
                decision = rates.check(req.environ)
                headers = req.environ[RATE_HEADERS_KEY] = rates.headers(decision)
                if not decision.allowed:
                    return error_response(429, rates.refusal, headers={"Retry-After": headers["RateLimit-Reset"]})
        return guard_body(req)

    if rates is not None:

        @app.after_request
        def _rate_headers(response: Response) -> Response:
            headers = request.environ.get(RATE_HEADERS_KEY)
            if headers:
                response.headers.update(headers)
            return response
