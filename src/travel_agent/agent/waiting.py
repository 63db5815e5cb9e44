"""Waiting on the model upstream in the request's own greenlet: the deadline kept, the heartbeats sent.

A chat spends nearly all its life waiting for the model's first byte. Run beside the request (``ReplyPump``), the
wait costs a second greenlet, its saved stacks and a queue per chat; in a gevent worker holding thousands of
chats that was a fifth of what each cost (65 KiB a held stream, 52 without it; docs/PERFORMANCE.md, "Held
streams"). So there the request's greenlet reads the upstream itself, and the two things the pump's separate
greenlet was for are done *inside* the read: before each read of the upstream's socket that would block,
``wait_for_bytes`` waits for it to become readable in slices, sends a heartbeat to the client whenever one is
due, and gives up (``TimeoutError``, which the HTTP client reports as its read timeout) at the request's
deadline, even against an upstream that drips a byte at a time.

Only with gevent's sockets (a patched worker): there a greenlet can wait on a descriptor with a timeout without
reading it. Elsewhere the pump remains, as it needs nothing of the event loop.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from travel_agent.agent.budget import time_left
from travel_agent.cooperative import gevent_patched


class ClientGone(Exception):
    """The client closed its connection while a heartbeat was written. Deliberately not an ``OSError``: the
    HTTP client between the wait and the chat turns every OSError into an upstream failure, which would count
    against the model's circuit for a client that merely left."""


class Wait:
    """One call's wait on the upstream: the heartbeat (``beat`` every ``every`` seconds of silence towards the
    client; None for a plain send) and when the client last heard from us."""

    def __init__(self, every: float | None = None, beat: Callable[[], None] | None = None) -> None:
        self.every = every if beat is not None else None
        self._beat = beat
        self.last_sent = time.monotonic()

    def sent(self) -> None:
        """The client was just sent something: the next heartbeat is due ``every`` seconds from now."""
        self.last_sent = time.monotonic()

    def beat(self) -> None:
        assert self._beat is not None
        self._beat()
        self.sent()


_ACTIVE: ContextVar[Wait | None] = ContextVar("upstream_wait", default=None)


def inline_possible() -> bool:
    """Whether the request's greenlet can wait on a socket itself: gevent has patched the socket module."""
    return gevent_patched()


@contextmanager
def waiting(wait: Wait) -> Iterator[None]:
    """Reads of the upstream in this block wait through ``wait`` (see ``wait_for_bytes``)."""
    token = _ACTIVE.set(wait)
    try:
        yield
    finally:
        _ACTIVE.reset(token)


def active() -> Wait | None:
    return _ACTIVE.get()


def recv_into(wait: Wait, sock: Any, buffer: Any) -> int:
    """``sock.recv_into(buffer)`` for a read of the upstream within ``wait``: at once when bytes are there (an
    upstream sending fast pays for no wait and no turn of the event loop per read), else once
    ``wait_for_bytes`` says they have come."""
    previous = sock.gettimeout()
    sock.settimeout(0.0)  # gevent's sockets: try once, never park the greenlet
    try:
        return sock.recv_into(buffer)
    except (BlockingIOError, ssl.SSLWantReadError):
        pass
    finally:
        sock.settimeout(previous)
    wait_for_bytes(wait, sock)
    return sock.recv_into(buffer)


def beat_if_due_within(seconds: float) -> None:
    """Before a step that cannot send heartbeats for up to ``seconds`` (connecting to the upstream): send the
    one that would fall due meanwhile now, so the client's silence stays within one interval plus nothing."""
    wait = _ACTIVE.get()
    if wait is not None and wait.every is not None and time.monotonic() + seconds >= wait.last_sent + wait.every:
        wait.beat()


def sleep(seconds: float) -> None:
    """``time.sleep`` that sends the heartbeats falling due while it sleeps (a retry's back-off)."""
    wait = _ACTIVE.get()
    end = time.monotonic() + seconds
    while (now := time.monotonic()) < end:
        if wait is None or wait.every is None:
            time.sleep(end - now)
            return
        beat_at = wait.last_sent + wait.every
        if now >= beat_at:
            wait.beat()
        else:
            time.sleep(min(end, beat_at) - now)


def wait_for_bytes(wait: Wait, sock: Any) -> None:
    """Return once ``sock`` has bytes to read, sending heartbeats meanwhile; ``TimeoutError`` when the read's
    own timeout passes or the request's budget is spent first."""
    pending = getattr(sock, "pending", None)
    if pending is not None and pending():
        return  # TLS: bytes already decrypted, the descriptor may never turn readable for them
    from gevent.socket import wait_read

    started = time.monotonic()
    read_timeout = sock.gettimeout()
    while True:
        now = time.monotonic()
        give_up = _give_up_at(now, started, read_timeout)
        if give_up is not None and now >= give_up:
            raise TimeoutError("timed out")
        until = give_up
        if wait.every is not None:
            beat_at = wait.last_sent + wait.every
            if now >= beat_at:
                wait.beat()
                continue
            until = beat_at if until is None else min(until, beat_at)
        try:
            wait_read(sock.fileno(), None if until is None else until - now, _SliceOver)
            return
        except _SliceOver:
            continue  # a heartbeat is due, or the time is up: the top of the loop says which


def _give_up_at(now: float, started: float, read_timeout: float | None) -> float | None:
    """The earlier of the read's own timeout and the end of the request's budget (for the agent)."""
    left = time_left()
    by_budget = None if left is None else now + left
    by_read = None if read_timeout is None else started + read_timeout
    if by_budget is None or by_read is None:
        return by_read if by_budget is None else by_budget
    return min(by_budget, by_read)


class _SliceOver(Exception):
    """One slice of a wait ended without bytes (raised by gevent in place of its own timeout)."""
