"""``scripts/bench [part] [options]``: the load and speed benchmarks of travel_agent, one part or all of them.

Parts: health (/health/live and /health against a bare Flask floor), chat (POST /api/chat/send against the
same MongoDB and Redis operations issued directly), capacity (in-flight chats behind a 5 s upstream, memory per
chat, then overload at twice that), soak (worker memory over minutes), profile (py-spy: where the CPU goes),
overload (only the overload, at --rate chats/s with MAX_IN_FLIGHT=--cap, to compare caps; not part of all),
held (2,000 streams, then 2,000 sends, held by one worker behind a 90 s model: RSS per held chat and the
liveness probe meanwhile; about 6 minutes, not part of all).
``all`` runs every part with defaults sized to finish in under 10 minutes on a 2-core machine. Each part writes
tools/results/benchmarks/<part>-<UTC time>.json and prints its tables.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tools.benchmarks import (
    capacity_bench,
    capacity_report,
    chat_bench,
    health_bench,
    held_bench,
    held_watch,
    machine,
    profile_bench,
    results,
    soak_bench,
)

Part = tuple[Callable[[argparse.Namespace], dict[str, Any]], Callable[[dict[str, Any]], None]]


def _health(args: argparse.Namespace) -> dict[str, Any]:
    return health_bench.run(
        health_bench.HealthOptions(
            runs=args.runs,
            duration=args.duration,
            connections=args.connections,
            prefer_wrk=not args.no_wrk,
            warmup=args.warmup,
        )
    )


def _chat(args: argparse.Namespace) -> dict[str, Any]:
    return chat_bench.run(
        chat_bench.ChatOptions(
            runs=args.runs,
            duration=args.duration,
            connections=args.chat_connections,
            prefer_wrk=not args.no_wrk,
            env=dict(item.split("=", 1) for item in args.env),
        )
    )


def _capacity(args: argparse.Namespace) -> dict[str, Any]:
    return capacity_bench.run(
        capacity_bench.CapacityOptions(
            delay=args.delay,
            steps=tuple(args.steps),
            cycles=args.cycles,
            overload_seconds=args.overload_seconds,
            hold_chats=args.hold_chats,
            hold_delay=args.hold_delay,
        )
    )


def _overload(args: argparse.Namespace) -> dict[str, Any]:
    return capacity_bench.run_overload(
        args.rate, args.cap, capacity_bench.CapacityOptions(delay=args.delay, overload_seconds=args.overload_seconds)
    )


def _held(args: argparse.Namespace) -> dict[str, Any]:
    return held_bench.run(
        held_bench.HeldOptions(
            chats=args.held_chats,
            delay=args.held_delay,
            rate=args.held_rate,
            kinds=tuple(args.held_kinds),
            heartbeat=args.held_heartbeat,
            warm=min(100, args.held_chats // 10),
            env=dict(item.split("=", 1) for item in args.env),
            profile=args.held_profile,
        )
    )


def _soak(args: argparse.Namespace) -> dict[str, Any]:
    return soak_bench.run(soak_bench.SoakOptions(minutes=args.minutes, clients=args.soak_clients))


def _profile(args: argparse.Namespace) -> dict[str, Any]:
    return profile_bench.run(profile_bench.ProfileOptions(seconds=args.profile_seconds))


PARTS: dict[str, Part] = {
    "health": (_health, health_bench.print_table),
    "chat": (_chat, chat_bench.print_table),
    "capacity": (_capacity, capacity_report.print_table),
    "soak": (_soak, soak_bench.print_table),
    "overload": (_overload, capacity_report.print_overload),
    "profile": (_profile, profile_bench.print_table),
    "held": (_held, held_bench.print_table),
}
# Parts run only when named: each is long, or compares settings rather than measuring the defaults.
ALONE = ("overload", "held")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="scripts/bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("part", nargs="?", default="all", choices=["all", *PARTS])
    g = p.add_argument_group("health and chat")
    g.add_argument("--runs", type=int, default=5, help="interleaved runs per figure; medians reported (5)")
    g.add_argument("--duration", type=float, default=4.0, help="seconds of load per run (4)")
    g.add_argument("--connections", type=int, default=32, help="concurrent connections, health (32)")
    g.add_argument("--chat-connections", type=int, default=16, help="concurrent conversations, chat (16)")
    g.add_argument("--warmup", type=float, default=1.0, help="seconds of warm-up load per server and path (1)")
    g.add_argument("--no-wrk", action="store_true", help="use the Python client even where wrk is installed")
    g = p.add_argument_group("capacity and overload")
    g.add_argument("--delay", type=float, default=5.0, help="the upstream's answer delay in seconds (5)")
    g.add_argument(
        "--steps",
        type=int,
        nargs="+",
        default=[50, 100, 150, 200, 300, 400, 600],
        help="concurrent chats per step, until one does not hold (50 100 150 200 300 400 600)",
    )
    g.add_argument("--cycles", type=float, default=2.0, help="length of a step, in upstream delays (2)")
    g.add_argument("--overload-seconds", type=float, default=20.0, help="length of the overload run (20)")
    g.add_argument("--rate", type=float, default=40.0, help="overload part alone: chats offered per second (40)")
    g.add_argument("--cap", type=int, default=100, help="overload part alone: MAX_IN_FLIGHT (100)")
    g.add_argument("--hold-chats", type=int, default=300, help="chats held at once for the memory figure (300)")
    g.add_argument("--hold-delay", type=float, default=15.0, help="upstream delay of that hold, seconds (15)")
    g = p.add_argument_group("held")
    g.add_argument("--held-chats", type=int, default=2000, help="chats held at once by one worker (2000)")
    g.add_argument("--held-delay", type=float, default=90.0, help="the upstream's answer delay, seconds (90)")
    g.add_argument(
        "--held-rate", type=float, default=25.0, help="new chats per second, a rate SecantusDB keeps up with (25)"
    )
    g.add_argument(
        "--held-kinds",
        nargs="+",
        choices=list(held_watch.PATHS),
        default=list(held_watch.PATHS),
        help="which chats to hold, each on fresh servers (stream send)",
    )
    g.add_argument("--held-heartbeat", type=float, default=10.0, help="CHAT_HEARTBEAT_SECONDS (10)")
    g.add_argument(
        "--held-profile",
        action="store_true",
        help="run the service under benchmarks.memory_profile_app (tracemalloc, gc, greenlets)",
    )
    g.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="held and chat: a setting for the service (repeatable), e.g. CHAT_HISTORY_MESSAGES=20",
    )
    g = p.add_argument_group("soak and profile")
    g.add_argument("--minutes", type=float, default=1.5, help="length of the soak (1.5; the documented one is 10)")
    g.add_argument("--soak-clients", type=int, default=8, help="concurrent clients of the soak (8)")
    g.add_argument("--profile-seconds", type=float, default=5.0, help="seconds sampled per profile (5)")
    p.add_argument("--out", type=Path, default=None, help="directory for the JSON results (tools/benchmarks/results)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    # "overload" alone compares caps at a chosen rate; "all" runs the overload inside "capacity".
    names = [name for name in PARTS if name not in ALONE] if args.part == "all" else [args.part]
    facts = machine.describe()
    print(
        f"{facts['date']}: {facts['nproc']} CPUs ({facts['cpu_model']}), {facts['memory_gib']} GiB, "
        f"load average {facts['load_average']}\n"
    )
    started = time.monotonic()
    for name in names:
        run, show = PARTS[name]
        part_started = time.monotonic()
        data = run(args)
        data["elapsed_s"] = round(time.monotonic() - part_started, 1)
        path = results.write(name, data, args.out)
        show(data)
        print(f"({name}: {data['elapsed_s']} s, load average now {machine.load_average()}, results in {path})\n")
    print(f"done in {time.monotonic() - started:.0f} s")
    return 0
