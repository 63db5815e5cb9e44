"""``python -m tools.chaos.resumable``: answers that outlive their connection and their worker, under deploys.

Two instances (two workers each) behind HAProxy (deploy/haproxy.cfg), sharing MongoDB and Redis, and a TCP
proxy between the clients and HAProxy that cuts a share of the connections at random. Clients ask for long
streamed answers (the offline agent typing) with an Idempotency-Key and follow each to its end, resuming after
every cut or `resume` event, while the instances are restarted one after the other (SIGTERM: hand-over) and one
worker is SIGKILLed (take-over after its lease). Invariants: every acknowledged question (its `start` seen)
has exactly one stored answer, and each client's assembled text equals it: no gap, no repeat, nothing lost.
Figures: resumes, take-overs continued and restarted, the wait for a resume's first event. Kept as JSON in
tools/results/chaos/. Exit 1 when an invariant broke.
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

import tools
from tools.harness.cutting_proxy import CuttingProxy
from tools.harness.fleet import Fleet
from tools.harness.resumable import Followed, follow
from tools.production.runs import servers

RESULTS_DIR = tools.RESULTS_DIR / "chaos"
MESSAGES = (
    "Two weeks in Japan for a family of four, mid-range, in April",
    "Weekend in Rome",
    "Lisbon",
    "Ten days in Peru in May for two, cheap",
    "A week in Norway in June",
)
ENV = {
    "OFFLINE_CHUNK_DELAY_MS": "100",  # answers of 5 to 11 s
    "TURN_LEASE_SECONDS": "3",
    "GRACEFUL_TIMEOUT_SECONDS": "6",
    "DRAIN_MARGIN_SECONDS": "2",
    "HEALTH_CACHE_SECONDS": "0.5",
    "STARTUP_RETRIES": "3",
}


def run(minutes: float, streams: int, concurrency: int, cut_share: float) -> tuple[dict[str, Any], list[str]]:
    results: list[tuple[str, Followed | None, str]] = []
    lock = threading.Lock()
    started = 0
    with servers() as (pool, _upstream):
        fleet = Fleet(pool.mongo(), pool.redis(), pool.gunicorn, pool.router, env=ENV)
        ends = time.monotonic() + minutes * 60
        with CuttingProxy(fleet.router.port, cut_share=cut_share) as proxy:  # type: ignore[union-attr]

            def client(index: int) -> None:
                nonlocal started
                while time.monotonic() < ends:
                    with lock:
                        if started >= streams:
                            return
                        started += 1
                        message = MESSAGES[started % len(MESSAGES)]
                    headers = {"Idempotency-Key": uuid.uuid4().hex}
                    try:
                        followed = follow(proxy.base_url, message, headers=headers, deadline_seconds=180)
                        outcome = "followed"
                    except AssertionError as exc:
                        followed, outcome = None, f"gave up: {exc}"[:200]
                    with lock:
                        results.append((message, followed, outcome))

            with ThreadPoolExecutor(concurrency) as clients:
                for index in range(concurrency):
                    clients.submit(client, index)
                time.sleep(min(20.0, minutes * 15))
                victim = fleet.instances[0].worker_pids()[0]
                fleet.instances[0].kill_worker(victim, signal.SIGKILL)
                restarts = 0
                while time.monotonic() < ends:
                    fleet.rolling_restart()
                    restarts += 1
            cut, accepted = proxy.cut, proxy.accepted
        figures, broken = audit(fleet, results)
        logs = "".join(instance.log_file_text() for instance in fleet.instances)
    figures |= {
        "minutes": minutes,
        "instance restarts": restarts * len(fleet.instances),
        "workers SIGKILLed": 1,
        "connections through the cutting proxy": accepted,
        "... cut by it": cut,
        "take-overs continued": logs.count("took a turn over") - logs.count(", restart)"),
        "take-overs restarted": logs.count(", restart)"),
        "hand-overs at a drain": logs.count("turn handed over at the drain"),
    }
    return figures, broken


def audit(fleet: Fleet, results: list[tuple[str, Followed | None, str]]) -> tuple[dict[str, Any], list[str]]:
    """Each acknowledged question against what MongoDB holds."""
    base = f"http://127.0.0.1:{fleet.instances[1].port}"
    lost = duplicated = gaps = repeats = exact = errors = 0
    examples: list[str] = []
    resumes, waits = [], []
    for _message, followed, outcome in results:
        if followed is None:
            lost += 1
            examples.append(outcome)
            continue
        resumes.append(followed.resumes)
        waits += followed.first_event_s
        if followed.end is None or followed.end[0] != "done":
            errors += 1
            examples.append(f"ended with {followed.end}")
            continue
        session = requests.get(f"{base}/api/chat/sessions/{followed.start['session_id']}", timeout=30).json()
        answers = [m["content"] for m in session["messages"] if m["role"] == "assistant"]
        if len(answers) != 1:
            duplicated += len(answers) > 1
            lost += not answers
            examples.append(f"{len(answers)} stored answers for {followed.start['user_message_id']}")
            continue
        if followed.text == answers[0]:
            exact += 1
        elif len(followed.text) > len(answers[0]):
            repeats += 1
            examples.append(f"repeat: {len(followed.text)} characters assembled, {len(answers[0])} stored")
        else:
            gaps += 1
            examples.append(f"gap: {len(followed.text)} characters assembled, {len(answers[0])} stored")
    waits.sort()
    figures: dict[str, Any] = {
        "streams": len(results),
        "assembled == stored": exact,
        "gaps": gaps,
        "repeats": repeats,
        "lost": lost,
        "duplicated": duplicated,
        "ended with an error": errors,
        "resumes (all / median per stream / max)": (
            f"{sum(resumes)} / {statistics.median(resumes) if resumes else 0} / {max(resumes, default=0)}"
        ),
        "resume: first event ms p50/p99": (
            f"{1000 * waits[len(waits) // 2]:.0f}/{1000 * waits[min(len(waits) - 1, int(len(waits) * 0.99))]:.0f}"
            if waits
            else "-"
        ),
        "examples": examples[:5],
    }
    broken = [f"{name}: {figures[name]}" for name in ("gaps", "repeats", "lost", "duplicated") if figures[name]]
    return figures, broken


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.chaos.resumable", description=__doc__)
    parser.add_argument("--minutes", type=float, default=4.0, help="how long the rolling restarts go on")
    parser.add_argument("--streams", type=int, default=200, help="long answers asked in all")
    parser.add_argument("--concurrency", type=int, default=24, help="clients following a stream at once")
    parser.add_argument("--cut-share", type=float, default=0.3, help="share of connections the proxy cuts")
    args = parser.parse_args(argv)
    figures, broken = run(args.minutes, args.streams, args.concurrency, args.cut_share)
    print("\n== resumable streams under rolling restarts, a SIGKILL and a cutting proxy")
    width = max(len(name) for name in figures)
    for name, value in figures.items():
        print(f"  {name:<{width}}  {value}")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / f"resumable-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps({"figures": figures, "broken": broken}, indent=2, default=str))
    print(f"\nresults: {out}")
    for problem in broken:
        print(f"BROKEN: {problem}", file=sys.stderr)
    return 1 if broken else 0


if __name__ == "__main__":
    raise SystemExit(main())
