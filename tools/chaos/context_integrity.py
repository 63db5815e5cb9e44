"""Context integrity: the prompt of every turn equals what MongoDB holds, under overlapping turns and faults.

``python -m tools.chaos.context_integrity [--rounds N] [--seed S]`` (run by ``scripts/chaos`` after the fault
schedule): a real gunicorn (2 workers) with the OpenAI provider pointed at the harness's real upstream, which
records every prompt it receives. Rounds of 2-4 overlapping turns (send and stream) go to ONE session while
one MongoDB write fault is armed (``failCommand`` on insert/update/findAndModify/delete/find, ``times: 1``,
a dropped connection or an error code) and some turns fail at the upstream (400) after their question is
stored. Run once with Redis (the context cache on) and once without it, as the control.

Two checks, both against MongoDB as the truth:

* every prompt of the run (each turn the upstream was asked about): each message in it is stored at a
  position below its question's, in order, and no message that MongoDB held before the turn's client sent it
  is missing from it (within the newest ``CHAT_HISTORY_MESSAGES``). Messages stored while the turn ran (the
  reply of an overlapping turn) may or may not be in it: they raced the read;
* after each round, a probe turn alone on the session, with no fault armed: its prompt must be exactly the
  newest ``CHAT_HISTORY_MESSAGES`` messages MongoDB holds before its question. A context cache that lost a
  message in the round (a reply stored but not counted, a question dropped by another turn's cache write)
  fails this at once.
"""

from __future__ import annotations

import argparse
import functools
import json
import random
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from pymongo import MongoClient
from pymongo.errors import AutoReconnect

from tools.harness.mongo_server import MongoServer
from tools.harness.pool import ServerPool
from tools.harness.upstream import UpstreamServer

SEND, STREAM = "/api/chat/send", "/api/chat/stream"
HISTORY = 6  # a short window, so it slides within a run and the cache's trimming is exercised
COMMANDS = ("insert", "update", "findAndModify", "delete", "find")
# A dropped connection and InterruptedAtShutdown (11600) are retried once by PyMongo, so the command lands late
# (and the driver may see the server as gone for a moment); MaxTimeMSExpired (50) is not retried: the command
# fails outright, the service answers 503. (A code that blames the query, such as BadValue, is a 500 by design.)
FAULTS: tuple[dict[str, Any], ...] = ({"close_connection": True}, {"error_code": 11600}, {"error_code": 50})


@dataclass
class Figures:
    cache: bool
    seed: int
    rounds: int = 0
    turns: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    faults_armed: int = 0
    upstream_failures: int = 0
    prompts_checked: int = 0
    probes_checked: int = 0
    mismatches: int = 0
    probe_mismatches: int = 0  # of which in probes (a turn alone, nothing armed: its prompt must be exact)
    examples: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def mismatch(self, text: str) -> None:
        self.mismatches += 1
        if len(self.examples) < 5:
            self.examples.append(text)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def messages_of(mongo: MongoServer, session_id: str) -> list[dict[str, Any]]:
    """The session's stored messages in position order (the harness's client: no fault is aimed at it, but a
    connection SecantusDB drops for a fault can be one of its pooled ones, so a failed read is tried again)."""
    collection = _reader(mongo)["travel_agent"]["chat_messages"]
    for attempt in range(5):
        try:
            return list(collection.find({"session_id": session_id}, {"seq": 1, "role": 1, "content": 1}).sort("seq"))
        except AutoReconnect:
            if attempt == 4:
                raise
            time.sleep(0.1)
    raise AssertionError("unreachable")


@functools.cache
def _reader(mongo: MongoServer) -> MongoClient[dict[str, Any]]:
    """One client per server for the whole run: a client per read left hundreds open (each with its monitor
    connections) until SecantusDB reset connections, the harness's own reads among them."""
    return mongo.client()


