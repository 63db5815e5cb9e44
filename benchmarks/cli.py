"""``python -m benchmarks [part] [options]``: run one part of the benchmarks, or all of them (``all``)."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import health_bench, machine, results

Part = tuple[Callable[[argparse.Namespace], dict[str, Any]], Callable[[dict[str, Any]], None]]


def _health(args: argparse.Namespace) -> dict[str, Any]:
    return health_bench.run(health_bench.HealthOptions(
        runs=args.runs, duration=args.duration, connections=args.connections, prefer_wrk=not args.no_wrk))


PARTS: dict[str, Part] = {
    "health": (_health, health_bench.print_table),
}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="scripts/bench", description=__doc__)
    p.add_argument("part", nargs="?", default="all", choices=["all", *PARTS])
    p.add_argument("--runs", type=int, default=5, help="runs per figure; the medians are reported (default 5)")
    p.add_argument("--duration", type=float, default=5.0, help="seconds of load per run (default 5)")
    p.add_argument("--connections", type=int, default=32, help="concurrent connections for throughput runs")
    p.add_argument("--no-wrk", action="store_true", help="use the Python client even where wrk is installed")
    p.add_argument("--out", type=Path, default=None, help="directory for the JSON results (benchmarks/results)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    names = list(PARTS) if args.part == "all" else [args.part]
    print(f"machine: {machine.describe()}")
    for name in names:
        run, show = PARTS[name]
        started = time.monotonic()
        data = run(args)
        data["elapsed_s"] = round(time.monotonic() - started, 1)
        path = results.write(name, data, args.out)
        show(data)
        print(f"({name}: {data['elapsed_s']} s, written to {path})\n")
    return 0
