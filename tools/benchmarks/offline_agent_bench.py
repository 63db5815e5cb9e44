"""Time to build one offline-assistant reply for a 20-turn history: p50 and p99 over many runs, median of repeats.

Run: ``PYTHONPATH=src .venv/bin/python -m tools.benchmarks.offline_agent_bench`` (target: p99 < 5 ms).
"""

from __future__ import annotations

import argparse
import statistics
import time

from travel_agent.agent.interface import Turn
from travel_agent.agent.offline import reply

# Ten user turns that touch facts, corrections and several intents, so every part of the state is exercised.
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
    "30 day trip around Italy for 2",
    "東京に5日間行きたい",
    "what's the meaning of life?",
]


def history() -> list[Turn]:
    turns: list[Turn] = []
    for message in USER_TURNS:
        turns += [Turn("user", message), Turn("assistant", reply(turns, message))]
    return turns


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return ordered[len(ordered) // 2], ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=2000, help="replies timed per repetition")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    started = time.perf_counter()
    turns = history()  # also loads the gazetteer once, as a worker's first chat turn would
    print(f"warm-up (gazetteer + first history): {time.perf_counter() - started:.2f} s; {len(turns)} turns")
    wall: list[tuple[float, float]] = []
    cpu: list[tuple[float, float]] = []
    for _ in range(args.repeats):
        wall_ms, cpu_ms = [], []
        for i in range(args.runs):
            message = NEXT_MESSAGES[i % len(NEXT_MESSAGES)]
            start, start_cpu = time.perf_counter(), time.thread_time()
            reply(turns, message)
            cpu_ms.append((time.thread_time() - start_cpu) * 1000)
            wall_ms.append((time.perf_counter() - start) * 1000)
        wall.append(percentiles(wall_ms))
        cpu.append(percentiles(cpu_ms))
    # Wall time includes being descheduled on a busy machine; thread CPU time is the reply's own cost.
    for label, found in (("wall", wall), ("cpu", cpu)):
        p50, p99 = statistics.median(p for p, _ in found), statistics.median(p for _, p in found)
        print(
            f"{label}: reply for a {len(turns)}-turn history: p50 {p50:.3f} ms, p99 {p99:.3f} ms "
            f"(median of {args.repeats} x {args.runs} runs)"
        )


if __name__ == "__main__":
    main()
