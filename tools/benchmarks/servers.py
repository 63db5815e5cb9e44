"""What a benchmark starts on the harness's Stack: the service under production's gunicorn.conf.py (access log
on), against SecantusDB and redis-server, and the floor app under plain gunicorn gevent workers."""

from __future__ import annotations

from collections.abc import Mapping

from tools.harness import GunicornServer, MongoServer, RedisServer
from tools.harness.stack import Stack

FLOOR_APP = "tools.benchmarks.floor_app:app"
FLOOR_CONFIG = "tools/benchmarks/floor_gunicorn_conf.py"
# The service as production runs it: its gunicorn.conf.py, access log on, text lines.
BASE_ENV = {"LOG_LEVEL": "info", "LOG_FORMAT": "text"}


class PlainGunicorn(GunicornServer):
    """``gunicorn -k gevent -w N`` (tools/benchmarks/floor_gunicorn_conf.py): no access log, gunicorn's own classes."""

    def command(self) -> list[str]:
        return [*super().command()[:3], "-c", FLOOR_CONFIG, self.app]


class BenchStack(Stack):
    """A Stack in a temporary directory whose gunicorns log every request."""

    def __init__(self) -> None:
        super().__init__(prefix="travel_agent-bench-")

    def service(
        self,
        mongo: MongoServer,
        redis: RedisServer | None,
        *,
        workers: int = 1,
        env: Mapping[str, str | None] | None = None,
    ) -> GunicornServer:
        """The real service (``wsgi:app``) against these servers."""
        return self.gunicorn(
            mongo_uri=mongo.uri,
            redis_url=redis.url if redis else None,
            workers=workers,
            env={**BASE_ENV, **(env or {})},
        )

    def floor(self, *, workers: int = 1) -> GunicornServer:
        """The bare Flask app under plain gunicorn gevent workers."""
        server = PlainGunicorn(self._mktemp("floor"), workers=workers, app=FLOOR_APP)
        self._pool.adopt(server)  # closed with the stack's other servers
        server.start()
        return server

    def floor_as_service(self, *, workers: int = 1) -> GunicornServer:
        """The bare Flask app under the service's gunicorn.conf.py: what the worker and logger classes cost."""
        return self.gunicorn(app=FLOOR_APP, workers=workers, env=BASE_ENV)


def worker_pid(server: GunicornServer) -> int:
    """The single worker of a one-worker gunicorn."""
    (pid,) = server.wait_for_workers(1)
    return pid
