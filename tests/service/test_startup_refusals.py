"""Values the drivers would refuse stop the server at once, with exit 2 and one line naming the variable,
instead of "Worker failed to boot" and a traceback. Real gunicorn, started as the harness starts it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MONGODB_URI", "mongodb://admin:hunter2@127.0.0.1:99999/"),
        ("MONGODB_DB", "trip planner"),
        ("REDIS_URL", "redis://:hunter2@127.0.0.1:notaport/0"),
    ],
)
def test_a_value_the_driver_refuses_exits_2_naming_it(make_gunicorn: Callable[..., Any], name: str, value: str) -> None:
    env = {"MONGODB_URI": "mongodb://127.0.0.1:1/", "REDIS_URL": None, "STARTUP_RETRIES": "1", name: value}
    service = make_gunicorn(env=env, wait_ready=False)
    assert service.wait_exit(20) == 2
    output = service.log_text()
    lines = [line for line in output.splitlines() if line.strip() and not line.startswith("=== harness")]
    assert len(lines) == 1 and name in lines[0], output
    assert "hunter2" not in output and "Traceback" not in output
