"""The console under real gunicorn: off without a token, and the worker table follows workers dying."""

from __future__ import annotations

from collections.abc import Callable
from signal import SIGKILL
from typing import Any

import pytest
import requests

FAULT_APP = "tests.support.fault_app:app"
TOKEN = "console-service-Hq3Zr8Wm2Kd7Vx"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

pytestmark = pytest.mark.slow


def test_without_a_token_the_console_is_off_and_start_up_says_how(
    make_gunicorn: Callable[..., Any], mongo_server: Any
) -> None:
    service = make_gunicorn(mongo_uri=mongo_server.uri, env={"CONSOLE_TOKEN": None})
    assert requests.get(f"{service.base_url}/console", timeout=5).status_code == 404
    assert requests.get(f"{service.base_url}/console/state", headers=AUTH, timeout=5).status_code == 404
    assert "console off: set CONSOLE_TOKEN" in service.log_file_text()


def test_a_killed_worker_leaves_the_table_and_its_errors_stay(
    make_gunicorn: Callable[..., Any], mongo_server: Any, wait_until: Callable[..., Any]
) -> None:
    service = make_gunicorn(mongo_uri=mongo_server.uri, workers=2, app=FAULT_APP, env={"CONSOLE_TOKEN": TOKEN})
    first = service.wait_for_workers(2)

    def state() -> dict[str, Any]:
        # A new connection each time, so both workers get to answer.
        return requests.get(
            f"{service.base_url}/console/state", headers={**AUTH, "Connection": "close"}, timeout=5
        ).json()

    def worker_pids() -> list[int]:
        return sorted(w["pid"] for w in state()["workers"])

    wait_until(lambda: worker_pids() == sorted(first), 10, message="the table never listed both workers")
    for i in range(8):
        requests.get(
            f"{service.base_url}/_test/unavailable",
            headers={"X-Request-ID": f"before-kill-{i}", "Connection": "close"},
            timeout=5,
        )
    wanted = {f"before-kill-{i}" for i in range(8)}
    # Another worker's errors reach the shared files on its next heartbeat (about a second).
    errors = wait_until(
        lambda: (found := {e["request_id"]: e["pid"] for e in state()["errors"]}) and wanted <= set(found) and found,
        5,
        message="errors missing from the console",
    )
    victim = errors["before-kill-0"]
    # Killed only once its errors are in its file: another worker's answer lists them.
    wait_until(
        lambda: (
            (body := state())["service"]["answered_by"] != victim
            and "before-kill-0" in {e["request_id"] for e in body["errors"]}
        ),
        10,
        message="the other worker never showed the victim's errors",
    )
    service.kill_worker(victim, SIGKILL)
    # Until the master reaps it, the killed worker still counts among its children: wait for its replacement.
    now = wait_until(
        lambda: (pids := service.worker_pids()) and len(pids) == 2 and victim not in pids and pids,
        30,
        message=lambda: f"no replacement for worker {victim}: {service.worker_pids()}",
    )

    def settled() -> bool:
        body = state()
        return sorted(w["pid"] for w in body["workers"]) == sorted(now)

    wait_until(settled, 15, message=lambda: f"the dead worker's row stayed: {worker_pids()} vs {now}")
    # Its errors were written on its heartbeat, so they outlive it.
    assert "before-kill-0" in {e["request_id"] for e in state()["errors"]}
