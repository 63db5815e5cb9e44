"""The whole service as production runs it (gunicorn, SecantusDB, redis-server) plus an echoing model upstream,
started on a harness Stack."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from tools.harness import GunicornServer, MongoServer, RedisServer
from tools.harness.stack import Stack
from tools.harness.upstream import UpstreamServer

# Short budgets keep each phase short; everything else is the production default.
CHAOS_ENV = {
    "AGENT_PROVIDER": "openai",
    "OPENAI_API_KEY": "sk-chaos-harness-key",
    "OPENAI_MODEL": "chaos-echo",
    # The production default with a model: a turn the model cannot answer gets the offline assistant's answer,
    # marked degraded (the upstream phases show 0 failed turns; tests cover AGENT_FALLBACK=none's statuses).
    "AGENT_FALLBACK": "offline",
    "CHAT_TIMEOUT_SECONDS": "5",
    "REQUEST_TIMEOUT_SECONDS": "5",
    # A restart must finish within a phase: the drain cuts stragglers 3 s before this.
    "GRACEFUL_TIMEOUT_SECONDS": "10",
    "STARTUP_RETRIES": "2",
    "STARTUP_RETRY_DELAY_SECONDS": "0.5",
}


@dataclass
class Servers:
    """The started servers; ``close()`` stops them all (the service first, so it never outlives its backends)."""

    mongo: MongoServer
    redis: RedisServer
    upstream: UpstreamServer
    service: GunicornServer
    budget: float
    stack: Stack

    @property
    def base_url(self) -> str:
        return self.service.base_url

    def close(self) -> None:
        self.stack.close()

    def __enter__(self) -> Servers:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def start_servers(workdir: Path | None = None, *, workers: int = 2, env: Mapping[str, str] | None = None) -> Servers:
    """Start SecantusDB, redis-server, the upstream and gunicorn; ``workdir`` None uses a temporary directory
    removed by ``close()``."""
    stack = Stack(workdir, prefix="travel-agent-chaos-")
    try:
        upstream = stack.upstream()
        mongo, redis = stack.mongo(), stack.redis()
        settings = CHAOS_ENV | {"OPENAI_BASE_URL": upstream.base_url} | dict(env or {})
        service = stack.gunicorn(mongo_uri=mongo.uri, redis_url=redis.url, workers=workers, env=settings)
        service.wait_for_workers(workers)
    except BaseException:
        stack.close()
        raise
    return Servers(mongo, redis, upstream, service, float(settings["CHAT_TIMEOUT_SECONDS"]), stack)
