"""gunicorn's gevent worker, taught to drain: readiness off, idle keep-alive closed, stragglers answered 503.

Relies on gunicorn's AsyncWorker internals (``handle``, ``handle_request``, ``alive``, ``timeout_ctx``,
``handle_error``, the gevent worker's module-level ``StreamServer``); gunicorn is pinned in requirements.txt for
that reason. The master imports this module to find the worker class, so it imports no
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
from gevent.server import StreamServer  # the class gunicorn's gevent worker imports and serves with
from gunicorn import util
from gunicorn.http.errors import NoMoreData
from gunicorn.workers import ggevent
from gunicorn.workers.ggevent import GeventWorker

from travel_agent import request_context
from travel_agent.config import Settings
from travel_agent.runtime.connection_slots import ACCEPTS_PER_WAKEUP, WaitingConnections, room_limit
from travel_agent.runtime.error_pages import CapturedErrorPage, json_error_page


class _EagerAcceptServer(StreamServer):
    """gunicorn's gevent StreamServer, accepting up to ACCEPTS_PER_WAKEUP queued connections per wake-up.

    gunicorn sets ``max_accept = 1`` when there are several workers; the setter below keeps ours instead.
    """

    @property
    def max_accept(self) -> int:
        return ACCEPTS_PER_WAKEUP

    @max_accept.setter
    def max_accept(self, value: int) -> None:
        pass


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
        settings = Settings.from_env()
        self._drain_margin = settings.drain_margin_seconds
        self._init_connection_slots(settings)

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
        self._connection_opened(client)
        try:
            super().handle(listener, client, addr)
        finally:
            self._connections.pop(client, None)
            self._connection_closed(client)

    def handle_request(self, listener_name: Any, req: Any, sock: Any, addr: Any) -> bool:
        connection = self._connections.get(sock)
        if connection is not None:
            connection.idle = False
        self._request_began(sock)
        try:
            handled: bool = super().handle_request(listener_name, req, sock, addr)
            return handled
        finally:
            if connection is not None:
                connection.idle = True
            self._request_ended(sock)

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
        request_context.set_drain_cutoff(cutoff)
        in_flight = 0
        if services is not None:
            services.state.draining = True
            in_flight = len(services.state.inflight)
        closed = self._close_idle_connections()
        self.log.info(
            "Draining (pid:%s): %d request(s) in flight, %d idle keep-alive connection(s) closed",
            self.pid,
            in_flight,
            closed,
        )
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

    # -- connection slots: a bounded wait for a request head, and room made by closing waiting connections ----

    def _init_connection_slots(self, settings: Settings) -> None:
        self._waiting = WaitingConnections()
        self._awaiting_first_head: set[Any] = set()
        self._room_limit = room_limit(self.worker_connections)
        self._head_timeout = settings.request_head_timeout_seconds
        self._evicted = 0
        self._evictions_logged_at = 0.0

    def run(self) -> None:
        # GeventWorker.run builds its servers from the module's StreamServer; this process is a worker, and
        # only ever runs ours.
        ggevent.StreamServer = _EagerAcceptServer  # type: ignore[attr-defined]  # imported there, not re-exported
        super().run()
        self._wait_for_turns()

    def _wait_for_turns(self) -> None:
        """gunicorn returns once no connection is left; a streamed turn runs on without its client (chat/turns.py)
        and ends, or hands over at the drain's cut-off, shortly after it. Exiting first would leave it to be
        taken over only when its lease runs out."""
        services = self._services()
        turns = getattr(services, "turns", None)
        if turns is None:
            return
        give_up = time.monotonic() + max(0.0, self.cfg.graceful_timeout - 0.5)
        if turns.running():
            self.log.info("Waiting for %d streamed turn(s) to end or hand over (pid:%s)", turns.running(), self.pid)
        while turns.running() and time.monotonic() < give_up:
            gevent.sleep(0.05)

    def timeout_ctx(self) -> Any:
        # gunicorn bounds the wait for every request head, the first included, by the keep-alive time. A new
        # connection has no reason to be slower than its first packets: REQUEST_HEAD_TIMEOUT_SECONDS bounds it,
        # so a slowloris connection holds its slot for that long, not for the keep-alive.
        if gevent.getcurrent() in self._awaiting_first_head:
            # False: a silent timeout, as gunicorn's own timeout_ctx passes it (the stubs omit that form).
            return gevent.Timeout(self._head_timeout, False)  # type: ignore[arg-type]
        return super().timeout_ctx()

    def _connection_opened(self, client: Any) -> None:
        self._awaiting_first_head.add(gevent.getcurrent())
        excess = len(self._connections) - self._room_limit
        if excess > 0:
            self._make_room(excess)  # before this one joins the waiting: never the newcomer itself
        self._waiting.waiting(client)

    def _connection_closed(self, client: Any) -> None:
        self._awaiting_first_head.discard(gevent.getcurrent())
        self._waiting.not_waiting(client)

    def _request_began(self, client: Any) -> None:
        self._awaiting_first_head.discard(gevent.getcurrent())
        self._waiting.not_waiting(client)

    def _request_ended(self, client: Any) -> None:
        if client in self._connections:
            self._waiting.waiting(client)

    def _make_room(self, count: int) -> None:
        """Closes the ``count`` connections that have waited longest for a request head, in a hub callback
        (as the drain does) so that one whose request arrived meanwhile is spared."""
        loop = gevent.get_hub().loop
        for client in self._waiting.take_longest_waiting(count):
            loop.run_callback(self._evict_if_waiting, client)

    def _evict_if_waiting(self, client: Any) -> None:
        connection = self._connections.get(client)
        if connection is not None and connection.idle and not connection.greenlet.dead:
            self._evicted += 1
            connection.greenlet.throw(NoMoreData(b""))
        now = time.monotonic()
        if self._evicted and now - self._evictions_logged_at >= 10.0:
            # One line per 10 s at most: under a flood of connections a line per eviction would flood the log.
            self.log.warning(
                "Connection slots full (pid:%s): %d connection(s) waiting for a request closed to "
                "make room (WORKER_CONNECTIONS=%d)",
                self.pid,
                self._evicted,
                self.worker_connections,
            )
            self._evicted = 0
            self._evictions_logged_at = now

    # -- gunicorn's own errors in the JSON envelope ----------------------------------------------------------

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        # gunicorn chooses the status and logs the error while writing its HTML page to a stand-in; the
        # client gets the service's JSON envelope with that status instead.
        page = CapturedErrorPage()
        super().handle_error(req, page, addr, exc)  # type: ignore[arg-type]  # a stand-in for the socket
        try:
            util.write_nonblock(client, json_error_page(page.status or 500, req))
        except OSError:
            # The client went away or its socket is broken: nothing left to tell it.
            self.log.debug("Failed to send error message.")
