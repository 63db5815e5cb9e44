"""Fixtures that start the service under a real gunicorn against real SecantusDB and redis-server (and, for
the chat, the harness's model upstream); everything they start is stopped at teardown."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from tests.support.chat import API_KEY
from tests.support.service import FAST, FAULT_APP

from tools.harness.upstream import UpstreamServer

Servers = tuple[Any, Any, Any]  # (MongoServer, RedisServer, GunicornServer)


@pytest.fixture
def service_env() -> dict[str, str]:
    """The settings every service of a test gets under its own; a module overrides this fixture to change them."""
    return dict(FAST)


@pytest.fixture
def deps(make_mongo: Callable[..., Any], make_redis: Callable[..., Any]) -> tuple[Any, Any]:
    """A started SecantusDB and redis-server."""
    return make_mongo(), make_redis()


@pytest.fixture
def serve(deps: tuple[Any, Any], make_gunicorn: Callable[..., Any], service_env: dict[str, str]) -> Callable[..., Any]:
    """``serve(**env)``: the fault-injection app under gunicorn against ``deps``."""
    mongo, redis = deps

    def start(**env: str) -> Any:
        return make_gunicorn(mongo_uri=mongo.uri, redis_url=redis.url, app=FAULT_APP, env=service_env | env)

    return start


@pytest.fixture
def stack(
    make_mongo: Callable[..., Any],
    make_redis: Callable[..., Any],
    make_gunicorn: Callable[..., Any],
    service_env: dict[str, str],
) -> Callable[..., Servers]:
    """``stack(env, start_deps=True)``: new SecantusDB and redis-server (left stopped with ``start_deps``
    False) and the fault-injection app against them."""

    def build(env: dict[str, str] | None = None, start_deps: bool = True) -> Servers:
        mongo = make_mongo(start=start_deps)
        redis = make_redis(start=start_deps)
        service = make_gunicorn(mongo_uri=mongo.uri, redis_url=redis.url, app=FAULT_APP, env=service_env | (env or {}))
        return mongo, redis, service

    return build


@pytest.fixture
def chat_stack(
    make_mongo: Callable[..., Any],
    make_redis: Callable[..., Any],
    make_gunicorn: Callable[..., Any],
    upstream: UpstreamServer,
    service_env: dict[str, str],
) -> Callable[..., Servers]:
    """``chat_stack(**env)``: new SecantusDB and redis-server and the production app (``wsgi:app``), its
    OpenAI agent (when ``AGENT_PROVIDER=openai``) pointed at the ``upstream`` fixture."""

    def build(**env: str) -> Servers:
        mongo, redis = make_mongo(), make_redis()
        settings = service_env | {"OPENAI_BASE_URL": upstream.base_url, "OPENAI_API_KEY": API_KEY} | env
        return mongo, redis, make_gunicorn(mongo_uri=mongo.uri, redis_url=redis.url, env=settings)

    return build
