"""The app's shape where an override depends on it: no ``async def`` view or hook, since
``TravelAgentFlask.ensure_sync`` hands every callable to Flask as it is."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Any

from flask import Flask

from travel_agent.app import TravelAgentFlask


def callables(app: Flask) -> Iterator[Callable[..., Any]]:
    yield from app.view_functions.values()
    for registry in (app.before_request_funcs, app.after_request_funcs, app.teardown_request_funcs):
        for funcs in registry.values():
            yield from funcs
    for handlers in app.error_handler_spec.values():
        for by_code in handlers.values():
            yield from by_code.values()


def test_no_view_hook_or_error_handler_is_a_coroutine(build_app: Callable[..., Flask]) -> None:
    app = build_app(CONSOLE_TOKEN="a-console-token-for-this-test-1234", RATE_LIMIT="100/minute", API_KEYS="k" * 32)
    assert isinstance(app, TravelAgentFlask)
    found = list(callables(app))
    assert len(found) > 8  # the views, the gate, the rate headers, the error handlers: the walk saw them
    assert [f for f in found if inspect.iscoroutinefunction(f)] == []
