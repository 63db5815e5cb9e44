"""/health/live and /health of travel_agent against the floor app, same gunicorn settings, interleaved runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from benchmarks import results, stats
from benchmarks.loads import Tool, measure_get
from benchmarks.servers import BenchStack, worker_pid
from harness.stats import median

# The targets: each path's throughput as a fraction of the floor's.
TARGETS = {"/health/live": 0.8, "/health": 0.7}


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
        servers = {"service": stack.service(mongo, redis, workers=options.workers),
                   "floor": stack.floor(workers=options.workers)}
        pids = {name: worker_pid(s) if options.workers == 1 else None for name, s in servers.items()}
        tool = Tool.pick(stack.root, options.prefer_wrk)
        for server in servers.values():  # warm-up: imports, first connections, the health cache
            for path in TARGETS:
                if options.warmup > 0:
                    measure_get(tool, server.port, path, options.connections, options.warmup)
        runs: list[dict[str, Any]] = []
        for i in range(options.runs):
            # Alternate who goes first, so a drift of the machine's load does not favour one side.
            order = ["floor", "service"] if i % 2 == 0 else ["service", "floor"]
            for path in TARGETS:
                pair = {name: measure_get(tool, servers[name].port, path, options.connections, options.duration,
                                          pids[name]) for name in order}
                runs.append({"run": i + 1, "path": path, **pair,
                             "ratio": stats.ratio(pair["service"]["rps"], pair["floor"]["rps"])})
    return {"tool": tool.name, "options": options.__dict__, "runs": runs, "summary": summarize(runs)}


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for path, target in TARGETS.items():
        mine = [r for r in runs if r["path"] == path]

        def med(side: str, key: str, rows: list[dict[str, Any]] = mine) -> float | None:
            return median(r[side].get(key) for r in rows)

        ratio = median(r["ratio"] for r in mine)
        summary[path] = {
            "floor_rps": med("floor", "rps"), "service_rps": med("service", "rps"),
            "ratio": ratio, "target": target, "met": ratio is not None and ratio >= target,
            "floor_p99_ms": median(r["floor"]["latency_ms"]["p99"] for r in mine),
            "service_p99_ms": median(r["service"]["latency_ms"]["p99"] for r in mine),
            "floor_cpu_us": med("floor", "worker_cpu_us_per_request"),
            "service_cpu_us": med("service", "worker_cpu_us_per_request"),
            "service_non_2xx": sum(r["service"]["non_2xx"] for r in mine),
        }
    return summary


def print_table(data: dict[str, Any]) -> None:
    rows = [[path, s["floor_rps"], s["service_rps"], s["ratio"], s["target"], "yes" if s["met"] else "NO",
             s["floor_cpu_us"], s["service_cpu_us"], s["floor_p99_ms"], s["service_p99_ms"]]
            for path, s in data["summary"].items()]
    print(results.table(
        f"Health endpoints vs the floor app (medians of {data['options']['runs']} runs, {data['tool']})",
        ["path", "floor rps", "service rps", "ratio", "target", "met", "floor CPU us/req", "service CPU us/req",
         "floor p99 ms", "service p99 ms"], rows))
