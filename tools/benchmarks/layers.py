"""What each layer of the service adds to a request, measured in-process: the WSGI app called directly (no
socket, no gunicorn) in a loop, its CPU time per request (process time, so other processes on the machine do
not count), the minimum of several repeats. The layers, innermost first: the Flask app with its blueprints and
hooks, the request-scope middleware (request id, deadline, admission, backstop), then the same middleware with
its metrics recorder; last, the whole app as gunicorn calls it, whose outermost layer answers the probes.

Run as ``python -m tools.benchmarks.layers --mongo URI --redis URL``: gevent patches first, as in a worker.
"""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Iterable  # noqa: E402
from typing import Any  # noqa: E402

from werkzeug.test import EnvironBuilder  # noqa: E402

WSGI = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def cpu_us_per_request(app: WSGI, path: str, calls: int, repeats: int) -> float:
    environ = EnvironBuilder(path=path, method="GET").get_environ()

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        return None

    def once() -> None:
        body = app(dict(environ), start_response)
        b"".join(body)
        close = getattr(body, "close", None)
        if close is not None:
            close()

    for _ in range(200):
        once()
    best = float("inf")
    for _ in range(repeats):
        started = time.process_time()
        for _ in range(calls):
            once()
        best = min(best, (time.process_time() - started) / calls)
    return round(best * 1e6, 1)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--mongo", required=True)
    p.add_argument("--redis", required=True)
    p.add_argument("--calls", type=int, default=3000)
    p.add_argument("--repeats", type=int, default=7)
    args = p.parse_args(argv)
    log_dir = tempfile.mkdtemp(prefix="travel_agent-layers-")
    # As under gunicorn: metric values in files (multiprocess mode), the log in a directory of its own.
    os.environ.update(
        MONGODB_URI=args.mongo,
        REDIS_URL=args.redis,
        LOG_DIR=log_dir,
        PROMETHEUS_MULTIPROC_DIR=os.path.join(log_dir, "metrics"),
    )
    from tools.benchmarks.floor_app import app as floor
    from travel_agent.app import create_app

    service = create_app()
    logging.getLogger().handlers.clear()  # start-up lines only; requests log nothing on these paths
    from travel_agent.web.middleware import RequestScopeMiddleware
    from travel_agent.web.probes import ProbeMiddleware

    outer = service.wsgi_app
    assert isinstance(outer, ProbeMiddleware), "the probe layer is the outermost layer"
    scope = outer.app
    assert isinstance(scope, RequestScopeMiddleware), "the request-scope middleware is inside the probe layer"
    service.extensions["travel_agent"].health.cache_seconds = 3600  # every /health here a cached one
    # The same middleware without its metrics recorder, around the same Flask app: what the metrics cost.
    unmetered = RequestScopeMiddleware(scope.app, scope.request_timeout, scope.chat_timeout, scope.inflight)
    layers: dict[str, WSGI] = {
        "floor app": floor.wsgi_app,
        "service: Flask app": scope.app,
        "+ request-scope middleware": unmetered,
        "+ metrics": scope,
        "the service as served (probe layer)": outer,
    }
    result = {
        path: {name: cpu_us_per_request(app, path, args.calls, args.repeats) for name, app in layers.items()}
        for path in ("/health/live", "/health/ready", "/health")
    }
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
