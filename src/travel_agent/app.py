"""The application factory: reads like a table of contents of the service."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask
from pymongo.errors import PyMongoError
from redis.exceptions import RedisError

from travel_agent import __version__
from travel_agent.api import create_api
from travel_agent.api.metrics import install_metrics
from travel_agent.backends.mongo import describe_failure as describe_mongo_failure
from travel_agent.backends.redis_store import describe_failure as describe_redis_failure
from travel_agent.backends.startup import verify_dependency
from travel_agent.chat_page import install_chat_page
from travel_agent.config import Settings
from travel_agent.console import install_console
from travel_agent.observability.error_reporting import init_error_reporting
from travel_agent.observability.logging_setup import configure_logging
from travel_agent.services import EXTENSION_KEY, Services, build_services
from travel_agent.web.error_handlers import register_error_handlers
from travel_agent.web.gate import install_request_gate
from travel_agent.web.middleware import RequestScopeMiddleware
from travel_agent.web.probes import ProbeMiddleware

log = logging.getLogger("travel_agent.app")


def create_app(overrides: Mapping[str, Any] | None = None) -> Flask:
    """Build one app (one per gunicorn worker). ``overrides`` are environment-style settings for tests."""
    settings = Settings.from_env(overrides=overrides)
    log_file = configure_logging(settings.log_dir, settings.log_level, settings.log_format)
    log.info("starting travel_agent %s (log file %s)", __version__, log_file or "off: stdout only")
    init_error_reporting(settings)
    app = TravelAgentFlask("travel_agent")
    configure_flask(app, settings)
    svc = build_services(settings)
    app.extensions[EXTENSION_KEY] = svc
    verify_dependencies(svc)
    svc.chat.prepare(settings.startup_ping_timeout_seconds)
    create_api(app)
    install_request_gate(app, settings, svc.redis)  # API keys, rate limit, request bodies: one hook
    register_error_handlers(app)
    recorder = install_metrics(app, svc)
    install_console(app, svc, recorder)  # GET /console, only with CONSOLE_TOKEN set
    install_chat_page(app)  # GET /: the traveller's chat page
    # Outermost but for the probes below, so that it owns every request from arrival to the server closing the
    # body, and counts the answers it gives itself (a shed 503, a backstop 504) in the metrics.
    app.wsgi_app = RequestScopeMiddleware(  # type: ignore[method-assign]
        app.wsgi_app, settings.request_timeout_seconds, settings.chat_timeout_seconds, svc.state.inflight, recorder
    )
    # Outside even that: the health probes, answered without Flask (web/probes.py).
    app.wsgi_app = ProbeMiddleware(app.wsgi_app, svc.health, svc.state, recorder)  # type: ignore[method-assign]
    return app


class TravelAgentFlask(Flask):
    """Flask, told that every view and hook is synchronous (gevent, not asyncio): ``ensure_sync``, which Flask
    documents for overriding, is called for each hook and the view of every request, and its coroutine check
    is then wasted work. ``tests/app/test_app_shape.py`` fails if an ``async def`` view or hook appears."""

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        return func


def configure_flask(app: Flask, settings: Settings) -> None:
    app.config.update(
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        # Errors go through our handlers in every mode; never let Flask print a debugger page.
        PROPAGATE_EXCEPTIONS=False,
        TRAVEL_AGENT_SETTINGS=settings,
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]  # keep the documented field order


def verify_dependencies(svc: Services) -> None:
    """Verify MongoDB and Redis side by side, so a dead Redis does not add its retries to MongoDB's."""
    s = svc.settings
    jobs = [
        lambda: verify_dependency(
            "MongoDB",
            lambda: svc.mongo.ping(s.startup_ping_timeout_seconds),
            (PyMongoError,),
            describe_mongo_failure,
            svc.mongo.breaker,
            s.startup_retries,
            s.startup_retry_delay_seconds,
            "serving as unhealthy until it answers",
        )
    ]
    if svc.redis is not None:
        redis = svc.redis
        jobs.append(
            lambda: verify_dependency(
                "Redis",
                redis.ping,
                (RedisError,),
                describe_redis_failure,
                redis.breaker,
                s.startup_retries,
                s.startup_retry_delay_seconds,
                "running degraded (no cache) until it answers",
            )
        )
    else:
        log.info("Redis disabled (REDIS_URL is not set)")
    threads = [threading.Thread(target=job, name="startup-verify") for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
