"""gunicorn's gevent worker, taught to drain: readiness off, idle keep-alive closed, stragglers answered 503.

Relies on gunicorn's AsyncWorker internals (``handle``, ``handle_request``, ``alive``); gunicorn is pinned in
requirements.txt for that reason. The master imports this module to find the worker class, so it imports no
app or driver code: the app is reached through ``self.wsgi`` only inside the worker, after gevent patched.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from dataclasses import dataclass
from typing import Any

import gevent
from gunicorn.http.errors import NoMoreData
from gunicorn.workers.ggevent import GeventWorker

from travel_agent.config import Settings
from travel_agent.web import request_scope


@dataclass
class _Connection:
    greenlet: Any
    idle: bool = True


class TravelAgentWorker(GeventWorker):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._connections: dict[Any, _Connection] = {}
        self._draining = False
        # Read once, like every setting; gunicorn.conf.py has already validated the same environment.
        self._drain_margin = Settings.from_env().drain_margin_seconds

    def init_signals(self) -> None:
        super().init_signals()
        # Ctrl+C in a terminal reaches every process in the group; make it as graceful as SIGTERM instead of
        # gunicorn's immediate quit. SIGQUIT still quits at once for whoever really wants that.
        signal.signal(signal.SIGINT, self.handle_exit)

    def handle_exit(self, sig: int, frame: Any) -> None:
        if not hasattr(self, "wsgi"):
            self._exit_while_booting()
        super().handle_exit(sig, frame)
        if not self._draining:
            self._draining = True
            # Out of the signal handler, as gunicorn does for SIGQUIT: the drain sleeps and does I/O.
            gevent.spawn(self._drain)

    def handle(self, listener: Any, client: Any, addr: Any) -> None:
        self._connections[client] = _Connection(gevent.getcurrent())
        try:
            super().handle(listener, client, addr)
        finally:
            self._connections.pop(client, None)

    def handle_request(self, listener_name: Any, req: Any, sock: Any, addr: Any) -> bool:
        connection = self._connections.get(sock)
        if connection is not None:
            connection.idle = False
        try:
            handled: bool = super().handle_request(listener_name, req, sock, addr)
            return handled
        finally:
            if connection is not None:
                connection.idle = True

    def notify(self) -> None:
        # gunicorn's heartbeat to the master, about once a second from the worker's main loop: a clock the
        # app's sampled gauges can use without a timer of their own.
        super().notify()
        services = self._services()
        if services is not None:
            services.heartbeat()

    def _services(self) -> Any:
        extensions = getattr(getattr(self, "wsgi", None), "extensions", {})
        return extensions.get("travel_agent")

    def _exit_while_booting(self) -> None:
        """Asked to stop while the app is still loading: exit now, with nothing to drain.

        Loading runs the start-up pings (up to STARTUP_RETRIES x STARTUP_PING_TIMEOUT_SECONDS plus the delays
        while MongoDB is down), and gunicorn would let it finish before looking at the signal, holding a deploy
        or a Ctrl+C that long. No request has been accepted and nothing is stored yet; the half-built clients
        hold only sockets, which the exit closes. ``os._exit`` because a SystemExit raised here would unwind
        through gunicorn's boot code and its worker_exit hook, which expect a loaded app.
        """
        self.log.info("Worker stopped while booting (pid: %s)", self.pid)
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        os._exit(0)

    def _drain(self) -> None:
        services = self._services()
        cutoff = time.monotonic() + max(0.0, self.cfg.graceful_timeout - self._drain_margin)
        request_scope.set_drain_cutoff(cutoff)
        in_flight = 0
        if services is not None:
            services.state.draining = True
            in_flight = len(services.state.inflight)
        closed = self._close_idle_connections()
        self.log.info("Draining (pid:%s): %d request(s) in flight, %d idle keep-alive connection(s) closed",
                      self.pid, in_flight, closed)
        # Idle keep-alive connections would pin this worker until the SIGKILL (gunicorn #2297, #3227), so
        # one that turns idle later (a request that began before the drain kept its keep-alive) is closed too,
        # until the worker exits.
        while time.monotonic() < cutoff:
            gevent.sleep(min(0.25, max(0.0, cutoff - time.monotonic())))
            self._close_idle_connections()
        if services is not None:
            cut = services.state.inflight.expire_all("drain")
            if cut:
                self.log.warning("Drain deadline (pid:%s): %d request(s) still running answered 503", self.pid, cut)
        while True:
            gevent.sleep(0.25)
            self._close_idle_connections()

    def _close_idle_connections(self) -> int:
        """Ends the handler of every connection waiting for its next keep-alive request.

        The check and the kill run together in one hub callback, so a connection whose request arrived in
        the meantime is left alone. NoMoreData is what gunicorn's handler expects from a client that went
        away: it closes the socket and logs at debug level (shutting the socket down from here instead
        would make gevent raise EBADF in the handler, which gunicorn logs as an error with a traceback).
        """
        idle = [client for client, connection in list(self._connections.items()) if connection.idle]
        loop = gevent.get_hub().loop
        for client in idle:
            loop.run_callback(self._end_if_idle, client)
        return len(idle)

    def _end_if_idle(self, client: Any) -> None:
        connection = self._connections.get(client)
        if connection is not None and connection.idle and not connection.greenlet.dead:
            connection.greenlet.throw(NoMoreData(b""))
