"""gunicorn settings and hooks: every value from the environment, with a default that suits production.

The master reads this file and imports no app, driver or ssl code: the gevent worker patches the standard
library inside each worker and only then loads the app. Code loaded before patching runs unpatched (redis-py's
back-off would block the worker, PyMongo over TLS recurses), hence no preload_app and imports inside hooks.
"""

import os
import sys

from travel_agent.config import ConfigError, Settings  # stdlib only: safe in the master
from travel_agent.runtime.logger import ACCESS_LOG_FORMAT  # the logger class below, loaded by the master anyway

try:
    _settings = Settings.from_env()
except ConfigError as exc:
    # A wrong value stops the server at once, naming the variable, instead of looping on worker boots.
    sys.stderr.write(f"travel_agent: {exc}\n")
    raise SystemExit(2) from None


bind = f"{_settings.host}:{_settings.port}"
workers = _settings.web_concurrency
# gunicorn's gevent worker plus a drain: readiness off, idle keep-alive closed, stragglers answered 503.
worker_class = "travel_agent.runtime.worker.TravelAgentWorker"
worker_connections = _settings.worker_connections
preload_app = False
timeout = _settings.gunicorn_timeout  # the watchdog, not a request bound (see Settings)
graceful_timeout = _settings.graceful_timeout_seconds
keepalive = _settings.gunicorn_keepalive
# gunicorn 27 opens a control socket at a fixed per-user path; we do not use gunicornc, and two masters on
# one host (tests, a blue/green deploy) would fight over that path.
control_socket_disable = True
accesslog = "-"
errorlog = "-"
loglevel = _settings.log_level
# Method, path, status, duration and request id on every access line (text mode; with LOG_FORMAT=json the
# logger class below writes the same fields as JSON).
access_log_format = ACCESS_LOG_FORMAT
# Headers from a proxy in front (Heroku's router, a load balancer) are trusted for the client address.
forwarded_allow_ips = _settings.forwarded_allow_ips
# Those proxies may set the scheme and the client address, not SCRIPT_NAME or PATH_INFO (gunicorn trusts both
# from them by default): a SCRIPT_NAME that does not prefix the path makes gunicorn answer 500, and the app is
# mounted at the root. A deployment under a path prefix sets GUNICORN_CMD_ARGS="--forwarder-headers SCRIPT_NAME".
forwarder_headers = ""
# JSON lines with LOG_FORMAT=json, health probes left out with ACCESS_LOG_SKIP_PATHS; a dotted path, so the
# master imports only that small module.
logger_class = "travel_agent.runtime.logger.GunicornLogger"


def on_starting(server):
    from travel_agent.config_summary import summary_line
    from travel_agent.runtime import console_files
    from travel_agent.runtime.hooks import log_master_start, reexec_as_module, share_offline_gazetteer
    from travel_agent.runtime.metrics_files import prepare_directory

    # Ctrl+C in a terminal: gunicorn's master would quit at once (SIGINT); make it the graceful SIGTERM path.
    server.handle_int = server.handle_term
    reexec_as_module(server)  # USR2's new master must import as this one did
    log_master_start(server)
    server.log.info("%s", summary_line(_settings))  # what is on, never a secret
    # Before the first fork: every worker writes its metric values there, /metrics sums them.
    try:
        server.log.info("metrics directory %s", prepare_directory(os.environ))
        console_files.prepare(os.environ)
    except OSError as exc:
        # Settings checked what can be checked without touching it; what only doing it shows (a *.db that is
        # a directory, a full disk, a race) is still one line naming the variable, not the master's traceback.
        sys.stderr.write(f"travel_agent: invalid configuration: PROMETHEUS_MULTIPROC_DIR: {exc}\n")
        raise SystemExit(2) from None
    share_offline_gazetteer(server, _settings.offline_may_answer)


def child_exit(server, worker):
    from travel_agent.runtime.console_files import forget_worker
    from travel_agent.runtime.metrics_files import mark_worker_dead

    mark_worker_dead(worker.pid, os.environ)
    forget_worker(worker.pid, os.environ)


def on_exit(server):
    from travel_agent.runtime.hooks import log_master_exit
    from travel_agent.runtime.metrics_files import remove_directory

    remove_directory()
    log_master_exit(server)


def post_worker_init(worker):
    from travel_agent.runtime.hooks import assert_gevent_patched, lighten_greenlets, raise_open_files_limit

    assert_gevent_patched(worker)
    raise_open_files_limit(worker)
    lighten_greenlets()


def worker_exit(server, worker):
    from travel_agent.runtime.hooks import close_services

    close_services(worker)


def worker_abort(worker):
    from travel_agent.runtime.hooks import log_greenlet_stacks

    log_greenlet_stacks(worker)
