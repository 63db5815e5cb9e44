"""The servers a benchmark runs: SecantusDB, redis-server and gunicorn (the service or the floor app), reusing
the test harness's process managers, all in one temporary directory removed at the end."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from harness import REPO_ROOT, GunicornServer, MongoServer, RedisServer, ServerPool
from harness.upstream import UpstreamServer

SERVICE_APP = "wsgi:app"
FLOOR_APP = "benchmarks.floor_app:app"
# Settings both gunicorns share: production's gunicorn.conf.py with its access log on; only the app differs.
BASE_ENV = {"LOG_LEVEL": "info", "LOG_FORMAT": "text"}


class Stack:
    """A context manager: ``with Stack() as s: s.mongo(); s.gunicorn(...)``; everything stops on exit."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="travel_agent-bench-"))
        self._pool = ServerPool(self._mktemp)
        self._upstreams: list[UpstreamServer] = []
        self._processes: list[UpstreamProcess] = []
        self._count = 0

    def _mktemp(self, name: str) -> Path:
        self._count += 1
        path = self.root / f"{name}{self._count}"
        path.mkdir()
        return path

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            for upstream in self._upstreams:
                upstream.stop()
            for process in self._processes:
                process.stop()
            self._pool.close()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def mongo(self) -> MongoServer:
        return self._pool.mongo()

    def redis(self) -> RedisServer:
        return self._pool.redis()

    def upstream(self, **settings: Any) -> UpstreamServer:
        """An OpenAI-compatible upstream on its own threads in this process (``delay=5`` etc.)."""
        server = UpstreamServer(**settings).start()
        self._upstreams.append(server)
        return server

    def upstream_process(self, delay: float) -> UpstreamProcess:
        """The same upstream as its own process (its threads then do not share the benchmark's GIL)."""
        process = UpstreamProcess(delay)
        self._processes.append(process)
        return process

    def gunicorn(self, *, app: str = SERVICE_APP, mongo_uri: str | None = None, redis_url: str | None = None,
                 workers: int = 1, env: Mapping[str, str | None] | None = None) -> GunicornServer:
        return self._pool.gunicorn(app=app, mongo_uri=mongo_uri, redis_url=redis_url, workers=workers,
                                   env={**BASE_ENV, **(env or {})})

    def service(self, mongo: MongoServer, redis: RedisServer | None, *, workers: int = 1,
                env: Mapping[str, str | None] | None = None) -> GunicornServer:
        """The real service (``wsgi:app``) against these servers."""
        return self.gunicorn(mongo_uri=mongo.uri, redis_url=redis.url if redis else None, workers=workers,
                             env=env)

    def floor(self, *, workers: int = 1) -> GunicornServer:
        """The bare Flask app under the same gunicorn.conf.py."""
        return self.gunicorn(app=FLOOR_APP, workers=workers)


def python_env() -> dict[str, str]:
    """Our environment for the benchmark's own processes (``python -m benchmarks...`` run from the repository
    root, which puts the root, and with it the harness, on their import path)."""
    return dict(os.environ)


def worker_pid(server: GunicornServer) -> int:
    """The single worker of a one-worker gunicorn."""
    (pid,) = server.wait_for_workers(1)
    return pid


class UpstreamProcess:
    """``python -m benchmarks.upstream_proc --delay D``: an OpenAI-compatible upstream answering after D s."""

    def __init__(self, delay: float) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.upstream_proc", "--port", "0", "--delay", str(delay)],
            cwd=REPO_ROOT, env=python_env(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self._proc.stdout is not None
        self.base_url = self._proc.stdout.readline().strip()  # its first line, once it listens
        if not self.base_url.startswith("http://"):
            self.stop()
            raise RuntimeError("the upstream process did not start")

    @property
    def pid(self) -> int:
        return self._proc.pid

    def stop(self) -> None:
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(10)
        if self._proc.stdout is not None:
            self._proc.stdout.close()