def turn(base_url: str, message: str, session_id: str, stream: bool) -> str:
    """One turn; its outcome as a status ("200", "503", ..., or "cut" when the connection broke)."""
    try:
        if not stream:
            response = requests.post(base_url + SEND, json={"message": message, "session_id": session_id}, timeout=30)
            return str(response.status_code)
        with requests.post(
            base_url + STREAM, json={"message": message, "session_id": session_id}, timeout=30, stream=True
        ) as response:
            if response.status_code != 200:
                return str(response.status_code)
            text = response.text
        for block in text.split("\n\n"):
            if "event: done\n" in block:  # after its "id:" line
                return "200"
            if "event: error\n" in block:
                data = json.loads(block.split("data: ", 1)[1])
                return str(data["status"] if isinstance(data.get("status"), int) else data["code"])
        return "cut"
    except requests.RequestException:
        return "cut"


def check_prompt(
    figures: Figures,
    prompt: list[dict[str, Any]],
    question: str,
    stored: list[dict[str, Any]],
    before: set[Any] | None,
    exact: bool,
) -> None:
    """``prompt``: the upstream's messages minus the system prompt and the question."""
    by_content = {(m["role"], m["content"]): m for m in stored}
    q = by_content.get(("user", question))
    if q is None:
        return  # the question's insert failed after the prompt was sent?: impossible, it is stored first
    below = [m for m in stored if m["seq"] < q["seq"]]
    got = [(m["role"], m["content"]) for m in prompt]
    if exact:
        want = [(m["role"], m["content"]) for m in below[-HISTORY:]]
        if got != want:
            figures.probe_mismatches += 1
            figures.mismatch(
                f"probe {question!r}: prompt lacks {[w for w in want if w not in got]}, "
                f"holds {[g for g in got if g not in want]} that MongoDB has not"
            )
        return
    found = [by_content.get(item) for item in got]
    if (
        any(m is None or m["seq"] >= q["seq"] for m in found)
        or [m["seq"] for m in found if m] != sorted({m["seq"] for m in found if m})
        or len(found) > HISTORY
    ):
        figures.mismatch(f"{question!r}: prompt {got} holds a message not stored before it, or out of order")
        return
    seqs = {m["seq"] for m in found if m}
    floor = min(seqs) if len(seqs) == HISTORY else -1
    missing = [
        m["content"] for m in below if m["_id"] in (before or set()) and m["seq"] > floor and m["seq"] not in seqs
    ]
    if missing:
        figures.mismatch(
            f"{question!r}: prompt lacks {len(missing)} message(s) stored before the turn was sent "
            f"(newest: {missing[-3:]}); it held {len(seqs)}"
        )


