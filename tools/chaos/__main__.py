"""``python -m tools.chaos``: run the fault schedule under load, print the figures, write them as JSON; exit 1 on a
broken promise (a bad answer, cross-talk, or an acknowledged message lost)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from tools.chaos import phases as schedule
from tools.chaos.report import RESULTS_DIR, publish, table
from tools.chaos.run import Config, run

# The targets: failures of a dependency known down answered fast; service back soon after it is.
DOWN_P99_MS = 100.0
RECOVERY_S = 2.0
# The model back: answers stop being degraded within BREAKER_RESET_SECONDS (1 s, the default) plus one call.
UNDEGRADED_S = 2.0
CODES = ("200", "409", "502", "503", "504")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.chaos", description=__doc__)
    parser.add_argument(
        "--phases",
        help="comma-separated subset, e.g. redis-kill,worker-kill (default: all): "
        + ", ".join(p.name for p in schedule.PHASES),
    )
    parser.add_argument("--clients", type=int, default=6, help="closed-loop clients (send, idem, stream in turn)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies how long each fault is held")
    parser.add_argument("--tail", type=float, default=5.0, help="seconds observed after each fault is lifted")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR, help="where the JSON goes")
    args = parser.parse_args(argv)
    figures = run(Config(schedule.select(args.phases), clients=args.clients, scale=args.scale, tail=args.tail))
    return publish("chaos", figures, args.results, render(figures), broken_promises(figures))


def render(figures: dict[str, Any]) -> str:
    rows = []
    for p in figures["phases"]:
        st = p["statuses"]
        other = sum(n for k, n in st.items() if k not in (*CODES, "connection", "cut"))
        down = p["known_down"]
        rows.append(
            [
                p["phase"],
                p["fault_seconds"],
                p["requests"],
                *(st.get(code, 0) for code in CODES),
                other,
                st.get("connection", 0) + st.get("cut", 0),
                p["latency"]["p50_ms"],
                p["latency"]["p99_ms"],
                down["p99_ms"],
                down["failures"],
                p["recovery_s"],
                p["circuits_closed_s"],
                p["degraded"],
                p["undegraded_s"],
                p["bad"],
                p["crosstalk"],
                p["lost"],
            ]
        )
    headers = [
        "phase",
        "fault s",
        "req",
        "200",
        "409",
        "502",
        "503",
        "504",
        "other",
        "conn",
        "p50 ms",
        "p99 ms",
        "down p99",
        "down n",
        "recover s",
        "circuit s",
        "degr",
        "undegr s",
        "bad",
        "xtalk",
        "lost",
    ]
    v = figures["verification"]
    lines = [
        table(headers, rows),
        "",
        f"{figures['clients']} clients ({', '.join(figures['kinds'])}), chat budget {figures['budget_s']} s, "
        f"{figures['seconds']} s in all",
        f"verification: {v['sessions']} sessions, {v['acknowledged']} acknowledged, {v['lost']} lost, "
        f"{v['duplicated']} duplicated, {v['foreign']} foreign, {v['prompts_checked']} prompts checked, "
        f"{v['context_crosstalk']} mixed conversations",
    ]
    lines += [f"  {example}" for example in v["examples"]]
    for p in figures["phases"]:
        lines += [f"  {p['phase']}: {example}" for example in p["examples"]]
    lines += [f"target missed: {miss}" for miss in missed_targets(figures)]
    return "\n".join(lines)


def broken_promises(figures: dict[str, Any]) -> list[str]:
    """The counts that must be zero."""
    out = []
    for p in figures["phases"]:
        for key in ("bad", "crosstalk", "lost"):
            if p[key]:
                out.append(f"{p['phase']}: {p[key]} {key} ({'; '.join(p['examples'])})")
        if p.get("answers_all") and p["failed_turns"]:
            out.append(f"{p['phase']}: {p['failed_turns']} failed turns with the fallback on ({p['statuses']})")
    v = figures["verification"]
    for key in ("lost", "duplicated", "foreign", "context_crosstalk", "unreadable"):
        if v[key]:
            out.append(f"verification: {v[key]} {key}")
    return out


def missed_targets(figures: dict[str, Any]) -> list[str]:
    out = []
    for p in figures["phases"]:
        down = p["known_down"]["p99_ms"]
        if down is not None and down > DOWN_P99_MS:
            out.append(f"{p['phase']}: failures while known down p99 {down} ms > {DOWN_P99_MS:.0f} ms")
        if p.get("answers_all") and (p["undegraded_s"] is None or p["undegraded_s"] > UNDEGRADED_S):
            out.append(f"{p['phase']}: answers degraded until {p['undegraded_s']} s after (target {UNDEGRADED_S} s)")
        if p["recovery_s"] is None or p["recovery_s"] > RECOVERY_S:
            out.append(f"{p['phase']}: recovered after {p['recovery_s']} s (target {RECOVERY_S:.0f} s)")
    return out


if __name__ == "__main__":
    raise SystemExit(main())
