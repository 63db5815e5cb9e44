"""Bad input end to end: the service up, the raw abuse matrix with a bystander probe, then schemathesis."""

from __future__ import annotations

import time
from typing import Any

import requests

from tools.chaos.servers import Servers, start_servers
from tools.fuzz.abuse import CASES, Case, run_case
from tools.fuzz.probe import LiveProbe
from tools.fuzz.schema import campaign

# The production budgets and agent: bad input must be refused by the service as it really runs.
FUZZ_ENV = {"AGENT_PROVIDER": "offline", "CHAT_TIMEOUT_SECONDS": "90", "REQUEST_TIMEOUT_SECONDS": "30"}


def abuse(stack: Servers, cases: tuple[Case, ...] = CASES) -> dict[str, Any]:
    """Every case in turn while a probe measures /health/live; the workers must all survive it."""
    workers = stack.service.worker_pids()
    probe = LiveProbe(stack.base_url)
    probe.start()
    started = time.monotonic()
    try:
        results = [run_case(stack.service.port, case) for case in cases]
    finally:
        bystander = probe.stop()
    after = requests.get(stack.base_url + "/health", timeout=10)
    return {
        "seconds": round(time.monotonic() - started, 1),
        "cases": results,
        "failed": [r["case"] for r in results if not r["ok"]],
        "bystander": bystander,
        "workers_survived": stack.service.worker_pids() == workers,
        "health_after": after.json().get("status") if after.ok else after.status_code,
    }


def run(examples: int, *, skip_schema: bool = False) -> dict[str, Any]:
    with start_servers(env=FUZZ_ENV) as stack:
        figures: dict[str, Any] = {"abuse": abuse(stack)}
        if not skip_schema:
            figures["schemathesis"] = campaign(stack.base_url, examples)
            figures["workers_survived_schemathesis"] = bool(stack.service.worker_pids())
    return figures
