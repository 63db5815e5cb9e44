"""The health probes of travel_agent against the floor: a bare Flask app under plain gunicorn gevent workers
(no access log). The service runs as production does (its gunicorn.conf.py, access log on), twice: with its
default access log (probes left out) and with probes written to the access log too. Interleaved runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tools.benchmarks import results, stats
from tools.benchmarks.loads import Tool, measure_get
from tools.benchmarks.servers import BenchStack, worker_pid
from tools.harness.stats import median

# The targets: each path's throughput as a fraction of the floor's, for every service variant.
TARGETS = {"/health/live": 1.0, "/health/ready": 1.0, "/health": 0.85}
# The service variants measured against the floor: name -> environment.
VARIANTS: dict[str, dict[str, str]] = {"service": {}, "service+probe log": {"ACCESS_LOG_PROBES": "true"}}


@dataclass(frozen=True)
class HealthOptions:
    runs: int = 5
    duration: float = 5.0
    connections: int = 32
    workers: int = 1
    prefer_wrk: bool = True
    warmup: float = 1.0  # seconds of load per server and path before the measured runs (0: none)


def run(options: HealthOptions) -> dict[str, Any]:
    with BenchStack() as stack:
        mongo, redis = stack.mongo(), stack.redis()
        servers = {"floor": stack.floor(workers=options.workers)}
        for name, env in VARIANTS.items():
            servers[name] = stack.service(mongo, redis, workers=options.workers, env=env)
        pids = {name: worker_pid(s) if options.workers == 1 else None for name, s in servers.items()}
        tool = Tool.pick(stack.root, options.prefer_wrk)
        for server in servers.values():  # warm-up: imports, first connections, the health cache
            for path in TARGETS:
                if options.warmup > 0:
                    measure_get(tool, server.port, path, options.connections, options.warmup)
        runs: list[dict[str, Any]] = []
        names = list(servers)
        for i in range(options.runs):
            # Rotate who goes first, so a drift of the machine's load does not favour one side.
            order = names[i % len(names) :] + names[: i % len(names)]
            for path in TARGETS:
                sides = {
                    name: measure_get(tool, servers[name].port, path, options.connections, options.duration, pids[name])
                    for name in order
                }
                runs.append(
                    {
                        "run": i + 1,
                        "path": path,
                        **sides,
                        "ratio": {v: stats.ratio(sides[v]["rps"], sides["floor"]["rps"]) for v in VARIANTS},
                    }
                )
    return {
        "tool": tool.name,
        "options": options.__dict__,
        "variants": VARIANTS,
        "runs": runs,
        "summary": summarize(runs),
    }


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for path, target in TARGETS.items():
        mine = [r for r in runs if r["path"] == path]

        def med(side: str, key: str, rows: list[dict[str, Any]] = mine) -> float | None:
            return median(r[side].get(key) for r in rows)

        row: dict[str, Any] = {
            "target": target,
            "floor_rps": med("floor", "rps"),
            "floor_cpu_us": med("floor", "worker_cpu_us_per_request"),
        }
        for variant in VARIANTS:
            ratio = median(r["ratio"][variant] for r in mine)
            row[variant] = {
                "rps": med(variant, "rps"),
                "ratio": ratio,
                "met": ratio is not None and ratio >= target,
                "cpu_us": med(variant, "worker_cpu_us_per_request"),
                "non_2xx": sum(r[variant]["non_2xx"] for r in mine),
            }
        summary[path] = row
    return summary


def print_table(data: dict[str, Any]) -> None:
    rows = []
    for path, s in data["summary"].items():
        for variant in data["variants"]:
            v = s[variant]
            rows.append(
                [
                    path,
                    variant,
                    s["floor_rps"],
                    v["rps"],
                    v["ratio"],
                    s["target"],
                    "yes" if v["met"] else "NO",
                    s["floor_cpu_us"],
                    v["cpu_us"],
                ]
            )
    print(
        results.table(
            "Health probes vs a bare Flask app under plain gunicorn gevent "
            f"(medians of {data['options']['runs']} runs, "
            f"{data['tool']})",
            [
                "path",
                "service",
                "floor rps",
                "service rps",
                "ratio",
                "target",
                "met",
                "floor CPU us/req",
                "service CPU us/req",
            ],
            rows,
        )
    )
