"""Redis Sentinel as real processes (``redis-server <conf> --sentinel``) watching a primary and its replicas."""

from __future__ import annotations

from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from .procs import ManagedProcess
from .redis_server import redis_binary

MASTER_NAME = "mymaster"


class SentinelServer(ManagedProcess):
    """One sentinel on 127.0.0.1 monitoring ``primary_port`` as ``master_name`` with ``quorum``.

    ``down_after_ms`` is how long the primary must be silent before this sentinel calls it down (Sentinel's
    default 30 s; tests shorten it). The config file is the sentinel's own: it rewrites it as it learns."""

    kind = "redis-sentinel"
    log_name = "sentinel.log"
    ready_timeout = 10.0

    def __init__(
        self,
        workdir: Path,
        primary_port: int,
        *,
        port: int | None = None,
        quorum: int = 2,
        master_name: str = MASTER_NAME,
        down_after_ms: int = 1000,
        failover_timeout_ms: int = 5000,
        password: str | None = None,
    ) -> None:
        super().__init__(workdir, port=port)
        self.master_name = master_name
        self.config_path = self.workdir / "sentinel.conf"
        lines = [
            f"port {self.port}",
            "bind 127.0.0.1",
            f"dir {self.workdir}",
            f"sentinel monitor {master_name} 127.0.0.1 {primary_port} {quorum}",
            f"sentinel down-after-milliseconds {master_name} {down_after_ms}",
            f"sentinel failover-timeout {master_name} {failover_timeout_ms}",
            f"sentinel parallel-syncs {master_name} 1",
        ]
        if password:
            lines.append(f'sentinel auth-pass {master_name} "{password}"')
        self.config_path.write_text("\n".join(lines) + "\n")
        self.config_path.chmod(0o600)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [redis_binary(), str(self.config_path), "--sentinel"]

    def _client(self) -> redis.Redis:
        return redis.Redis(
            host="127.0.0.1",
            port=self.port,
            socket_timeout=1.0,
            socket_connect_timeout=1.0,
            retry=Retry(NoBackoff(), 0),
        )

    def is_ready(self) -> bool:
        with self._client() as c:
            try:
                return bool(c.ping())
            except redis.RedisError:
                return False

    def primary_port(self) -> int | None:
        """The port this sentinel now names as the primary's."""
        with self._client() as c:
            try:
                found = c.sentinel_get_master_addr_by_name(self.master_name)
            except redis.RedisError:
                return None
        return int(found[1]) if found else None

    def knows_replicas(self) -> int:
        with self._client() as c:
            try:
                return len(c.sentinel_slaves(self.master_name))
            except redis.RedisError:
                return 0

    def knows_sentinels(self) -> int:
        with self._client() as c:
            try:
                return len(c.sentinel_sentinels(self.master_name))
            except redis.RedisError:
                return 0
