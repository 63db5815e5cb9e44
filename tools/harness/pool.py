"""Servers made on demand for a fixture, each in its own temporary directory, all closed at teardown."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from .gunicorn_server import GunicornServer
from .mongo_server import MongoServer
from .nginx import NginxRouter
from .procs import ManagedProcess
from .redis_server import RedisServer
from .router import HAProxyRouter
from .sentinel import SentinelServer

S = TypeVar("S", bound=ManagedProcess)

# pytest's tmp_path_factory.mktemp: a new numbered directory per call.
MakeTempDir = Callable[[str], Path]


class ServerPool:
    """Creates servers in fresh temporary directories and closes every one of them on exit, newest first."""

    def __init__(self, mktemp: MakeTempDir) -> None:
        self._mktemp = mktemp
        self._servers: list[ManagedProcess] = []

    def __enter__(self) -> ServerPool:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def mongo(self, *, port: int | None = None, start: bool = True, **options: Any) -> MongoServer:
        """A new SecantusDB server, started unless ``start`` is False; ``options``: users, tls, ca_file."""
        server = self.adopt(MongoServer(self._mktemp("mongo"), port=port, **options))
        if start:
            server.start()
        return server

    def redis(self, *, port: int | None = None, start: bool = True, **options: Any) -> RedisServer:
        """A new redis-server, started unless ``start`` is False; ``options``: password, tls, ca_file, args."""
        server = self.adopt(RedisServer(self._mktemp("redis"), port=port, **options))
        if start:
            server.start()
        return server

    def gunicorn(
        self,
        *,
        mongo_uri: str | None = None,
        redis_url: str | None = None,
        workers: int = 1,
        env: Mapping[str, str | None] | None = None,
        port: int | None = None,
        start: bool = True,
        wait_ready: bool = True,
        app: str = "wsgi:app",
    ) -> GunicornServer:
        """A new gunicorn running the service; started (and waited for, unless ``wait_ready`` is False)."""
        server = self.adopt(
            GunicornServer(
                self._mktemp("gunicorn"),
                mongo_uri=mongo_uri,
                redis_url=redis_url,
                workers=workers,
                env=env,
                port=port,
                app=app,
            )
        )
        if start:
            server.start(wait_ready=wait_ready)
        return server

    def sentinel(self, primary_port: int, *, start: bool = True, **options: Any) -> SentinelServer:
        """A new Redis Sentinel monitoring the primary on ``primary_port`` (options: quorum, down_after_ms, ...)."""
        server = self.adopt(SentinelServer(self._mktemp("sentinel"), primary_port, **options))
        if start:
            server.start()
        return server

    def router(self, backends: dict[str, int], *, start: bool = True, **options: Any) -> HAProxyRouter:
        """A new HAProxy from deploy/haproxy.cfg routing to ``backends`` (app1, app2 -> port)."""
        server = self.adopt(HAProxyRouter(self._mktemp("router"), backends, **options))
        if start:
            server.start()
        return server

    def nginx(self, backends: dict[str, int], cert: Any, ca_file: Path, *, start: bool = True) -> NginxRouter:
        """A new nginx from deploy/nginx.conf, TLS with ``cert`` (a ServerCert signed by ``ca_file``)."""
        server = self.adopt(NginxRouter(self._mktemp("nginx"), backends, cert, ca_file))
        if start:
            server.start()
        return server

    def close(self) -> None:
        """Close every server (even when one fails to), then report the failures together."""
        failures: list[str] = []
        while self._servers:
            server = self._servers.pop()
            try:
                server.close()
            except Exception as exc:
                failures.append(f"{server!r}: {exc!r}")
        if failures:
            raise AssertionError("could not close: " + "; ".join(failures))

    def adopt(self, server: S) -> S:
        """Close ``server`` with the others (one made outside this pool, e.g. a test's own subclass)."""
        self._servers.append(server)
        return server
