"""A soak: one worker under a steady mix of chat traffic for minutes, its RSS sampled every second.

The mix exercises every path that could hold on to memory: conversations of len(MESSAGES) turns, the session
read back, half of the sessions deleted, and now and then the error paths (a 404 for an unknown session, a
422 for an invalid body). Memory growth is measured after a warm-up (pools filled, caches and imports done):
the median RSS of the last ``window`` seconds against that of the first ``window`` seconds after warm-up.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from tools.benchmarks import machine, pyload, results, stats
from tools.benchmarks.conversation import MESSAGES, SEND_PATH
from tools.benchmarks.sampler import Sampler, with_sampler
from tools.benchmarks.servers import BenchStack, worker_pid
from tools.harness.stats import median, ms, percentile

# The target: worker memory growth under 5 % over the soak.
TARGET_GROWTH_PCT = 5.0


@dataclass(frozen=True)
class SoakOptions:
    minutes: float = 2.0
    clients: int = 8
    window: float = 30.0  # seconds of RSS samples whose median is the start and the end level

    @property
    def warmup(self) -> float:
        return min(60.0, self.minutes * 60 * 0.25)


def soak_client(counts: Counter[str]) -> pyload.Client:
    async def run(conn: pyload.Connection, recorder: pyload.Recorder, until: float) -> None:
        n = 0
        while time.monotonic() < until:
            n += 1
            session_id = None
            for message in MESSAGES:
                body: dict[str, Any] = {"message": message, **({"session_id": session_id} if session_id else {})}
                sample, response = await pyload.timed(conn, "POST", SEND_PATH, body, timeout=30.0)
                recorder.add(sample)
                counts[f"send {sample.status}"] += 1
                if response is None or response.status != 200:
                    break
                session_id = response.json()["session_id"]
            if session_id is None:
                continue
            sample, _ = await pyload.timed(conn, "GET", f"/api/chat/sessions/{session_id}", timeout=30.0)
            counts[f"get {sample.status}"] += 1
            if n % 2 == 0:
                sample, _ = await pyload.timed(conn, "DELETE", f"/api/chat/sessions/{session_id}", timeout=30.0)
                counts[f"delete {sample.status}"] += 1
            if n % 10 == 0:  # the error paths: an unknown session and an invalid body
                sample, _ = await pyload.timed(conn, "GET", "/api/chat/sessions/no-such-session", timeout=30.0)
                counts[f"get-unknown {sample.status}"] += 1
                sample, _ = await pyload.timed(conn, "POST", SEND_PATH, {"message": ""}, timeout=30.0)
                counts[f"send-invalid {sample.status}"] += 1

    return run


def analyse(rss: list[tuple[float, int]], started: float, options: SoakOptions) -> dict[str, Any]:
    """Growth after warm-up: the median of the last window against the median of the first window."""
    after = [(t - started, r) for t, r in rss if t - started >= options.warmup]
    if not after:
        return {"samples": 0}
    first_t, last_t = after[0][0], after[-1][0]
    start = [r for t, r in after if t <= first_t + options.window]
    end = [r for t, r in after if t >= last_t - options.window]
    start_level, end_level = median(start) or 0, median(end) or 0
    hours = (last_t - first_t) / 3600
    slope = _slope([(t, r / 2**20) for t, r in after])
    return {
        "samples": len(after),
        "warmup_s": options.warmup,
        "measured_s": round(last_t - first_t, 1),
        "start_rss_mib": round(start_level / 2**20, 2),
        "end_rss_mib": round(end_level / 2**20, 2),
        "max_rss_mib": round(max(r for _, r in after) / 2**20, 2),
        "growth_pct": round(100 * (end_level - start_level) / start_level, 2) if start_level else None,
        "slope_mib_per_hour": None if slope is None or not hours else round(slope * 3600, 2),
        "met": bool(start_level) and 100 * (end_level - start_level) / start_level < TARGET_GROWTH_PCT,
    }


def _slope(points: list[tuple[float, float]]) -> float | None:
    n = len(points)
    if n < 2:
        return None
    mx, my = sum(x for x, _ in points) / n, sum(y for _, y in points) / n
    var = sum((x - mx) ** 2 for x, _ in points)
    return None if var == 0 else sum((x - mx) * (y - my) for x, y in points) / var


def timeline(rss: list[tuple[float, int]], started: float, every: float = 60.0) -> list[list[float]]:
    """(seconds, RSS MiB) once per ``every`` seconds, for the table and the doc."""
    out: list[list[float]] = []
    next_at = 0.0
    for t, r in rss:
        if t - started >= next_at:
            out.append([round(t - started), round(r / 2**20, 1)])
            next_at += every
    return out


def run(options: SoakOptions) -> dict[str, Any]:
    duration = options.minutes * 60
    with BenchStack() as stack:
        mongo, redis = stack.mongo(), stack.redis()
        server = stack.service(mongo, redis)
        pid = worker_pid(server)
        counts: Counter[str] = Counter()
        procs = {"worker": pid, "mongo": mongo.pid, "redis": redis.pid}
        cpu_before = machine.cpu_of(procs)
        started = time.monotonic()

        async def work() -> pyload.Recorder:
            return await pyload.closed_loop(server.port, options.clients, soak_client(counts), duration, 0.0)

        recorder, sampler = asyncio.run(with_sampler(server.port, pid, work, every=1.0))
        assert isinstance(sampler, Sampler)
        elapsed = time.monotonic() - started
        cpu = machine.cpu_spent(cpu_before, machine.cpu_of(procs))
        mongo_rss = machine.rss_bytes(mongo.pid)
    summary = stats.summarize(recorder.samples, duration)
    return {
        "options": {**options.__dict__, "warmup": options.warmup},
        "requests": dict(sorted(counts.items())),
        "send": summary,
        "memory": analyse(sampler.rss, started, options),
        "timeline_mib": timeline(sampler.rss, started, every=max(10.0, duration / 10)),
        "cpu_share": {k: None if v is None else round(v / elapsed, 2) for k, v in cpu.items()},
        "secantusdb_rss_mib_at_end": None if mongo_rss is None else round(mongo_rss / 2**20, 1),
        "probe_p99_ms": ms(percentile(sampler.probe_latency, 99)),
    }


def print_table(data: dict[str, Any]) -> None:
    m, s = data["memory"], data["send"]
    print(
        results.table(
            f"Soak: {data['options']['minutes']} min, {data['options']['clients']} clients, one worker "
            f"(warm-up {m.get('warmup_s')} s excluded)",
            [
                "sends",
                "goodput/s",
                "send p99 ms",
                "RSS start MiB",
                "RSS end MiB",
                "RSS max MiB",
                "growth %",
                "MiB/hour",
                "target <5 %",
            ],
            [
                [
                    s["requests"],
                    s["goodput_rps"],
                    s["ok_latency_ms"]["p99"],
                    m.get("start_rss_mib"),
                    m.get("end_rss_mib"),
                    m.get("max_rss_mib"),
                    m.get("growth_pct"),
                    m.get("slope_mib_per_hour"),
                    "yes" if m.get("met") else "NO",
                ]
            ],
        )
    )
    print("requests by kind and status:", data["requests"])
    print("RSS over time (s, MiB):", data["timeline_mib"])
