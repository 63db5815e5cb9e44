"""``python -m tools.production``: the long variants of tests/production, with their figures printed and kept as
JSON in tools/results/production/. Exit 1 when a turn was lost or stored twice, or a chat failed in a failover."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import tools
from tools.production.runs import heroku_limits, rolling_restarts, sentinel_failovers

RESULTS_DIR = tools.RESULTS_DIR / "production"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.production", description=__doc__)
    parser.add_argument(
        "--parts", default="rolling,failover,heroku", help="comma-separated subset of rolling, failover, heroku"
    )
    parser.add_argument("--minutes", type=float, default=4.0, help="how long the rolling restarts go on")
    parser.add_argument("--clients", type=int, default=8, help="chatting clients")
    parser.add_argument("--failovers", type=int, default=5, help="Sentinel failovers in a row")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    parts = {part.strip() for part in args.parts.split(",") if part.strip()}
    figures: dict[str, dict[str, object]] = {}
    broken: list[str] = []
    if "rolling" in parts:
        figures["rolling"], problems = rolling_restarts(args.minutes, args.clients)
        broken += problems
        print_part("rolling restarts behind HAProxy", figures["rolling"])
    if "failover" in parts:
        figures["failover"], problems = sentinel_failovers(args.failovers, args.clients)
        broken += problems
        print_part("Redis Sentinel failovers", figures["failover"])
    if "heroku" in parts:
        figures["heroku"], problems = heroku_limits()
        broken += problems
        print_part("Heroku router limits, real time", figures["heroku"])
    args.results.mkdir(parents=True, exist_ok=True)
    out = args.results / f"production-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps({"figures": figures, "broken": broken}, indent=2, default=str))
    print(f"\nresults: {out}")
    for problem in broken:
        print(f"BROKEN: {problem}", file=sys.stderr)
    return 1 if broken else 0


def print_part(title: str, figures: dict[str, object]) -> None:
    print(f"\n== {title}")
    width = max(len(name) for name in figures)
    for name, value in figures.items():
        print(f"  {name:<{width}}  {value}")


if __name__ == "__main__":
    raise SystemExit(main())
