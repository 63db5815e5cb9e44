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
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tools.benchmarks import machine, pyload, stats
from tools.benchmarks.conversation import MESSAGES, SEND_PATH
from tools.benchmarks.sampler import with_sampler
from tools.benchmarks.servers import BenchStack, worker_pid
from tools.harness import GunicornServer
from tools.harness.stats import ms, percentile


@dataclass(frozen=True)
class CapacityOptions:
    delay: float = 5.0
    steps: tuple[int, ...] = (50, 100, 150, 200, 300, 400, 600)
    cycles: float = 2.0  # each step measures this many upstream delays, after two of ramp-up
    slack: float = 1.0  # seconds a held chat may take beyond the upstream's delay
    overload_seconds: float = 20.0
    overload_factor: float = 2.0
    # The worker's own limit, apart from the database: this many chats held at once by a slower upstream,
    # started over one hold_delay so that the database sees a rate it keeps up with.
    hold_chats: int = 300
    hold_delay: float = 15.0
    env: dict[str, str] = field(default_factory=dict)


def service_env(upstream_url: str, max_in_flight: int) -> dict[str, str]:
    return {
        "AGENT_PROVIDER": "openai",
        "OPENAI_BASE_URL": upstream_url,
        "OPENAI_API_KEY": "bench",
        "OPENAI_MODEL": "bench-model",
        "MAX_IN_FLIGHT": str(max_in_flight),
        # Room for every held chat's connection plus the probes; the step, not this limit, is measured.
        "WORKER_CONNECTIONS": str(max_in_flight + 200),
    }


def _chat_client(timeout: float) -> pyload.Client:
    """One chat at a time, a new session each (the upstream's delay, not the history, is what is measured)."""

    async def run(conn: pyload.Connection, recorder: pyload.Recorder, until: float) -> None:
        turn = 0
        while time.monotonic() < until:
            sample, _ = await pyload.timed(
                conn, "POST", SEND_PATH, {"message": MESSAGES[turn % len(MESSAGES)]}, timeout=timeout
            )
            recorder.add(sample)
            turn += 1

    return run


def warnings_since(server: GunicornServer, offset: int) -> dict[str, int]:
    """WARNING and ERROR lines the service logged since ``offset``, counted by their text (numbers and ids
    blanked), so a step that degrades says how."""
    counts: Counter[str] = Counter()
    for line in server.log_text()[offset:].splitlines():
        for level in ("WARNING", "ERROR"):
            if level in line:
                text = line.split(level, 1)[1]
                counts[f"{level}{re.sub(r'[0-9a-f]{16,}|[0-9]+', 'N', text)[:140]}"] += 1
    return dict(counts.most_common(5))


def capacity_step(
    server: GunicornServer, pid: int, clients: int, options: CapacityOptions, procs: dict[str, int]
) -> dict[str, Any]:
    duration = options.delay * options.cycles
    log_offset = len(server.log_text())
    timeout = options.delay * 4 + 10
    cpu_before = machine.cpu_of(procs)

    async def work() -> pyload.Recorder:
        # Starts spread over one delay, then one more delay to settle, before the measured window.
        return await pyload.closed_loop(
            server.port, clients, _chat_client(timeout), duration, warmup=2 * options.delay + 0.5, stagger=options.delay
        )

    recorder, sampler = asyncio.run(with_sampler(server.port, pid, work))
    cpu = machine.cpu_spent(cpu_before, machine.cpu_of(procs))
    summary = stats.summarize(recorder.samples, duration)
    ok = summary["statuses"].get("200", 0)
    p99 = summary["ok_latency_ms"]["p99"]
    held = ok == summary["requests"] and ok > 0 and p99 is not None and p99 <= (options.delay + options.slack) * 1000
    elapsed = duration + 2 * options.delay + 0.5
    return {
        "clients": clients,
        **summary,
        "held": held,
        "peak_in_flight": max(sampler.in_flight, default=None),
        "peak_rss_mib": round(max((r for _, r in sampler.rss), default=0) / 2**20, 1),
        "probe_p99_ms": ms(percentile(sampler.probe_latency, 99)),
        "cpu_share": {k: None if v is None else round(v / elapsed, 2) for k, v in cpu.items()},
        "log_warnings": warnings_since(server, log_offset),
        "load_average": machine.load_average(),
    }


