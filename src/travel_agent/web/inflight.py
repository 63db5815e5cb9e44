"""The requests a worker is running now: the load-shedding cap, and the means to cut them off on time."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import greenlet  # imported once, at the top: admission runs on every request
from gevent.monkey import get_original

from travel_agent.cooperative import gevent_patched


def timers_can_interrupt() -> bool:
    """Whether requests run in gevent greenlets (a patched gunicorn worker), where a ``gevent.Timeout`` can
    interrupt one safely; not in a threaded test server or the Flask test client."""
    return gevent_patched()


def _native_lock() -> Any:
    """An OS lock even after gevent's patching. Admission and release never yield while holding it, so no
    greenlet ever waits on it; gevent's lock would cost about a microsecond more per request for a protection
    only real threads (a threaded test server) need."""
    return get_original("_thread", "allocate_lock")()


class RequestExpired(BaseException):
    """Thrown into a request's greenlet when its budget's backstop fires or the drain deadline arrives.

    A BaseException, like gevent.Timeout, so that no ``except Exception`` in application or library code can
    swallow it on the way up to the middleware that turns it into a response.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # "budget" or "drain"


@dataclass(eq=False)
class Ticket:
    path: str
    started: float = field(default_factory=time.monotonic)
    greenlet: Any = None


class InFlight:
    """Counts and remembers the worker's running requests. Past ``cap`` a request is refused at once: a
    fast 503 keeps the worker's latency for the requests it did admit, where queueing would time them all out."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.shed_total = 0
        self._lock = _native_lock()
        self._tickets: set[Ticket] = set()

    def __len__(self) -> int:
        return len(self._tickets)

    def admit(self, path: str, exempt: bool) -> Ticket | None:
        with self._lock:
            if not exempt and len(self._tickets) >= self.cap:
                self.shed_total += 1
                return None
            ticket = Ticket(path, greenlet=_current_greenlet())
            self._tickets.add(ticket)
            return ticket

    def release(self, ticket: Ticket) -> None:
        with self._lock:
            self._tickets.discard(ticket)

    def expire_all(self, reason: str) -> int:
        """Interrupt every running request with RequestExpired(reason); returns how many."""
        import gevent  # only ever called inside a gevent worker

        with self._lock:
            tickets = list(self._tickets)
        for ticket in tickets:
            if ticket.greenlet is not None:
                gevent.kill(ticket.greenlet, RequestExpired(reason))  # asynchronous: lands at its next switch
        return len(tickets)


def _current_greenlet() -> Any:
    return greenlet.getcurrent()
