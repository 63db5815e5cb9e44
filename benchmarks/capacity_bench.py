"""Capacity and overload of one worker whose chats wait on a slow model upstream (openai provider, 5 s).

Capacity: closed-loop clients, each holding one chat at a time, in growing steps; a step holds when every
chat is answered 200 within the upstream's delay plus ``slack``. The worker's in-flight count (from
/health/live, which is never shed) and its RSS are sampled throughout, so the memory a held chat costs is
the slope of peak RSS over in-flight chats. Overload: MAX_IN_FLIGHT set to that capacity, then chats
arriving open-loop at twice the rate the worker can finish them: goodput should stay near the peak, and the
excess should be answered 503 within milliseconds, not left to time out.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from benchmarks import machine, pyload, results, stats
from benchmarks.conversation import MESSAGES, SEND_PATH
from benchmarks.sampler import with_sampler
from benchmarks.stack import GunicornServer, Stack, worker_pid


@dataclass(frozen=True)
class CapacityOptions:
    delay: float = 5.0
    steps: tuple[int, ...] = (50, 100, 200, 400, 800)
    cycles: float = 2.0  # each step lasts this many upstream delays, after one delay of ramp-up
    slack: float = 1.0  # seconds a held chat may take beyond the upstream's delay
    overload_seconds: float = 20.0
    overload_factor: float = 2.0
    env: dict[str, str] = field(default_factory=dict)


def service_env(upstream_url: str, max_in_flight: int) -> dict[str, str]:
    return {"AGENT_PROVIDER": "openai", "OPENAI_BASE_URL": upstream_url, "OPENAI_API_KEY": "bench",
            "OPENAI_MODEL": "bench-model", "MAX_IN_FLIGHT": str(max_in_flight),
            # Room for every held chat's connection plus the probes; the step, not this limit, is measured.
            "WORKER_CONNECTIONS": str(max_in_flight + 200)}


def _chat_client(timeout: float) -> pyload.Client:
    """One chat at a time, a new session each (the upstream's delay, not the history, is what is measured)."""

    async def run(conn: pyload.Connection, recorder: pyload.Recorder, until: float) -> None:
        turn = 0
        while time.monotonic() < until:
            sample, _ = await pyload.timed(conn, "POST", SEND_PATH, {"message": MESSAGES[turn % len(MESSAGES)]},
                                           timeout=timeout)
            recorder.add(sample)
            turn += 1

    return run


def capacity_step(server: GunicornServer, pid: int, clients: int, options: CapacityOptions,
                  procs: dict[str, int]) -> dict[str, Any]:
    duration = options.delay * options.cycles
    timeout = options.delay * 4 + 10
    cpu_before = machine.cpu_of(procs)

    async def work() -> pyload.Recorder:
        return await pyload.closed_loop(server.port, clients, _chat_client(timeout), duration,
                                        warmup=options.delay + 0.5)

    recorder, sampler = asyncio.run(with_sampler(server.port, pid, work))
    cpu = machine.cpu_spent(cpu_before, machine.cpu_of(procs))
    summary = stats.summarize(recorder.samples, duration)
    ok = summary["statuses"].get("200", 0)
    p99 = summary["ok_latency_ms"]["p99"]
    held = (ok == summary["requests"] and ok > 0 and p99 is not None
            and p99 <= (options.delay + options.slack) * 1000)
    elapsed = duration + options.delay + 0.5
    return {"clients": clients, **summary, "held": held,
            "peak_in_flight": max(sampler.in_flight, default=None),
            "peak_rss_mib": round(max((r for _, r in sampler.rss), default=0) / 2**20, 1),
            "probe_p99_ms": stats.ms(stats.percentile(sampler.probe_latency, 99)),
            "cpu_share": {k: None if v is None else round(v / elapsed, 2) for k, v in cpu.items()},
            "load_average": machine.load_average()}


def slope_bytes(points: list[tuple[int, float]]) -> float | None:
    """Least-squares slope of RSS (MiB) over in-flight chats, in bytes per chat."""
    if len(points) < 2:
        return None
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    var = sum((x - mean_x) ** 2 for x, _ in points)
    if var == 0:
        return None
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / var * 2**20


def overload(server: GunicornServer, pid: int, rate: float, options: CapacityOptions, max_open: int,
             procs: dict[str, int]) -> dict[str, Any]:
    timeout = options.delay * 4 + 10

    async def send(conn: pyload.Connection) -> pyload.Sample:
        sample, _ = await pyload.timed(conn, "POST", SEND_PATH, {"message": MESSAGES[0]}, timeout=timeout)
        return sample

    async def work() -> list[pyload.Sample]:
        return await pyload.open_loop(server.port, rate, options.overload_seconds, send, max_open)

    cpu_before = machine.cpu_of(procs)
    started = time.monotonic()
    samples, sampler = asyncio.run(with_sampler(server.port, pid, work))
    elapsed = time.monotonic() - started
    cpu = machine.cpu_spent(cpu_before, machine.cpu_of(procs))
    # Goodput over the arrivals' window: chats that arrived in it and were answered 200.
    summary = stats.summarize(samples, options.overload_seconds)
    return {"offered_rps": round(rate, 2), **summary, "peak_in_flight": max(sampler.in_flight, default=None),
            "peak_rss_mib": round(max((r for _, r in sampler.rss), default=0) / 2**20, 1),
            "probe_p99_ms": stats.ms(stats.percentile(sampler.probe_latency, 99)),
            "cpu_share": {k: None if v is None else round(v / elapsed, 2) for k, v in cpu.items()},
            "load_average": machine.load_average()}


def run(options: CapacityOptions) -> dict[str, Any]:
    with Stack() as stack:
        mongo, redis = stack.mongo(), stack.redis()
        upstream = stack.upstream_process(options.delay)
        ceiling = max(options.steps)
        server = stack.service(mongo, redis, env={**service_env(upstream.base_url, ceiling * 4), **options.env})
        pid = worker_pid(server)
        procs = {"worker": pid, "mongo": mongo.pid, "redis": redis.pid, "upstream": upstream.pid}
        # Warm-up: imports, pools, indexes.
        capacity_step(server, pid, 10, CapacityOptions(delay=options.delay, cycles=1), procs)
        idle_rss = machine.rss_bytes(pid) or 0
        steps = []
        for clients in options.steps:
            step = capacity_step(server, pid, clients, options, procs)
            steps.append(step)
            if not step["held"]:
                break
        held = [s for s in steps if s["held"]]
        capacity = max((s["clients"] for s in held), default=0)
        peak_goodput = max((s["goodput_rps"] for s in held), default=0.0)
        points = [(s["peak_in_flight"] or s["clients"], s["peak_rss_mib"]) for s in held]
        per_chat = slope_bytes([(0, idle_rss / 2**20), *points])
        result: dict[str, Any] = {"options": {**options.__dict__, "steps": list(options.steps)},
                                  "idle_rss_mib": round(idle_rss / 2**20, 1), "steps": steps,
                                  "capacity": capacity, "peak_goodput_rps": peak_goodput,
                                  "bytes_per_chat": None if per_chat is None else round(per_chat)}
        server.stop()
        if capacity:
            shed_server = stack.service(mongo, redis, env={**service_env(upstream.base_url, capacity),
                                                           **options.env})
            shed_pid = worker_pid(shed_server)
            procs["worker"] = shed_pid
            rate = options.overload_factor * peak_goodput
            max_open = int(capacity * options.overload_factor * 2)
            result["overload"] = {"max_in_flight": capacity,
                                  **overload(shed_server, shed_pid, rate, options, max_open, procs)}
    return result


def print_table(data: dict[str, Any]) -> None:
    opts = data["options"]
    rows = [[s["clients"], s["peak_in_flight"], s["goodput_rps"], s["ok_latency_ms"]["p50"], s["ok_latency_ms"]["p99"],
             s["statuses"], s["peak_rss_mib"], s["cpu_share"].get("worker"), s["cpu_share"].get("mongo"),
             "yes" if s["held"] else "no"] for s in data["steps"]]
    print(results.table(
        f"Capacity of one worker, upstream delay {opts['delay']} s (idle RSS {data['idle_rss_mib']} MiB)",
        ["clients", "in flight", "goodput/s", "p50 ms", "p99 ms", "statuses", "peak RSS MiB", "worker CPU",
         "SecantusDB CPU", "held"], rows))
    per_chat = data["bytes_per_chat"]
    print(f"capacity {data['capacity']} chats in flight, peak goodput {data['peak_goodput_rps']}/s, "
          f"{'-' if per_chat is None else round(per_chat / 1024, 1)} KiB of worker RSS per held chat")
    o = data.get("overload")
    if o:
        print(results.table(
            f"Overload: MAX_IN_FLIGHT={o['max_in_flight']}, arrivals at {opts['overload_factor']}x peak goodput",
            ["offered/s", "goodput/s", "of peak", "statuses", "200 p99 ms", "503 p50 ms", "503 p99 ms", "probe p99 ms"],
            [[o["offered_rps"], o["goodput_rps"], stats.ratio(o["goodput_rps"], data["peak_goodput_rps"]),
              o["statuses"], o["ok_latency_ms"]["p99"], o["shed_latency_ms"]["p50"], o["shed_latency_ms"]["p99"],
              o["probe_p99_ms"]]]))