def warm_up(port: int, chats: int, delay: float) -> None:
    """A few chats at once: imports, pools, indexes and the upstream connections, before anything counts."""

    async def one() -> None:
        conn = pyload.Connection(port)
        try:
            await pyload.timed(conn, "POST", SEND_PATH, {"message": MESSAGES[0]}, timeout=delay * 4 + 10)
        finally:
            await conn.close()

    async def all_of_them() -> None:
        await asyncio.gather(*(one() for _ in range(chats)))

    asyncio.run(all_of_them())


def hold(stack: BenchStack, mongo: Any, redis: Any, options: CapacityOptions) -> dict[str, Any]:
    """``hold_chats`` chats in flight at once behind a ``hold_delay`` upstream: do they all succeed, and what
    does the worker's RSS grow by, per held chat?"""
    upstream = stack.upstream_process(options.hold_delay)
    server = stack.service(mongo, redis, env={**service_env(upstream.base_url, options.hold_chats * 2), **options.env})
    pid = worker_pid(server)
    warm_up(server.port, 20, options.hold_delay)
    idle = machine.rss_bytes(pid) or 0
    log_offset = len(server.log_text())
    cpu_before = machine.cpu_seconds(pid)
    timeout = options.hold_delay * 2 + 30

    async def one(index: int) -> pyload.Sample:
        await asyncio.sleep(options.hold_delay * index / options.hold_chats)
        conn = pyload.Connection(server.port)
        try:
            sample, _ = await pyload.timed(
                conn, "POST", SEND_PATH, {"message": MESSAGES[index % len(MESSAGES)]}, timeout=timeout
            )
            return sample
        finally:
            await conn.close()

    async def work() -> list[pyload.Sample]:
        return list(await asyncio.gather(*(one(i) for i in range(options.hold_chats))))

    samples, sampler = asyncio.run(with_sampler(server.port, pid, work, every=0.5))
    peak = max((r for _, r in sampler.rss), default=idle)
    peak_in_flight = max(sampler.in_flight, default=0)
    summary = stats.summarize(samples, options.hold_delay * 2)
    cpu_after = machine.cpu_seconds(pid)
    cpu_ms = None
    if cpu_before is not None and cpu_after is not None:
        cpu_ms = round((cpu_after - cpu_before) / len(samples) * 1e3, 2)
    warnings = warnings_since(server, log_offset)
    server.kill()  # done with it: no need to wait for its graceful shutdown
    upstream.stop()
    return {
        "chats": options.hold_chats,
        "delay_s": options.hold_delay,
        "statuses": summary["statuses"],
        "ok_latency_ms": summary["ok_latency_ms"],
        "peak_in_flight": peak_in_flight,
        "idle_rss_mib": round(idle / 2**20, 1),
        "peak_rss_mib": round(peak / 2**20, 1),
        "bytes_per_chat": round((peak - idle) / peak_in_flight) if peak_in_flight else None,
        "worker_cpu_ms_per_chat": cpu_ms,
        "log_warnings": warnings,
    }


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


