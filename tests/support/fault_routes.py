"""Routes that exist only in tests: they drive the real gateways into the situations the tests assert on."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

from flask import Blueprint, Flask, Response, request
from flask.typing import ResponseReturnValue
from webargs import fields
from webargs.flaskparser import use_args

from travel_agent.errors import BudgetExceeded, DependencyUnavailable
from travel_agent.services import services

bp = Blueprint("test_faults", __name__, url_prefix="/_test")


@bp.get("/mongo/find")
def mongo_find() -> ResponseReturnValue:
    """One real read through the MongoDB gateway."""
    with services().mongo.call() as db:
        found = db.probe.find_one({"_id": "probe"})
    return {"found": found is not None}


def mongo_hold() -> ResponseReturnValue:
    """Holds a pooled connection for a blocked find (the test arms failCommand's blockConnection). Mounted
    under /api/chat/ so that it runs on the chat budget while /_test/mongo/find runs on the shorter one."""
    with services().mongo.call() as db:
        db.probe.find_one({"_id": "hold"})
    return {"held": True}


@bp.get("/cache/<key>")
def cache_roundtrip(key: str) -> ResponseReturnValue:
    """Writes and reads a key through the Redis gateway; Redis trouble must fall back, not fail."""
    redis = services().redis
    if redis is None:
        return {"source": "disabled", "value": None}
    value = request.args.get("value", "v")
    stored = redis.run("set", lambda r: bool(r.set(f"test:{key}", value, ex=60)), fallback=False)
    got = redis.run("get", lambda r: r.get(f"test:{key}"), fallback=None)
    return {
        "source": "redis" if stored and got is not None else "fallback",
        "value": got.decode() if got is not None else None,
    }


@bp.get("/cache-hold")
def cache_hold() -> ResponseReturnValue:
    """Holds a pooled Redis connection for ``seconds`` (a BLPOP on an empty key)."""
    seconds = float(request.args.get("seconds", "1"))
    redis = services().redis
    assert redis is not None
    started = time.monotonic()
    result = redis.run(
        "blpop",
        lambda r: r.blpop([f"test:empty:{time.monotonic_ns()}"], timeout=seconds) or "held",
        fallback="fallback",
    )
    return {"result": result, "seconds": round(time.monotonic() - started, 3)}


@bp.get("/boom")
def boom() -> ResponseReturnValue:
    raise RuntimeError("driver said: mongodb://admin:hunter2@db.internal:27017 refused")


@bp.get("/thread-crash")
def thread_crash() -> ResponseReturnValue:
    """A background thread (a greenlet in a gevent worker) dies of an exception nobody catches."""

    def crash() -> None:
        raise RuntimeError("background thread crashed")

    threading.Thread(target=crash, name="doomed").start()
    return {"started": True}, 202


@bp.get("/unavailable")
def unavailable() -> ResponseReturnValue:
    raise DependencyUnavailable("mongodb", retry_after=3)


@bp.get("/too-slow")
def too_slow() -> ResponseReturnValue:
    raise BudgetExceeded()


@bp.post("/echo")
@use_args({"name": fields.String(required=True)}, location="json")
def echo(args: dict[str, str]) -> ResponseReturnValue:
    return {"name": args["name"]}


def sleep_ignoring_deadline() -> ResponseReturnValue:
    """Sleeps (cooperatively under gevent) without looking at the deadline: only the backstop can end it."""
    seconds = float(request.args.get("seconds", "1"))
    time.sleep(seconds)
    return {"slept": seconds}


def stream_events() -> ResponseReturnValue:
    """An event stream of ``chunks`` events ``interval`` seconds apart, deadline ignored."""
    chunks, interval = int(request.args.get("chunks", "5")), float(request.args.get("interval", "0.5"))

    def events() -> Iterator[bytes]:
        for i in range(chunks):
            yield f"data: {i}\n\n".encode()
            time.sleep(interval)
        yield b"event: done\ndata: {}\n\n"

    return Response(events(), mimetype="text/event-stream")


@bp.get("/spin")
def spin() -> ResponseReturnValue:
    """Burns CPU without yielding: the event loop stops turning and only gunicorn's watchdog can help."""
    until = time.monotonic() + float(request.args.get("seconds", "1"))
    while time.monotonic() < until:
        pass
    return {"spun": True}


def api_ping() -> ResponseReturnValue:
    """A stand-in for the API: protected (API keys, rate limits) only by living under /api/."""
    return {"pong": True}


def install(app: Flask) -> Flask:
    app.register_blueprint(bp)
    # Under /api/chat/ these run on the chat budget.
    app.add_url_rule("/api/chat/_test/mongo-hold", view_func=mongo_hold)
    app.add_url_rule("/api/chat/_test/sleep", view_func=sleep_ignoring_deadline)
    app.add_url_rule("/api/chat/_test/stream", view_func=stream_events)
    app.add_url_rule("/api/chat/_test/cache-hold", view_func=cache_hold, endpoint="cache_hold_chat_budget")
    app.add_url_rule("/_test/sleep", view_func=sleep_ignoring_deadline, endpoint="sleep_short_budget")
    app.add_url_rule("/api/_test/ping", view_func=api_ping, methods=["GET", "POST"])
    return app
