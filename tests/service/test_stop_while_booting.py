"""SIGTERM while workers are still booting (MongoDB down, start-up pings under way) stops the server at once
and quietly: exit 0 within about 2 s, no traceback, instead of waiting for every ping to give up."""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Callable
from typing import Any

import pytest

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=lambda sig: sig.name)
def test_stop_while_workers_are_still_pinging_is_prompt_and_quiet(
    make_mongo: Callable[..., Any], make_gunicorn: Callable[..., Any], sig: signal.Signals
) -> None:
    dead = make_mongo(start=False)  # a port nobody listens on: every ping waits out its timeout
    # Each worker would spend 3 x 2 s on pings plus 2 x 2 s between them before serving.
    service = make_gunicorn(
        mongo_uri=dead.uri,
        workers=2,
        wait_ready=False,
        env={
            "STARTUP_RETRIES": "3",
            "STARTUP_PING_TIMEOUT_SECONDS": "2",
            "STARTUP_RETRY_DELAY_SECONDS": "2",
            "MONGO_SERVER_SELECTION_TIMEOUT_MS": "2000",
            "REDIS_URL": None,
        },
    )
    pinging = re.compile(r"starting travel_agent .*\n(?s:.*)starting travel_agent ")
    service.wait_for_log(pinging, timeout=20)  # both workers are inside the app's start-up
    started = time.monotonic()
    service.signal(sig)
    assert service.wait_exit(10) == 0
    took = time.monotonic() - started
    print(f"{sig.name}: master exited {took:.2f} s after the signal")
    assert took < 2.5, took
    output = service.log_text()
    assert "Traceback" not in output and "AttributeError" not in output, output[-3000:]
    assert "connection verified" not in output