def overload(
    server: GunicornServer, pid: int, rate: float, options: CapacityOptions, max_open: int, procs: dict[str, int]
) -> dict[str, Any]:
    timeout = options.delay * 4 + 10
    kinds: Counter[str] = Counter()
    shed_latency: list[float] = []
    dependency_latency: list[float] = []

    async def send(conn: pyload.Connection) -> pyload.Sample:
        sample, response = await pyload.timed(conn, "POST", SEND_PATH, {"message": MESSAGES[0]}, timeout=timeout)
        if response is not None and response.status == 503:
            # Shed by the admission cap (the middleware's "The service is busy"), or a dependency that did not
            # answer in time ("The database is busy", "A backing service is temporarily unavailable").
            shed = b"service is busy" in response.body
            kinds["503 shed" if shed else "503 dependency"] += 1
            (shed_latency if shed else dependency_latency).append(sample.latency)
        return sample

    async def work() -> list[pyload.Sample]:
        return await pyload.open_loop(server.port, rate, options.overload_seconds, send, max_open)

    cpu_before = machine.cpu_of(procs)
    log_offset = len(server.log_text())
    started = time.monotonic()
    samples, sampler = asyncio.run(with_sampler(server.port, pid, work))
    elapsed = time.monotonic() - started
    cpu = machine.cpu_spent(cpu_before, machine.cpu_of(procs))
    # Goodput over the arrivals' window: chats that arrived in it and were answered 200.
    summary = stats.summarize(samples, options.overload_seconds)
    return {
        "offered_rps": round(rate, 2),
        **summary,
        "kinds_of_503": dict(kinds),
        "shed_only_latency_ms": stats.latency_ms([pyload.Sample(0.0, x, 503) for x in shed_latency]),
        "dependency_503_latency_ms": stats.latency_ms([pyload.Sample(0.0, x, 503) for x in dependency_latency]),
        "peak_in_flight": max(sampler.in_flight, default=None),
        "peak_rss_mib": round(max((r for _, r in sampler.rss), default=0) / 2**20, 1),
        "probe_p99_ms": ms(percentile(sampler.probe_latency, 99)),
        "cpu_share": {k: None if v is None else round(v / elapsed, 2) for k, v in cpu.items()},
        "log_warnings": warnings_since(server, log_offset),
        "load_average": machine.load_average(),
    }


def run(options: CapacityOptions) -> dict[str, Any]:
    with BenchStack() as stack:
        mongo, redis = stack.mongo(), stack.redis()
        upstream = stack.upstream_process(options.delay)
        ceiling = max(options.steps)
        server = stack.service(mongo, redis, env={**service_env(upstream.base_url, ceiling * 4), **options.env})
        pid = worker_pid(server)
        procs = {"worker": pid, "mongo": mongo.pid, "redis": redis.pid, "upstream": upstream.pid}
        warm_up(server.port, 20, options.delay)
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
        result: dict[str, Any] = {
            "options": {**options.__dict__, "steps": list(options.steps)},
            "idle_rss_mib": round(idle_rss / 2**20, 1),
            "steps": steps,
            "capacity": capacity,
            "peak_goodput_rps": peak_goodput,
            "bytes_per_chat": None if per_chat is None else round(per_chat),
        }
        server.kill()  # done with it: no need to wait for its graceful shutdown
        result["hold"] = hold(stack, mongo, redis, options)  # also lets the database settle before overload
        if capacity:
            # Fresh servers: SecantusDB's cost per operation grows with the data the steps and the hold left,
            # and the overload must meet the database the capacity was measured against.
            mongo, redis = stack.mongo(), stack.redis()
            shed_server = stack.service(mongo, redis, env={**service_env(upstream.base_url, capacity), **options.env})
            warm_up(shed_server.port, 20, options.delay)
            shed_pid = worker_pid(shed_server)
            procs.update(worker=shed_pid, mongo=mongo.pid, redis=redis.pid)
            rate = options.overload_factor * peak_goodput
            max_open = int(capacity * options.overload_factor * 2)
            result["overload"] = {
                "max_in_flight": capacity,
                **overload(shed_server, shed_pid, rate, options, max_open, procs),
            }
    return result


def run_overload(rate: float, cap: int, options: CapacityOptions) -> dict[str, Any]:
    """Only the overload, on fresh servers: chats arriving at ``rate`` per second with MAX_IN_FLIGHT=``cap``
    (and gunicorn's WORKER_CONNECTIONS at its default of 1000), to compare caps at a given load."""
    with BenchStack() as stack:
        mongo, redis = stack.mongo(), stack.redis()
        upstream = stack.upstream_process(options.delay)
        server = stack.service(
            mongo, redis, env={**service_env(upstream.base_url, cap), "WORKER_CONNECTIONS": "1000", **options.env}
        )
        pid = worker_pid(server)
        warm_up(server.port, 20, options.delay)
        procs = {"worker": pid, "mongo": mongo.pid, "redis": redis.pid, "upstream": upstream.pid}
        result = overload(server, pid, rate, options, max_open=int(rate * (options.delay * 4 + 10)), procs=procs)
    return {"options": {**options.__dict__, "steps": list(options.steps)}, "max_in_flight": cap, **result}
