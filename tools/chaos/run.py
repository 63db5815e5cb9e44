"""Runs the schedule: clients talk throughout, each phase breaks one thing, and the figures are kept per phase."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import requests

from tools.chaos.clients import Conversation, Recorder
from tools.chaos.measure import Marks, recovery, summarise
from tools.chaos.phases import PHASES, Phase
from tools.chaos.servers import Servers, start_servers
from tools.chaos.verify import check_histories, check_prompts

KINDS = ("send", "idem", "stream")
# Dependencies whose circuit state /metrics shows (the first model upstream's is "upstream").
BREAKER_METRICS = ("redis", "mongodb", "upstream")


@dataclass(frozen=True)
class Config:
    phases: tuple[Phase, ...] = PHASES
    clients: int = 6
    scale: float = 1.0  # multiplies each phase's hold
    lead: float = 1.5  # seconds of normal service before each fault
    tail: float = 5.0  # seconds observed after each lift, at least
    tail_max: float = 15.0  # more, while the service has not recovered yet
    workdir: Path | None = None


def run(config: Config) -> dict[str, Any]:
    """Start the stack, run every phase with the clients talking, verify the histories; the figures."""
    started = time.time()
    with start_servers(config.workdir) as stack:
        recorder, stop = Recorder(), threading.Event()
        clients = [
            Conversation(f"c{i + 1}", KINDS[i % len(KINDS)], stack.base_url, recorder, stop, timeout=stack.budget + 5)
            for i in range(config.clients)
        ]
        for client in clients:
            client.start()
        try:
            _wait_for(lambda: recovery(recorder.since(0), 0) is not None, 30, "the clients never got answers")
            phases = [run_phase(stack, phase, recorder, config) for phase in config.phases]
        finally:
            stop.set()
            for client in clients:
                client.join(stack.budget + 10)
        verdict = check_histories(stack.base_url, dict(recorder.sessions), list(recorder.acks))
        check_prompts((request["json"] for request in stack.upstream.requests), verdict)
    t0 = recorder.samples[0].started if recorder.samples else 0.0
    # Every request, with times in seconds from the first one, for looking into a phase afterwards.
    samples = [
        asdict(s) | {"started": round(s.started - t0, 4), "ended": round(s.ended - t0, 4)} for s in recorder.samples
    ]
    for phase in phases:
        marks: Marks = phase.pop("_marks")
        phase["lost"] = sum(1 for ack in verdict.lost if marks.start <= ack.at < marks.end)
        phase["marks_s"] = {name: round(getattr(marks, name) - t0, 3) for name in ("start", "inject", "lift", "end")}
    return {
        "started": started,
        "seconds": round(time.time() - started, 1),
        "clients": config.clients,
        "kinds": [client.kind for client in clients],
        "budget_s": stack.budget,
        "phases": phases,
        "verification": verdict.as_dict(),
        "samples": samples,
    }


def run_phase(stack: Servers, phase: Phase, recorder: Recorder, config: Config) -> dict[str, Any]:
    start = time.monotonic()
    time.sleep(config.lead)
    inject = time.monotonic()
    lift_fault = phase.inject(stack)
    time.sleep(phase.hold * config.scale)
    lift_fault()
    lift = time.monotonic()
    watched = phase.dependency in BREAKER_METRICS
    in_use = _watch_circuit(stack, phase.dependency, lift, config.tail_max) if watched else None
    time.sleep(config.tail)
    _wait_for(lambda: recovery(recorder.since(lift), lift) is not None, config.tail_max, None)
    if in_use is not None:
        in_use[1].join(config.tail_max)
    end = time.monotonic()
    samples = [s for s in recorder.since(start) if s.started < end]
    marks = Marks(
        start,
        inject,
        lift,
        end,
        settle=stack.budget + 1.0,
        circuits_closed=in_use[0][0] if in_use is not None and in_use[0] else None,
    )
    figures = summarise(phase.name, phase.dependency, phase.what, phase.down, marks, samples)
    figures["answers_all"] = phase.answers_all
    figures["_marks"] = marks
    return figures


def _wait_for(predicate: Callable[[], bool], timeout: float, failure: str | None) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            if failure is not None:
                raise RuntimeError(failure)
            return False
        time.sleep(0.1)
    return True


def _circuit(stack: Servers, dependency: str) -> float | None:
    """The worst circuit state of the live workers (0 closed, 1 half-open, 2 open), from /metrics."""
    try:
        text = requests.get(stack.base_url + "/metrics", timeout=2).text
    except requests.RequestException:
        return None
    found = re.search(rf'^travel_agent_circuit_state{{dependency="{dependency}"}} (\S+)$', text, re.MULTILINE)
    return float(found.group(1)) if found else None


def _watch_circuit(stack: Servers, dependency: str, lift: float, limit: float) -> tuple[list[float], threading.Thread]:
    """Seconds after the lift until every worker's circuit for ``dependency`` is closed again, i.e. the service
    uses it again (polled in the background); the list stays empty if that did not happen within ``limit``."""
    found: list[float] = []

    def poll() -> None:
        while time.monotonic() - lift < limit:
            if _circuit(stack, dependency) == 0:
                found.append(round(time.monotonic() - lift, 3))
                return
            time.sleep(0.05)

    thread = threading.Thread(target=poll, name=f"{dependency}-circuit", daemon=True)
    thread.start()
    return found, thread
