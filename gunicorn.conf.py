"""gunicorn settings and hooks: every value from the environment, with a default that suits production.

The master reads this file and imports no app, driver or ssl code: the gevent worker patches the standard
library inside each worker and only then loads the app. Code loaded before patching runs unpatched (redis-py's
back-off would block the worker, PyMongo over TLS recurses), hence no preload_app and imports inside hooks.
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


def _env_int(name, default):
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        sys.stderr.write(f"travel_agent: invalid configuration: {name}={raw!r}: expected a whole number >= 1\n")
        raise SystemExit(2)
    return int(raw)


bind = f"{_settings.host}:{_settings.port}"
workers = _settings.web_concurrency
# gunicorn's gevent worker plus a drain: readiness off, idle keep-alive closed, stragglers answered 503.
worker_class = "travel_agent.gunicorn_worker.TravelAgentWorker"
# Greenlets (connections, idle keep-alive included) per worker. Requests past MAX_IN_FLIGHT are shed with a
# fast 503 before this limit makes new connections wait in the listen backlog.
worker_connections = _env_int("WORKER_CONNECTIONS", 1000)
preload_app = False
# Under gevent `timeout` does not bound a request: it is the watchdog that kills a worker whose event loop
# stopped turning (a CPU loop, a blocking C call) and then logs its stacks from worker_abort. Request budgets
# live in the app (REQUEST_TIMEOUT_SECONDS, CHAT_TIMEOUT_SECONDS).
timeout = _env_int("GUNICORN_TIMEOUT", 30)
# SIGTERM: stop accepting, let requests finish, answer stragglers 503 DRAIN_MARGIN_SECONDS before this runs
# out, then exit. 25 s stays under Heroku's SIGKILL 30 s after SIGTERM.
graceful_timeout = _env_int("GRACEFUL_TIMEOUT_SECONDS", 25)
# Seconds an idle keep-alive connection is kept. Behind a load balancer make it longer than the balancer's
# idle timeout, or the balancer may reuse a connection we are closing.
keepalive = _env_int("GUNICORN_KEEPALIVE", 5)
# gunicorn 27 opens a control socket at a fixed per-user path; we do not use gunicornc, and two masters on
# one host (tests, a blue/green deploy) would fight over that path.
control_socket_disable = True
accesslog = "-"
errorlog = "-"
loglevel = _settings.log_level
# Method, path, status, duration and request id on every access line (text mode; with LOG_FORMAT=json the
# logger class below writes the same fields as JSON).
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms rid=%({x-request-id}o)s'
# Headers from a proxy in front (Heroku's router, a load balancer) are trusted for the client address.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
# JSON lines with LOG_FORMAT=json, health probes left out with ACCESS_LOG_SKIP_PATHS; a dotted path, so the
# master imports only that small module.
logger_class = "travel_agent.gunicorn_logging.GunicornLogger"


def on_starting(server):
    from travel_agent.gunicorn_hooks import log_master_start
    from travel_agent.metrics_files import prepare_directory

    # Ctrl+C in a terminal: gunicorn's master would quit at once (SIGINT); make it the graceful SIGTERM path.
    server.handle_int = server.handle_term
    log_master_start(server)
    # Before the first fork: every worker writes its metric values there, /metrics sums them.
    server.log.info("metrics directory %s", prepare_directory(os.environ))


def child_exit(server, worker):
    from travel_agent.metrics_files import mark_worker_dead

    mark_worker_dead(worker.pid, os.environ)


def on_exit(server):
    from travel_agent.gunicorn_hooks import log_master_exit
    from travel_agent.metrics_files import remove_directory

    remove_directory()
    log_master_exit(server)


def post_worker_init(worker):
    from travel_agent.gunicorn_hooks import assert_gevent_patched

    assert_gevent_patched(worker)


def worker_exit(server, worker):
    from travel_agent.gunicorn_hooks import close_services

    close_services(worker)


def worker_abort(worker):
    from travel_agent.gunicorn_hooks import log_greenlet_stacks

    log_greenlet_stacks(worker)
