"""gunicorn settings and hooks, every value from the environment with a default that suits production.

The master reads this file and imports no app, driver or ssl code: the gevent worker patches the standard
library inside each worker and only then loads the app (see README, "How the processes fit").
"""

import os
import sys

# The package lives in src/; a platform that only runs `pip install -r requirements.txt` has not installed it.
pythonpath = os.path.join(os.path.dirname(os.path.abspath(__file__)), "src")
sys.path.insert(0, pythonpath)

from travel_agent.config import ConfigError, Settings  # noqa: E402  (stdlib-only module, safe in the master)

try:
    _settings = Settings.from_env()
except ConfigError as exc:
    # A wrong value stops the server at once, naming the variable, instead of looping on worker boots.
    sys.stderr.write(f"travel_agent: {exc}\n")
    raise SystemExit(2) from None

bind = f"{_settings.host}:{_settings.port}"
workers = _settings.web_concurrency
worker_class = "gevent"
preload_app = False
# Under gevent, `timeout` does not bound a request: it only kills a worker whose event loop stopped
# turning (a CPU loop or a blocking C call). The request budgets live in the app.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GRACEFUL_TIMEOUT_SECONDS", "25"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
worker_connections = int(os.environ.get("WORKER_CONNECTIONS", "1000"))
# gunicorn 27 opens a control socket at a fixed per-user path; we do not use gunicornc, and two masters on
# one host (tests, a blue/green deploy) would fight over that path.
control_socket_disable = True
accesslog = "-"
errorlog = "-"
loglevel = _settings.log_level
# JSON lines with LOG_FORMAT=json, health probes left out with ACCESS_LOG_SKIP_PATHS; a dotted path, so the
# master imports only that small module.
logger_class = "travel_agent.gunicorn_logging.GunicornLogger"


def on_starting(server):
    from travel_agent.metrics_files import prepare_directory

    # Before the first fork: every worker writes its metric values there, /metrics sums them.
    server.log.info("metrics directory %s", prepare_directory(os.environ))


def child_exit(server, worker):
    from travel_agent.metrics_files import mark_worker_dead

    mark_worker_dead(worker.pid, os.environ)


def on_exit(server):
    from travel_agent.metrics_files import remove_directory

    remove_directory()


def post_worker_init(worker):
    import socket

    import gevent.socket

    # Code loaded before patching would block the whole worker on I/O; fail loudly rather than run that way.
    assert socket.socket is gevent.socket.socket, "gevent did not patch the socket module"


def worker_exit(server, worker):
    from travel_agent.services import EXTENSION_KEY

    app = getattr(worker, "wsgi", None)
    services = getattr(app, "extensions", {}).get(EXTENSION_KEY) if app is not None else None
    if services is not None:
        services.close()
