"""Round trips to MongoDB and Redis of each chat operation, counted by the drivers as the service issues them.

``python -m tools.benchmarks.round_trips`` starts its own SecantusDB and redis-server and prints a table (``--json``
for JSON); ``tests/app/chat/test_chat_round_trips.py`` pins the same counts, so they cannot grow unnoticed.

MongoDB: PyMongo's command monitoring (a ``pymongo.monitoring.CommandListener`` registered before the service's
client is built), one count per command sent. Redis: redis-py has no command listener, so the service's pool is
given a subclass of its own connection class that counts each command it sends (``send_command``; the chat sends
no pipelines). Connection upkeep (redis-py's health-check PING, its CLIENT SETNAME on connect) is listed apart:
it belongs to the connection, not to the operation. Every operation is counted once warm (after the same kind of
request ran once), as a worker serves it after its first minute.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from pymongo import monitoring

from travel_agent.services import EXTENSION_KEY

UPKEEP = {"PING", "CLIENT", "HELLO", "AUTH", "SELECT"}


class _MongoCommands(monitoring.CommandListener):
    """Counts the commands started while armed, by name and collection ("find chat_sessions")."""

    def __init__(self) -> None:
        self.counts: Counter[str] | None = None
        self.lock = threading.Lock()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        target = event.command.get(event.command_name)
        name = f"{event.command_name} {target}" if isinstance(target, str) else event.command_name
        with self.lock:
            if self.counts is not None:
                self.counts[name] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


_MONGO = _MongoCommands()
_registered = False


def register_mongo_listener() -> None:
    """PyMongo applies registered listeners to clients created afterwards: call before building the app."""
    global _registered
    if not _registered:
        monitoring.register(_MONGO)
        _registered = True


class _RedisCommands:
    def __init__(self) -> None:
        self.counts: Counter[str] | None = None
        self.lock = threading.Lock()

    def record(self, name: str) -> None:
        with self.lock:
            if self.counts is not None:
                self.counts[name] += 1


_REDIS = _RedisCommands()


def count_redis_of(app: Flask) -> None:
    """Make the app's Redis pool count every command its connections send (before its first connection)."""
    gateway = app.extensions[EXTENSION_KEY].redis
    if gateway is None:
        return
    pool = gateway.client.connection_pool
    base = pool.connection_class

    class CountingConnection(base):  # type: ignore[misc, valid-type]
        def send_command(self, *args: Any, **kwargs: Any) -> None:
            _REDIS.record(str(args[0]).upper())
            super().send_command(*args, **kwargs)

        def pack_commands(self, commands: Any) -> Any:
            # A pipeline's commands are packed together and sent in one write: each is still counted.
            for command in commands:
                _REDIS.record(str(command[0]).upper())
            return super().pack_commands(commands)

    pool.connection_class = CountingConnection
    pool.disconnect()  # connections made before this (the start-up ping) are replaced by counting ones


@dataclass
class RoundTrips:
    mongo: dict[str, int] = field(default_factory=dict)
    redis: dict[str, int] = field(default_factory=dict)  # the operation's own commands
    upkeep: dict[str, int] = field(default_factory=dict)  # connection upkeep that happened meanwhile

    @property
    def mongo_total(self) -> int:
        return sum(self.mongo.values())

    @property
    def redis_total(self) -> int:
        return sum(self.redis.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "mongo_total": self.mongo_total,
            "redis_total": self.redis_total,
            "mongo": self.mongo,
            "redis": self.redis,
            "upkeep": self.upkeep,
        }


@contextmanager
def counting() -> Iterator[RoundTrips]:
    found = RoundTrips()
    with _MONGO.lock:
        _MONGO.counts = Counter()
    with _REDIS.lock:
        _REDIS.counts = Counter()
    try:
        yield found
    finally:
        with _MONGO.lock:
            mongo, _MONGO.counts = _MONGO.counts or Counter(), None
        with _REDIS.lock:
            redis, _REDIS.counts = _REDIS.counts or Counter(), None
        found.mongo = dict(sorted(mongo.items()))
        found.redis = {k: v for k, v in sorted(redis.items()) if k not in UPKEEP}
        found.upkeep = {k: v for k, v in sorted(redis.items()) if k in UPKEEP}


SEND, STREAM = "/api/chat/send", "/api/chat/stream"


def _ok(response: Any) -> dict[str, Any]:
    if response.status_code != 200:
        raise RuntimeError(f"{response.request.path} answered {response.status_code}: {response.get_data()!r}")
    data: dict[str, Any] = response.get_json()
    return data


def measure(app: Flask) -> dict[str, RoundTrips]:
    """The round trips of each chat operation, each warm. ``app``: built after ``register_mongo_listener`` and
    passed through ``count_redis_of``; the offline agent (no model upstream to count)."""
    client = app.test_client()

    def send(session_id: str | None = None, keyed: bool = False) -> dict[str, Any]:
        body = {"message": "Three days in Lisbon in May, what should we see?"}
        if session_id:
            body["session_id"] = session_id
        headers = {"Idempotency-Key": secrets.token_hex(16)} if keyed else {}
        return _ok(client.post(SEND, json=body, headers=headers))

    def stream(session_id: str) -> None:
        response = client.post(STREAM, json={"message": "And a day trip?", "session_id": session_id})
        text = response.get_data(as_text=True)
        if response.status_code != 200 or "event: done" not in text:
            raise RuntimeError(f"stream answered {response.status_code}: {text[-500:]}")

    operations: dict[str, Callable[[str], object]] = {
        "send, new session": lambda _sid: send(),
        "send, follow-up": lambda sid: send(sid),
        "keyed send, new session": lambda _sid: send(keyed=True),
        "keyed send, follow-up": lambda sid: send(sid, keyed=True),
        "stream, follow-up": stream,
        "session read": lambda sid: _ok(client.get(f"/api/chat/sessions/{sid}")),
    }
    found: dict[str, RoundTrips] = {}
    for name, operation in operations.items():
        # A fresh session with two turns in it, so a follow-up has a context (and the cache an entry).
        session_id = send()["session_id"]
        send(session_id)
        operation(session_id)  # warm: the same kind of request once
        with counting() as counted:
            operation(session_id)
        found[name] = counted
    return found


def table(found: dict[str, RoundTrips]) -> str:
    lines = ["| operation | MongoDB | Redis | MongoDB commands | Redis commands |", "| --- | --- | --- | --- | --- |"]
    for name, counted in found.items():
        mongo = ", ".join(f"{k} ×{v}" for k, v in counted.mongo.items())
        redis = ", ".join(f"{k} ×{v}" for k, v in counted.redis.items()) or "none"
        lines.append(f"| {name} | {counted.mongo_total} | {counted.redis_total} | {mongo} | {redis} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.benchmarks.round_trips",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--no-redis", action="store_true", help="count without Redis (the context cache off)")
    args = parser.parse_args(argv)
    from tools.benchmarks.servers import BenchStack
    from travel_agent.app import create_app

    register_mongo_listener()
    with BenchStack() as stack:
        mongo = stack.mongo()
        settings: dict[str, Any] = {"MONGODB_URI": mongo.uri, "LOG_DIR": str(stack.root / "logs"), "STARTUP_RETRIES": 1}
        settings["REDIS_URL"] = None if args.no_redis else stack.redis().url
        app = create_app(settings)
        try:
            count_redis_of(app)
            found = measure(app)
        finally:
            app.extensions[EXTENSION_KEY].close()
    if args.json:
        sys.stdout.write(json.dumps({name: c.as_dict() for name, c in found.items()}, indent=2) + "\n")
    else:
        print(table(found))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
