"""In-process apps built through the factory against the session's real SecantusDB and redis-server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from tests.support.fault_routes import install

from travel_agent.app import create_app
from travel_agent.services import EXTENSION_KEY


@pytest.fixture
def build_app(tmp_path: Path, mongo_server: Any, redis_server: Any) -> Iterator[Callable[..., Flask]]:
    """``build_app(**settings)``: the real factory plus the test-only routes; closed at teardown."""
    built: list[Flask] = []

    def build(**overrides: Any) -> Flask:
        settings = {
            "MONGODB_URI": mongo_server.uri,
            "REDIS_URL": redis_server.url,
            "LOG_DIR": str(tmp_path / "logs"),
            "STARTUP_RETRIES": 1,
        } | overrides
        app = install(create_app(settings))
        built.append(app)
        return app

    yield build
    for app in built:
        app.extensions[EXTENSION_KEY].close()


@pytest.fixture
def app(build_app: Callable[..., Flask]) -> Flask:
    return build_app()


@pytest.fixture
def log_file(tmp_path: Path) -> Callable[[], str]:
    return lambda: (tmp_path / "logs" / "travel_agent.log").read_text(encoding="utf-8")
