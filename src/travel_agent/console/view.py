"""``/console``: the page, its login form and its data, each behind CONSOLE_TOKEN; unset, no route exists."""

from __future__ import annotations

import logging
import os
from typing import Any

from flask import Blueprint, Flask, Response, jsonify, redirect, render_template, request

from travel_agent.console import access
from travel_agent.console.records import ConsoleRecords
from travel_agent.console.state import assemble, effective_config
from travel_agent.observability.metrics import RequestMetrics
from travel_agent.runtime.console_files import directory_for
from travel_agent.services import Services
from travel_agent.web.error_handlers import error_response
from travel_agent.web.page_security import secure_pages
from travel_agent.web.rate_limit import MemoryWindows, client_address

log = logging.getLogger("travel_agent.console")

POLL_MILLISECONDS = 1500
# Wrong tokens one address may send per window before its logins are refused 429 until the window ends. The
# count is per worker (in memory): with N workers an address gets at most N times this many guesses.
LOGIN_FAILURES_ALLOWED = 5
LOGIN_WINDOW_SECONDS = 60


def install_console(app: Flask, svc: Services, recorder: RequestMetrics) -> None:
    token = svc.settings.console_token
    if not token:
        log.info("console off: set CONSOLE_TOKEN (16+ letters, digits or ._~+/=-) to serve it at /console")
        return
    records = ConsoleRecords(svc, directory_for(os.environ))
    recorder.error_sink = records.record_error
    svc.heartbeat_hooks.append(records.heartbeat)
    records.write_worker_state()
    app.register_blueprint(_blueprint(svc, records, token))
    log.info("console on at /console (CONSOLE_TOKEN set)")


def _blueprint(svc: Services, records: ConsoleRecords, token: str) -> Blueprint:
    bp = Blueprint(
        "console",
        __name__,
        url_prefix="/console",
        template_folder="templates",
        static_folder="static",
        static_url_path="/static",
    )

    secure_pages(bp)

    @bp.get("")
    def page() -> Any:
        if not access.allowed(request, token):
            return _login(401)
        return render_template(
            "console.html", poll_ms=POLL_MILLISECONDS, config=effective_config(svc.settings), settings=svc.settings
        )

    failures = MemoryWindows(LOGIN_FAILURES_ALLOWED, LOGIN_WINDOW_SECONDS)

    @bp.post("/login")
    def login() -> Any:
        client = client_address(request.environ, svc.settings.trusted_proxy_hops)
        standing = failures.peek(client)
        if not standing.allowed:  # before the token is looked at: a right guess now would still be a guess
            refusal = _login(429, f"Too many wrong tokens; try again in {standing.retry_after} s.")
            refusal.headers["Retry-After"] = str(standing.retry_after)
            return refusal
        if not access.token_matches(request.form.get("token", ""), token):
            failures.hit(client)
            log.info("console login refused (client %s)", client)
            if not (blocked := failures.peek(client)).allowed:  # logged once per window, not per refusal
                log.warning(
                    "console logins from %s refused for %d s: %d wrong tokens",
                    client,
                    blocked.retry_after,
                    LOGIN_FAILURES_ALLOWED,
                )
            return _login(401, "That token is not right.")
        redirected = redirect("/console", code=303)
        redirected.set_cookie(
            access.COOKIE,
            access.new_session(token),
            max_age=access.SESSION_SECONDS,
            path="/console",
            secure=request.is_secure,
            httponly=True,
            samesite="Strict",
        )
        return redirected

    @bp.post("/logout")
    def logout() -> Any:
        response = redirect("/console", code=303)
        response.delete_cookie(
            access.COOKIE, path="/console", secure=request.is_secure, httponly=True, samesite="Strict"
        )
        return response

    @bp.get("/state")
    def state() -> Response:
        if not access.allowed(request, token):
            return error_response(
                401,
                "Send the console token as 'Authorization: Bearer <token>', or log in.",
                headers={"WWW-Authenticate": 'Bearer realm="travel_agent console"'},
            )
        return jsonify(assemble(svc, records))

    return bp


def _login(status: int, error: str | None = None) -> Response:
    response = Response(render_template("console_login.html", error=error), status=status, mimetype="text/html")
    return response
