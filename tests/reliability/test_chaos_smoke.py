"""A tiny chaos run, so the harness behind `make chaos` cannot rot: three short phases, the three zero counts."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.chaos.phases import select
from tools.chaos.run import Config, run

pytestmark = pytest.mark.slow


def test_a_short_chaos_run_keeps_every_promise(tmp_path: Path) -> None:
    figures = run(
        Config(
            select("mongo-kill,upstream-fallback,worker-kill"),
            clients=3,
            scale=0.25,
            lead=0.5,
            tail=1.5,
            tail_max=10,
            workdir=tmp_path,
        )
    )
    phases = {p["phase"]: p for p in figures["phases"]}
    assert list(phases) == ["mongo-kill", "upstream-fallback", "worker-kill"]
    for name, phase in phases.items():
        assert phase["requests"] > 0, name
        assert (phase["bad"], phase["crosstalk"], phase["lost"]) == (0, 0, 0), (name, phase["examples"])
        assert phase["recovery_s"] is not None, f"{name}: no run of successes after the fault was lifted"
    # No 502 and no 500 while MongoDB is away. A 409 is right there: a turn MongoDB died under could not mark
    # its Idempotency-Key failed, so a retry within the key's lease is told the first request may still run.
    # The client counts a 409 to anything but such a retry as bad, and "bad" is zero above.
    assert phases["mongo-kill"]["fault"]["statuses"].keys() - {"200", "409", "503", "504"} == set()
    # The first model killed, frozen and answering 500 in turn: every turn answered, some by the offline
    # assistant; back, the model answers again within BREAKER_RESET_SECONDS (1 s) plus one call.
    fallback = phases["upstream-fallback"]
    assert fallback["failed_turns"] == 0 and fallback["degraded"] > 0, fallback["statuses"]
    assert fallback["undegraded_s"] is not None and fallback["undegraded_s"] <= 2.0, fallback
    verification = figures["verification"]
    assert verification["acknowledged"] > 0 and verification["prompts_checked"] > 0
    assert {
        k: verification[k] for k in ("lost", "duplicated", "foreign", "unreadable", "context_crosstalk")
    } == dict.fromkeys(("lost", "duplicated", "foreign", "unreadable", "context_crosstalk"), 0), verification
