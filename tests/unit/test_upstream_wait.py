"""agent/waiting.py on gevent's own sockets (no monkey-patching needed for them): a wait sends heartbeats while
no byte comes, returns as soon as one does, and ends with TimeoutError at the request's budget or at the read's
own timeout, whichever comes first."""

from __future__ import annotations

import time
from collections.abc import Iterator

import gevent
import pytest
from gevent import socket as gsocket

from travel_agent import request_context
from travel_agent.agent import waiting
from travel_agent.agent.budget import RESERVE_SECONDS


@pytest.fixture(autouse=True)
def outside_a_request() -> Iterator[None]:
    """No request's deadline, whatever an earlier test left bound in this thread's context."""
    tokens = request_context.bind("no-request", None)
    try:
        yield
    finally:
        request_context.unbind(tokens)


@pytest.fixture
def pair() -> Iterator[tuple[gsocket.socket, gsocket.socket]]:
    ours, theirs = gsocket.socketpair()
    try:
        yield ours, theirs
    finally:
        ours.close()
        theirs.close()


def test_heartbeats_while_silent_then_the_bytes_as_soon_as_they_come(pair: tuple[gsocket.socket, ...]) -> None:
    ours, theirs = pair
    beats: list[float] = []
    wait = waiting.Wait(0.1, lambda: beats.append(time.monotonic()))
    started = time.monotonic()
    gevent.spawn_later(0.55, theirs.sendall, b"hello")
    buffer = bytearray(16)
    got = waiting.recv_into(wait, ours, buffer)
    took = time.monotonic() - started
    assert bytes(buffer[:got]) == b"hello"
    assert 0.5 < took < 1.5, took
    assert 4 <= len(beats) <= 6, beats  # due at 0.1, 0.2, ... 0.5 s
    gaps = [b - a for a, b in zip([started, *beats], beats, strict=False)]
    assert all(gap > 0.08 for gap in gaps), gaps  # never early: each is a full interval after the last


def test_bytes_already_there_are_read_without_a_wait_or_a_heartbeat(pair: tuple[gsocket.socket, ...]) -> None:
    ours, theirs = pair
    theirs.sendall(b"ready")
    beats: list[float] = []
    wait = waiting.Wait(0.0, lambda: beats.append(time.monotonic()))  # a heartbeat would be due at once
    buffer = bytearray(16)
    assert waiting.recv_into(wait, ours, buffer) == 5 and beats == []


def test_the_requests_budget_ends_the_wait_even_with_a_longer_socket_timeout(pair: tuple[gsocket.socket, ...]) -> None:
    ours, _theirs = pair
    ours.settimeout(30)
    tokens = request_context.bind("budget-test", RESERVE_SECONDS + 0.3)  # the agent's share: 0.3 s
    try:
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            waiting.recv_into(waiting.Wait(), ours, bytearray(16))
        assert 0.25 < time.monotonic() - started < 0.6
    finally:
        request_context.unbind(tokens)
    assert ours.gettimeout() == 30  # the socket's own timeout is left as it was


def test_the_reads_own_timeout_ends_the_wait_outside_a_request(pair: tuple[gsocket.socket, ...]) -> None:
    ours, _theirs = pair
    ours.settimeout(0.3)
    beats: list[float] = []
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        waiting.recv_into(waiting.Wait(0.1, lambda: beats.append(time.monotonic())), ours, bytearray(16))
    assert 0.25 < time.monotonic() - started < 0.6
    assert 2 <= len(beats) <= 3, beats


def test_a_beat_that_fails_ends_the_wait_with_its_error(pair: tuple[gsocket.socket, ...]) -> None:
    ours, _theirs = pair

    def gone() -> None:
        raise waiting.ClientGone()

    with pytest.raises(waiting.ClientGone):
        waiting.recv_into(waiting.Wait(0.05, gone), ours, bytearray(16))


def test_a_step_that_cannot_beat_gets_the_heartbeat_due_meanwhile_first() -> None:
    beats: list[float] = []
    wait = waiting.Wait(0.5, lambda: beats.append(time.monotonic()))
    with waiting.waiting(wait):
        waiting.beat_if_due_within(0.1)  # the next one is due in 0.5 s: connecting within 0.1 s is no gap
        assert beats == []
        waiting.beat_if_due_within(0.6)  # it would fall due while connecting: sent now
        assert len(beats) == 1
    waiting.beat_if_due_within(10)  # outside an inline wait: nothing to send
    assert len(beats) == 1


def test_a_back_off_sleep_keeps_beating() -> None:
    beats: list[float] = []
    wait = waiting.Wait(0.1, lambda: beats.append(time.monotonic()))
    started = time.monotonic()
    with waiting.waiting(wait):
        waiting.sleep(0.35)
    assert 0.35 <= time.monotonic() - started < 1.0
    assert 2 <= len(beats) <= 4, beats  # due at 0.1, 0.2, 0.3 s
