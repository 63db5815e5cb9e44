"""``python -m tools.fuzz``: raw HTTP abuse and a schemathesis campaign against the real service; print and keep the
figures; exit 1 on any 5xx, schema violation, unclean answer or crashed worker."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import tools
from tools.chaos.report import publish, table
from tools.fuzz.run import run

RESULTS_DIR = tools.RESULTS_DIR / "fuzz"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.fuzz", description=__doc__)
    parser.add_argument("--examples", type=int, default=1000, help="schemathesis cases per operation and phase")
    parser.add_argument("--skip-schema", action="store_true", help="only the raw abuse matrix")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR, help="where the JSON goes")
    args = parser.parse_args(argv)
    figures = run(args.examples, skip_schema=args.skip_schema)
    return publish("fuzz", figures, args.results, render(figures), problems(figures))


def render(figures: dict[str, Any]) -> str:
    abuse = figures["abuse"]
    rows = [
        [r["case"], r["connections"], r["answer"], "ok" if r["ok"] else "; ".join(r["problems"])]
        for r in abuse["cases"]
    ]
    probe = abuse["bystander"]
    lines = [
        table(["case", "conns", "answer", "verdict"], rows),
        "",
        f"/health/live meanwhile: {probe['requests']} requests, {probe['failures']} failed, "
        f"p50 {probe['p50_ms']} ms, p99 {probe['p99_ms']} ms, max {probe['max_ms']} ms; "
        f"workers survived: {abuse['workers_survived']}; /health after: {abuse['health_after']}",
    ]
    schema = figures.get("schemathesis")
    if schema is not None:
        lines += [
            f"schemathesis: {schema['cases']} cases on {schema['operations']} operations in "
            f"{schema['seconds']} s, {schema['cases_failed']} failed, phases {schema['phases']}"
        ]
        lines += [
            f"  {f['code']} {f['title']}: {f['count']} ({', '.join(f['operations'])})" for f in schema["failures"]
        ]
        if schema["output_tail"]:
            lines += ["", schema["output_tail"]]
    return "\n".join(lines)


def problems(figures: dict[str, Any]) -> list[str]:
    abuse = figures["abuse"]
    out = [f"abuse case {name}" for name in abuse["failed"]]
    if abuse["bystander"]["failures"]:
        out.append(f"/health/live failed {abuse['bystander']['failures']} times during the abuse")
    if not abuse["workers_survived"]:
        out.append("a worker died during the abuse")
    schema = figures.get("schemathesis")
    if schema is not None and (schema["exit_code"] != 0 or schema["cases_failed"] or schema["errors"]):
        out.append(
            f"schemathesis exit {schema['exit_code']}: {schema['cases_failed']} failed cases, "
            f"{len(schema['errors'])} errors"
        )
    return out


if __name__ == "__main__":
    raise SystemExit(main())
