"""A per-worker circuit breaker, so a dependency known to be dead costs milliseconds instead of timeouts."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from enum import StrEnum

log = logging.getLogger("travel_agent.breaker")


class State(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Opens after ``threshold`` consecutive failures; after ``reset_seconds`` lets one trial call through.

    The trial's success (or any successful health probe) closes it, a failure reopens it for another
    ``reset_seconds``. Callers ask ``allow()`` before the call and report the outcome; while open they are
    refused at once, which is what makes "fail fast" cost no socket time. The lock is a plain
    ``threading.Lock``: under gevent it is patched into a greenlet-aware one, and it is never held across I/O.

    A healthy dependency is asked about on every call (a chat turn makes seven), so the common case takes no
    lock: ``allow`` while closed and ``record_success`` while closed with no failure counted only read. Each
    such read is one attribute load, so a caller racing a transition sees the state from just before or just
    after it, as if it had come a moment earlier or later; every write still happens under the lock.
    """

    def __init__(self, name: str, threshold: int, reset_seconds: float) -> None:
        self.name = name
        self._probe: Callable[[], object] | None = None
        self.threshold = threshold
        self.reset_seconds = reset_seconds
        self._lock = threading.Lock()
        self._state = State.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._trial_in_flight = False
        self._listeners: list[Callable[[str, State], None]] = []

    def add_listener(self, listener: Callable[[str, State], None]) -> None:
        """Called with (name, new state) on every transition, outside the lock (metrics use it)."""
        self._listeners.append(listener)

    def _notify(self, state: State) -> None:
        for listener in self._listeners:
            listener(self.name, state)

    def set_probe(self, probe: Callable[[], object]) -> None:
        """With a probe, the trial after a cool-down is a cheap background ping instead of a real request, so
        no client request ever pays a frozen dependency's timeout to learn that it is still frozen."""
        self._probe = probe

    @property
    def state(self) -> State:
        with self._lock:
            if self._state is State.OPEN and self._cooled_down():
                return State.HALF_OPEN
            return self._state

    def _cooled_down(self) -> bool:
        return time.monotonic() - self._opened_at >= self.reset_seconds

    def retry_after(self) -> int:
        """Whole seconds until the next trial, at least 1: what a client's ``Retry-After`` should say."""
        left = self.reset_seconds - (time.monotonic() - self._opened_at)
        return max(1, int(left + 0.999))

    def refusing(self) -> bool:
        """Whether ``allow()`` would refuse now, without claiming the trial: lets a caller skip work that is
        only worth doing if the call can go ahead."""
        with self._lock:
            return self._refusing()

    def _refusing(self) -> bool:
        # One trial per cool-down: a trial that never reports (its caller was cut off) must not wedge the
        # breaker, so after another cool-down the next caller starts a new one.
        return self._state is not State.CLOSED and not (
            self._cooled_down() and (self._state is State.OPEN or self._trial_in_flight)
        )

    def _closed(self) -> bool:
        # A call, so that the type checker does not take the state for the one read before the lock was taken.
        return self._state is State.CLOSED

    def allow(self) -> bool:
        if self._state is State.CLOSED:
            return True
        with self._lock:
            if self._closed():  # a trial that succeeded while this caller waited for the lock
                return True
            if self._refusing():
                return False
            self._state = State.HALF_OPEN
            self._opened_at = time.monotonic()
            self._trial_in_flight = True
            probe = self._probe
        self._notify(State.HALF_OPEN)
        if probe is None:
            return True
        threading.Thread(target=self._run_probe, name=f"{self.name}-probe", daemon=True).start()
        return False

    def _run_probe(self) -> None:
        assert self._probe is not None
        try:
            self._probe()
        except Exception as exc:  # noqa: BLE001  (a background probe: any failure means "still down")
            log.info("%s probe failed: %s", self.name, type(exc).__name__)
            self.record_failure()
        else:
            self.record_success()

    def record_success(self) -> None:
        if self._state is State.CLOSED and not self._failures:
            return  # nothing to reset (a closed breaker has no trial in flight)
        with self._lock:
            was = self._state
            self._state = State.CLOSED
            self._failures = 0
            self._trial_in_flight = False
        if was is not State.CLOSED:
            log.warning("%s circuit closed: dependency answered again", self.name)
            self._notify(State.CLOSED)

    def record_failure(self) -> None:
        with self._lock:
            self._failures += 1
            opening = self._state is State.HALF_OPEN or (
                self._state is State.CLOSED and self._failures >= self.threshold
            )
            if opening:
                self._state = State.OPEN
                self._opened_at = time.monotonic()
                self._trial_in_flight = False
        if opening:
            log.warning("%s circuit opened after %d consecutive failure(s)", self.name, self._failures)
            self._notify(State.OPEN)
