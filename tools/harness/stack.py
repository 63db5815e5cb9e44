"""One directory and everything started in it: SecantusDB, redis-server, gunicorn (the service or another app)
and model upstreams, for the programs that run the whole service outside pytest (chaos, fuzz, benchmarks).

``close()`` stops every server, the service before its backends, then removes the directory if the stack
made it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from .gunicorn_server import REPO_ROOT, GunicornServer
from .mongo_server import MongoServer
from .pool import ServerPool
from .redis_server import RedisServer
from .upstream import UpstreamServer

SERVICE_APP = "wsgi:app"
# A burst of hundreds of connections must measure the service, not SYN retries at the upstream's backlog.
UPSTREAM_PROCESS_BACKLOG = 4096


class Stack:
    """``with Stack() as s: s.gunicorn(mongo_uri=s.mongo().uri, ...)``; ``workdir`` None makes (and removes) a
    temporary directory, else the servers live in ``workdir`` and it is kept."""

    def __init__(self, workdir: Path | None = None, *, prefix: str = "travel_agent-") -> None:
        self._owns_root = workdir is None
        self.root = Path(tempfile.mkdtemp(prefix=prefix)) if workdir is None else Path(workdir)
        self._pool = ServerPool(self._mktemp)
        self._upstreams: list[UpstreamServer | UpstreamProcess] = []
        self._count = 0

    def _mktemp(self, name: str) -> Path:
        self._count += 1
        path = self.root / f"{name}{self._count}"
        path.mkdir(parents=True)
        return path

    def __enter__(self) -> Stack:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        try:
            self._pool.close()
        finally:
            try:
                while self._upstreams:
                    self._upstreams.pop().stop()
            finally:
                if self._owns_root:
                    shutil.rmtree(self.root, ignore_errors=True)

    def mongo(self) -> MongoServer:
        return self._pool.mongo()

    def redis(self) -> RedisServer:
        return self._pool.redis()

    def gunicorn(
        self,
        *,
        app: str = SERVICE_APP,
        mongo_uri: str | None = None,
        redis_url: str | None = None,
        workers: int = 1,
        env: Mapping[str, str | None] | None = None,
    ) -> GunicornServer:
        """gunicorn with production's gunicorn.conf.py, started and answering /health/live."""
        return self._pool.gunicorn(app=app, mongo_uri=mongo_uri, redis_url=redis_url, workers=workers, env=env)

    def upstream(self, **settings: Any) -> UpstreamServer:
        """An OpenAI-compatible upstream on its own threads in this process (``delay=5`` etc.)."""
        server = UpstreamServer(**settings).start()
        self._upstreams.append(server)
        return server

    def upstream_process(self, delay: float) -> UpstreamProcess:
        """The same upstream as its own process (its threads then do not share the caller's GIL)."""
        process = UpstreamProcess(delay)
        self._upstreams.append(process)
        return process


class UpstreamProcess:
    """``python -m tools.harness.upstream --delay D``: an OpenAI-compatible upstream answering after D s."""

    def __init__(self, delay: float) -> None:
        self._proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tools.harness.upstream",
                "--port",
                "0",
                "--delay",
                str(delay),
                "--backlog",
                str(UPSTREAM_PROCESS_BACKLOG),
            ],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
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