def run_one(
    base_url: str,
    mongo: MongoServer,
    upstream: UpstreamServer,
    *,
    rounds: int,
    seed: int,
    cache: bool,
    log: Callable[[str], None] = lambda _line: None,
) -> Figures:
    rng = random.Random(seed)
    figures = Figures(cache=cache, seed=seed)
    started = time.monotonic()
    upstream.reset()
    upstream.clear_requests()
    counter = iter(range(1_000_000))
    befores: dict[str, set[Any]] = {}
    lock = threading.Lock()

    def tally(status: str) -> None:
        with lock:
            figures.statuses[status] = figures.statuses.get(status, 0) + 1
            figures.turns += 1

    def probe(session_id: str) -> str:
        """A turn alone with nothing armed; retried while a circuit opened by the round's faults is open."""
        deadline = time.monotonic() + 30
        while True:
            question = f"probe {next(counter)}"
            status = turn(base_url, question, session_id, stream=False)
            tally(status)
            if status == "200" or time.monotonic() > deadline:
                return question
            time.sleep(0.2)  # a circuit opened by the round's faults closes after BREAKER_RESET_SECONDS

    first = requests.post(base_url + SEND, json={"message": "start"}, timeout=30)
    first.raise_for_status()
    session_id = first.json()["session_id"]
    probes: list[str] = []
    for _ in range(rounds):
        figures.rounds += 1
        upstream.configure(delay=rng.choice((0.0, 0.02, 0.05, 0.1)))
        if rng.random() < 0.4:
            upstream.fail_next(400, rng.randint(1, 2))
            figures.upstream_failures += 1
        if rng.random() < 0.8:
            mongo.fail_command([rng.choice(COMMANDS)], times=1, app_name="travel_agent", **rng.choice(FAULTS))
            figures.faults_armed += 1
        plans = [
            (
                f"t{next(counter)} {rng.choice(('Lisbon', 'Kyoto', 'Oslo', 'Quito'))}",
                rng.random() < 0.4,
                rng.uniform(0, 0.05),
            )
            for _ in range(rng.randint(2, 4))
        ]

        def go(question: str, stream: bool, lag: float) -> None:
            time.sleep(lag)  # spreads the turns' starts, so their writes interleave differently each round
            before = {m["_id"] for m in messages_of(mongo, session_id)}
            with lock:
                befores[question] = before
            tally(turn(base_url, question, session_id, stream))

        threads = [threading.Thread(target=go, args=plan) for plan in plans]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        mongo.clear_fail_points()
        upstream.reset()
        probes.append(probe(session_id))
    stored = messages_of(mongo, session_id)
    for request in upstream.requests:
        payload = request["json"]
        if request["method"] != "POST" or not isinstance(payload, dict):
            continue
        sent = payload["messages"][1:]  # the system prompt first
        question = sent[-1]["content"]
        if question in probes:
            figures.probes_checked += 1
            check_prompt(figures, sent[:-1], question, stored, None, exact=True)
        elif question in befores:
            figures.prompts_checked += 1
            check_prompt(figures, sent[:-1], question, stored, befores[question], exact=False)
    figures.seconds = round(time.monotonic() - started, 1)
    log(
        f"context integrity ({'with Redis' if cache else 'without Redis'}): {figures.turns} turns, "
        f"{figures.prompts_checked} prompts and {figures.probes_checked} probes checked, "
        f"{figures.faults_armed} MongoDB faults armed, {figures.upstream_failures} upstream failures, "
        f"statuses {dict(sorted(figures.statuses.items()))}, mismatches: {figures.mismatches} "
        f"({figures.probe_mismatches} in probes)"
    )
    for example in figures.examples:
        log(f"  {example}")
    return figures


def service_env(upstream: UpstreamServer) -> dict[str, str | None]:
    return {
        "AGENT_PROVIDER": "openai",
        "OPENAI_BASE_URL": upstream.base_url,
        "OPENAI_API_KEY": "sk-test-0123456789",
        "CHAT_HISTORY_MESSAGES": str(HISTORY),
        "STARTUP_RETRIES": "1",
        "CHAT_TIMEOUT_SECONDS": "10",
        "MONGO_OPERATION_TIMEOUT_MS": "2000",
        "BREAKER_RESET_SECONDS": "0.3",
    }


def run(rounds: int, seed: int, workdir: Path | None = None, log: Callable[[str], None] = print) -> list[Figures]:
    """Both runs (with Redis, then without as the control) on fresh servers; their figures."""
    results = []
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        counter = iter(range(100))

        def mktemp(name: str) -> Path:
            path = Path(tmp) / f"{name}{next(counter)}"
            path.mkdir()
            return path

        for cache in (True, False):
            with ServerPool(mktemp) as pool, UpstreamServer() as upstream:
                mongo = pool.mongo()
                redis_url = pool.redis().url if cache else None
                service = pool.gunicorn(
                    mongo_uri=mongo.uri,
                    redis_url=redis_url,
                    workers=2,
                    env=service_env(upstream) | ({} if cache else {"REDIS_URL": None}),
                )
                results.append(
                    run_one(service.base_url, mongo, upstream, rounds=rounds, seed=seed, cache=cache, log=log)
                )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.chaos.context_integrity", description=__doc__)
    parser.add_argument("--rounds", type=int, default=150)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    print(f"context integrity: seed {seed}, {args.rounds} rounds per run", flush=True)
    results = run(args.rounds, seed, log=lambda line: print(line, flush=True))
    return 1 if any(figures.mismatches for figures in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
