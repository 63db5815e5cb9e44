"""What a benchmark starts on the harness's Stack: the service or the floor app, under the same
gunicorn.conf.py with its access log on, against SecantusDB and redis-server."""

from __future__ import annotations

from collections.abc import Mapping

from harness import GunicornServer, MongoServer, RedisServer
from harness.stack import Stack

FLOOR_APP = "benchmarks.floor_app:app"
# Settings both gunicorns share: production's gunicorn.conf.py with its access log on; only the app differs.
BASE_ENV = {"LOG_LEVEL": "info", "LOG_FORMAT": "text"}


class BenchStack(Stack):
    """A Stack in a temporary directory whose gunicorns log every request."""

    def __init__(self) -> None:
        super().__init__(prefix="travel_agent-bench-")

    def service(self, mongo: MongoServer, redis: RedisServer | None, *, workers: int = 1,
                env: Mapping[str, str | None] | None = None) -> GunicornServer:
        """The real service (``wsgi:app``) against these servers."""
        return self.gunicorn(mongo_uri=mongo.uri, redis_url=redis.url if redis else None, workers=workers,
                             env={**BASE_ENV, **(env or {})})

    def floor(self, *, workers: int = 1) -> GunicornServer:
        """The bare Flask app under the same gunicorn.conf.py."""
        return self.gunicorn(app=FLOOR_APP, workers=workers, env=BASE_ENV)


def worker_pid(server: GunicornServer) -> int:
    """The single worker of a one-worker gunicorn."""
    (pid,) = server.wait_for_workers(1)
    return pid
