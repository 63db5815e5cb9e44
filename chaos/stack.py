"""The whole service as production runs it (gunicorn, SecantusDB, redis-server) plus an echoing model upstream."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from harness import GunicornServer, MongoServer, RedisServer, ServerPool
from harness.upstream import UpstreamServer

# Short budgets keep each phase short; everything else is the production default.
CHAOS_ENV = {
    "AGENT_PROVIDER": "openai",
    "OPENAI_API_KEY": "sk-chaos-harness-key",
    "OPENAI_MODEL": "chaos-echo",
    "CHAT_TIMEOUT_SECONDS": "5",
    "REQUEST_TIMEOUT_SECONDS": "5",
    # A restart must finish within a phase: the drain cuts stragglers 3 s before this.
    "GRACEFUL_TIMEOUT_SECONDS": "10",
    "STARTUP_RETRIES": "2",
    "STARTUP_RETRY_DELAY_SECONDS": "0.5",
}


@dataclass
class Stack:
    """Started servers; ``close()`` stops them all (the service first, so it never outlives its backends)."""

    mongo: MongoServer
    redis: RedisServer
    upstream: UpstreamServer
    service: GunicornServer
    pool: ServerPool
    budget: float
    tmp: tempfile.TemporaryDirectory[str] | None = field(default=None, repr=False)

    @property
    def base_url(self) -> str:
        return self.service.base_url

    def close(self) -> None:
        try:
            self.pool.close()
        finally:
            self.upstream.stop()
            if self.tmp is not None:
                self.tmp.cleanup()

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def start_stack(workdir: Path | None = None, *, workers: int = 2, env: Mapping[str, str] | None = None) -> Stack:
    """Start SecantusDB, redis-server, the upstream and gunicorn; ``workdir`` None uses a temporary directory
    removed by ``close()``."""
    tmp = None
    if workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix="travel-agent-chaos-")
        workdir = Path(tmp.name)
    counter = iter(range(1_000_000))

    def mktemp(name: str) -> Path:
        path = Path(workdir) / f"{name}{next(counter)}"
        path.mkdir(parents=True, exist_ok=True)
        return path

    pool = ServerPool(mktemp)
    upstream = UpstreamServer().start()
    try:
        mongo, redis = pool.mongo(), pool.redis()
        settings = CHAOS_ENV | {"OPENAI_BASE_URL": upstream.base_url} | dict(env or {})
        service = pool.gunicorn(mongo_uri=mongo.uri, redis_url=redis.url, workers=workers, env=settings)
        service.wait_for_workers(workers)
    except BaseException:
        pool.close()
        upstream.stop()
        if tmp is not None:
            tmp.cleanup()
        raise
    return Stack(mongo, redis, upstream, service, pool, float(settings["CHAT_TIMEOUT_SECONDS"]), tmp)
