"""The circuit breaker: opens on consecutive failures, refuses fast, closes on a successful probe or trial."""

import threading
import time

from travel_agent.resilience.breaker import CircuitBreaker, State


def poll(predicate, timeout: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def test_opens_after_threshold_consecutive_failures_only() -> None:
    b = CircuitBreaker("dep", threshold=3, reset_seconds=60)
    b.record_failure()
    b.record_failure()
    b.record_success()  # a success in between resets the count
    b.record_failure()
    b.record_failure()
    assert b.state is State.CLOSED and b.allow()
    b.record_failure()
    assert b.state is State.OPEN
    started = time.perf_counter()
    assert not b.allow()
    assert time.perf_counter() - started < 0.01
    assert 1 <= b.retry_after() <= 60


def test_without_probe_one_trial_call_after_cooldown() -> None:
    b = CircuitBreaker("dep", threshold=1, reset_seconds=0.05)
    b.record_failure()
    assert not b.allow()
    assert poll(lambda: b.state is State.HALF_OPEN)
    assert b.allow()  # the trial
    assert not b.allow()  # everyone else still refused while it runs
    b.record_success()
    assert b.state is State.CLOSED and b.allow()


def test_failed_trial_reopens() -> None:
    b = CircuitBreaker("dep", threshold=1, reset_seconds=0.05)
    b.record_failure()
    assert poll(lambda: b.state is State.HALF_OPEN)
    assert b.allow()
    b.record_failure()
    assert b.state is State.OPEN and not b.allow()


def test_probe_closes_it_in_the_background_and_callers_never_wait() -> None:
    dependency_up = threading.Event()
    calls: list[float] = []

    def probe() -> None:
        calls.append(time.monotonic())
        if not dependency_up.is_set():
            raise ConnectionError("still down")

    b = CircuitBreaker("dep", threshold=1, reset_seconds=0.05)
    b.set_probe(probe)
    b.record_failure()
    assert poll(lambda: (b.allow() or True) and len(calls) >= 1)  # a caller after cool-down starts a probe
    assert b.state is not State.CLOSED
    dependency_up.set()
    assert poll(lambda: b.allow())  # a later probe succeeds and closes it
    assert b.state is State.CLOSED


def test_trial_that_never_reports_does_not_wedge_the_breaker() -> None:
    b = CircuitBreaker("dep", threshold=1, reset_seconds=0.05)
    b.record_failure()
    assert poll(lambda: b.allow())  # trial taken, its caller vanishes without reporting
    assert not b.allow()
    assert poll(lambda: b.allow())  # after another cool-down a new trial is allowed


def test_refusing_tells_what_allow_would_say_without_taking_the_trial() -> None:
    b = CircuitBreaker("dep", threshold=1, reset_seconds=0.05)
    assert not b.refusing()
    b.record_failure()
    assert b.refusing() and not b.allow()
    assert poll(lambda: not b.refusing())  # cooled down: a trial may go
    assert not b.refusing()  # asking again does not claim it
    assert b.allow()  # the trial
    assert b.refusing() and not b.allow()  # everyone else refused while it runs
