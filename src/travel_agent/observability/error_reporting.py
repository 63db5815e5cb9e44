"""Sentry, when ``SENTRY_DSN`` is set: unexpected errors are reported, personal data stays home.

The app's error handler answers every exception itself and logs the unexpected ones at ERROR with their
stack trace, so Sentry's logging integration is what reports them (its Flask integration only sees
exceptions that escape Flask, and none do). Every ERROR line becomes an event; INFO and WARNING lines
become breadcrumbs of the next event.
"""

from __future__ import annotations

import logging

from travel_agent import __version__
from travel_agent.config import Settings

log = logging.getLogger("travel_agent.error_reporting")


def init_error_reporting(settings: Settings) -> bool:
    """Start Sentry in this worker; returns whether it did. Without a DSN nothing is imported or sent."""
    if not settings.sentry_dsn:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.flask import FlaskIntegration
    from sentry_sdk.integrations.logging import LoggingIntegration

    sentry_sdk.init(
        dsn=settings.sentry_dsn,
        environment=settings.sentry_environment,
        release=f"travel_agent@{__version__}",
        # Personal data off: no client addresses, cookies, user ids or request bodies (chat text is personal),
        # and no local variables of the failing frames (they hold messages and keys).
        send_default_pii=False,
        max_request_body_size="never",
        include_local_variables=False,
        traces_sample_rate=None,  # errors only, no performance tracing
        integrations=[FlaskIntegration(), LoggingIntegration(level=logging.INFO, event_level=logging.ERROR)],
    )
    log.info("Sentry error reporting on (environment %s)", settings.sentry_environment)
    return True
