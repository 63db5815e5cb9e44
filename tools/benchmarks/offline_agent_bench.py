"""What one offline-assistant reply costs: p50 and p99 per case, the median over repetitions (and the worst).

Run: ``.venv/bin/python -m tools.benchmarks.offline_agent_bench`` (targets: p99 < 5 ms per reply, cold and warm,
for a 4,000-character message and for a 20-turn history; < 20 ms for a worker's first turn over 20 long messages).

Cases:
- ``history-warm``: the next message of a 20-turn conversation, every message already seen by this process.
- ``history-cold``: the same, but the new message is one this process has never seen (a number in it varies).
- ``long-warm`` / ``long-cold``: a 4,000-character message (travel text, number-heavy, five languages, random
  Unicode), seen before or never seen.
- ``first-turn-20-long``: every per-message cache emptied (a restarted worker), then one reply over a history of
  20 long, number-heavy user messages: what the issue measured blocking the event loop for 0.27-0.54 s.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import time
from collections.abc import Callable

from travel_agent.agent.interface import Turn
from travel_agent.agent.offline import forget, reply, warm

USER_TURNS = [
    "I want to go to Lisbon for 5 days with my wife, mid-range",
    "Yes, where should we stay?",
    "What's a budget for food per day?",
    "Can you recommend restaurants, or is tram 28 worth it?",
    "Actually make it Rome, not Lisbon",
    "make it 7 days instead",
    "we're three now",
    "What's the weather in Rome in August?",
    "Do I need a visa, and what about tipping?",
    "cheaper",
]
NEXT_MESSAGES = [
    "How much will it cost? Give me a breakdown",
    "what should I pack?",
    "Paris, then Amsterdam, then Berlin for 3 weeks, 2 of us, €4000",
    "東京に5日間行きたい",
    "¿Qué tiempo hace en octubre? Somos cuatro, presupuesto de 3000 euros",
]
LONG = [
    ("I want to go to Paris for 5 days with my wife, budget $3000, June 3 to June 10. " * 60)[:4000],
    ("3 days 2 people $5 in May, 4 nights in Rome for 2 adults and 3 kids €1,200 2025-06-03 " * 50)[:4000],
    ("Quiero ir a Lisboa cinco días con mi pareja en mayo, presupuesto de 2000 euros. " * 60)[:4000],
    ("Wir möchten mit meiner Frau und zwei Kindern eine Woche nach Wien, günstig, im Dezember. " * 50)[:4000],
    ("Paris, then Amsterdam, then Berlin, 3 days each? Somewhere warm in February? " * 60)[:4000],
    "".join(chr(random.Random(7).randrange(0x20, 0x2FFFF)) for _ in range(4000)),
]


def history() -> list[Turn]:
    turns: list[Turn] = []
    for message in USER_TURNS:
        turns += [Turn("user", message), Turn("assistant", reply(turns, message))]
    return turns


def long_history(salt: int) -> list[Turn]:
    # Twenty long, number-heavy user turns, each one new to the process (the salt changes a number in each).
    turns = []
    for i in range(20):
        body = f"{salt + i} days in Rome for {i % 9 + 1} people, $1,{i:03d} per day, June 3 to June 10, 2 kids. "
        turns += [Turn("user", (body * 60)[:4000]), Turn("assistant", "Noted.")]
    return turns


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return ordered[len(ordered) // 2], ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def timed(run: Callable[[int], None], runs: int) -> tuple[list[float], list[float]]:
    wall, cpu = [], []
    for i in range(runs):
        start, start_cpu = time.perf_counter(), time.thread_time()
        run(i)
        cpu.append((time.thread_time() - start_cpu) * 1000)
        wall.append((time.perf_counter() - start) * 1000)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=400, help="replies timed per case and repetition")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    started = time.perf_counter()
    warm()
    # As the service does (runtime/hooks.py, share_offline_gazetteer): the gazetteer's ~90 MiB of objects are
    # frozen out of the collector, or a full collection would walk them all inside some reply.
    gc.collect()
    gc.freeze()
    turns = history()
    print(f"warm-up (gazetteer + first history): {time.perf_counter() - started:.2f} s; {len(turns)} turns")
    counter = iter(range(10**9))

    def fresh(text: str) -> str:
        return f"{next(counter)} " + text[: len(text) - 12]  # never seen before, still about 4,000 characters

    def first_turn(i: int) -> None:
        forget()
        reply(long_history(i * 20 + 1000), "what's the plan?")

    cases: dict[str, Callable[[int], None]] = {
        "history-warm": lambda i: reply(turns, NEXT_MESSAGES[i % len(NEXT_MESSAGES)]),
        "history-cold": lambda i: reply(turns, f"{NEXT_MESSAGES[i % len(NEXT_MESSAGES)]} ({next(counter)} days)"),
        "long-warm": lambda i: reply(turns, LONG[i % len(LONG)]),
        "long-cold": lambda i: reply(turns, fresh(LONG[i % len(LONG)])),
        "first-turn-20-long": first_turn,
    }
    for name, run in cases.items():
        runs = max(20, args.runs // 10) if name == "first-turn-20-long" else args.runs
        results = {"wall": [], "cpu": []}
        for _ in range(args.repeats):
            wall, cpu = timed(run, runs)
            results["wall"].append(percentiles(wall))
            results["cpu"].append(percentiles(cpu))
        # Wall time includes being descheduled on a busy machine; thread CPU time is the reply's own cost.
        for label, found in results.items():
            p50 = statistics.median(p for p, _ in found)
            p99 = statistics.median(p for _, p in found)
            worst = max(p for _, p in found)
            print(
                f"{name:20s} {label}: p50 {p50:7.3f} ms  p99 {p99:7.3f} ms  worst p99 {worst:7.3f} ms "
                f"({args.repeats} x {runs} replies)"
            )


if __name__ == "__main__":
    main()
