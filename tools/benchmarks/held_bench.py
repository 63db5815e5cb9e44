"""Held chats: how many chats one worker keeps open behind a slow model, what each costs, and whether the
worker still answers its liveness probe meanwhile.

One worker (the service's defaults for MAX_IN_FLIGHT and WORKER_CONNECTIONS unless ``env`` says otherwise),
``AGENT_PROVIDER=openai`` against the harness's upstream as its own process, answering after ``delay`` s.
``chats`` chats are started at ``rate`` per second (SecantusDB stores each question as it arrives, and is
slow: the rate is what it keeps up with), each on its own connection, and held until the model answers.
Streams (``POST /api/chat/stream``) must see a heartbeat every CHAT_HEARTBEAT_SECONDS; plain sends
(``POST /api/chat/send``) just wait. Meanwhile a fresh connection asks ``GET /health/live`` every
``probe_every`` s, and the worker's VmRSS is read with each probe. The memory a held chat costs is the slope
of RSS over the worker's in-flight count while the chats ramp up, from ``warm`` held chats on (the first ones
pay for imports, pools and the upstream's first connections).
"""

from __future__ import annotations

import asyncio
import resource
import time
from dataclasses import dataclass, field
from typing import Any

from tools.benchmarks import machine, results
from tools.benchmarks.capacity_bench import slope_bytes, warnings_since
from tools.benchmarks.held_watch import Held, Probe, Tally, fd_count, get_json, hold_one, probe_loop, soft_nofile
from tools.benchmarks.servers import BASE_ENV, BenchStack, worker_pid
from tools.harness.stats import ms, percentile

PROFILE_APP = "tools.benchmarks.memory_profile_app:app"
# Beyond the model's delay, how long a held chat may take before the client gives up on it.
CLIENT_SLACK_SECONDS = 60.0


@dataclass(frozen=True)
class HeldOptions:
    chats: int = 2000
    # 2,000 chats held at once need them to arrive faster than 2,000 per delay: 25/s is what SecantusDB (in
    # Python, on a shared 2-core machine) stores without its pool's waits turning into 503s, hence 90 s.
    delay: float = 90.0
    rate: float = 25.0  # new chats per second
    kinds: tuple[str, ...] = ("stream", "send")
    heartbeat: float = 10.0  # CHAT_HEARTBEAT_SECONDS (the default)
    probe_every: float = 0.2
    warm: int = 100  # held chats before the RSS slope starts
    env: dict[str, str] = field(default_factory=dict)
    profile: bool = False  # the service wrapped in benchmarks.memory_profile_app: where the memory goes


def raise_fd_limit(needed: int) -> int:
    """This process holds one socket per chat: raise the soft limit of open files (up to the hard one)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        soft = want
    return soft


def service_env(upstream_url: str, options: HeldOptions) -> dict[str, str]:
    return {
        "AGENT_PROVIDER": "openai",
        "OPENAI_BASE_URL": upstream_url,
        "OPENAI_API_KEY": "bench",
        "OPENAI_MODEL": "bench-model",
        "CHAT_HEARTBEAT_SECONDS": str(options.heartbeat),
        # The chats must be held until the model answers, not cut at the budget: the question is stored
        # first (seconds, when SecantusDB is busy), then the model takes ``delay``.
        "CHAT_TIMEOUT_SECONDS": str(options.delay + 60),
        # Held chats log nothing per request but the access line; keep that, as production does.
        **options.env,
    }


def run_kind(stack: BenchStack, kind: str, options: HeldOptions) -> dict[str, Any]:
    mongo, redis = stack.mongo(), stack.redis()
    upstream = stack.upstream_process(options.delay)
    env = service_env(upstream.base_url, options)
    server = (
        stack.service(mongo, redis, env=env)
        if not options.profile
        else stack.gunicorn(app=PROFILE_APP, mongo_uri=mongo.uri, redis_url=redis.url, env={**BASE_ENV, **env})
    )
    pid = worker_pid(server)
    log_offset = len(server.log_text())
    idle_rss = machine.rss_bytes(pid) or 0
    timeout = options.delay + CLIENT_SLACK_SECONDS
    tally = Tally()
    peak_fds: list[int] = []
    profile: dict[str, Any] = {}

    async def work() -> tuple[list[Held], list[Probe], float, float]:
        stop = asyncio.Event()
        probes_task = asyncio.create_task(probe_loop(server.port, pid, options.probe_every, tally, stop))
        started = time.monotonic()
        tasks = []
        pace = started  # when chat 0 was due; chat i is due i / rate later
        for i in range(options.chats):
            if options.profile and i == options.warm:
                paused = time.monotonic()
                await asyncio.sleep(2.0)  # the warm chats are all waiting on the model
                profile["baseline"] = await get_json(server.port, "/_bench/memory")
                profile["in_flight_at_baseline"] = tally.open
                pace += time.monotonic() - paused
            await asyncio.sleep(max(0.0, pace + i / options.rate - time.monotonic()))
            tasks.append(asyncio.create_task(hold_one(server.port, kind, i, timeout, tally)))
        ramped = time.monotonic()
        if options.profile:
            profile["report"] = await get_json(server.port, "/_bench/memory")
            profile["in_flight_at_report"] = tally.open
        # All started: wait until the first answers, counting the worker's descriptors at the plateau.
        while tally.first_end is None and time.monotonic() < started + timeout:
            fds = fd_count(pid)
            if fds is not None:
                peak_fds.append(fds)
            await asyncio.sleep(0.5)
        held = await asyncio.gather(*tasks)
        stop.set()
        return list(held), await probes_task, started, ramped

    cpu_before = machine.cpu_seconds(pid)
    load_before = machine.load_average()
    held, probes, started, ramped = asyncio.run(work())
    cpu_after = machine.cpu_seconds(pid)
    first_end = min((h.ended for h in held if h.status == 200), default=ramped)
    plateau_rss = [p.rss for p in probes if p.rss is not None and ramped <= p.at <= first_end]
    peak_in_flight = max((p.in_flight for p in probes if p.in_flight is not None and p.at <= first_end), default=0)
    # RSS over in-flight while the chats ramp up (none has ended yet), past the warm-up.
    points = [
        (p.in_flight, p.rss / 2**20)
        for p in probes
        if p.in_flight is not None and p.rss is not None and p.at <= first_end and p.in_flight >= options.warm
    ]
    slope = slope_bytes(points)
    warm_point = min(points, default=None)
    rss_peak = max(plateau_rss, default=0)
    simple = None
    if warm_point is not None and peak_in_flight > warm_point[0]:
        simple = (rss_peak - warm_point[1] * 2**20) / (peak_in_flight - warm_point[0])
    statuses: dict[str, int] = {}
    outcomes: dict[str, int] = {}
    for h in held:
        statuses[str(h.status)] = statuses.get(str(h.status), 0) + 1
        if kind == "stream":
            outcomes[h.outcome or "none"] = outcomes.get(h.outcome or "none", 0) + 1
    holding = [p for p in probes if started <= p.at <= first_end]
    lat = [p.latency for p in holding if p.latency is not None]
    # Only heartbeats to send: every chat started, none answered yet.
    plateau = [p.latency for p in holding if p.at >= ramped and p.latency is not None]
    latencies = sorted(h.ended - h.started for h in held if h.status == 200)
    gaps = [h.max_gap for h in held if h.status == 200]
    result = {
        "kind": kind,
        "chats": options.chats,
        "delay_s": options.delay,
        "rate": options.rate,
        "ramp_s": round(ramped - started, 1),
        "statuses": statuses,
        "stream_outcomes": outcomes,
        "latency_s": {"p50": _round(percentile(latencies, 50)), "max": _round(max(latencies, default=None))},
        "peak_in_flight": peak_in_flight,
        "idle_rss_mib": round(idle_rss / 2**20, 1),
        "warm_point": None if warm_point is None else [warm_point[0], round(warm_point[1], 1)],
        "peak_rss_mib": round(rss_peak / 2**20, 1),
        "kib_per_chat_slope": None if slope is None else round(slope / 1024, 1),
        "kib_per_chat_warm_to_peak": None if simple is None else round(simple / 1024, 1),
        "heartbeats_per_stream": (round(sum(h.heartbeats for h in held) / len(held), 1) if kind == "stream" else None),
        "max_silence_s": _round(max(gaps, default=None)) if kind == "stream" else None,
        "probe": {
            "count": len(holding),
            "failed": len(holding) - len(lat),
            "p50_ms": ms(percentile(lat, 50)),
            "p99_ms": ms(percentile(lat, 99)),
            "max_ms": ms(max(lat, default=None)),
            "plateau": {
                "count": len(plateau),
                "p50_ms": ms(percentile(plateau, 50)),
                "p99_ms": ms(percentile(plateau, 99)),
                "max_ms": ms(max(plateau, default=None)),
            },
        },
        "worker_fds_peak": max(peak_fds, default=None),
        "worker_nofile_soft": soft_nofile(pid),
        "worker_cpu_ms_per_chat": (
            None if cpu_before is None or cpu_after is None else round((cpu_after - cpu_before) / len(held) * 1e3, 2)
        ),
        "load_average": [load_before, machine.load_average()],
        "log_warnings": warnings_since(server, log_offset),
    }
    if profile:
        result["profile"] = profile
    server.kill()
    upstream.stop()
    return result


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def run(options: HeldOptions) -> dict[str, Any]:
    # Our own sockets: one per chat, one per probe, a margin for asyncio's own.
    client_limit = raise_fd_limit(options.chats + 256)
    out: dict[str, Any] = {
        "options": {**options.__dict__, "kinds": list(options.kinds)},
        "client_nofile_soft": client_limit,
        "runs": [],
    }
    for kind in options.kinds:
        # Fresh servers per kind: SecantusDB slows as it holds more data.
        with BenchStack() as stack:
            out["runs"].append(run_kind(stack, kind, options))
    return out


def print_table(data: dict[str, Any]) -> None:
    o = data["options"]
    rows = [
        [
            r["kind"],
            r["chats"],
            r["peak_in_flight"],
            r["statuses"],
            r["stream_outcomes"] or "-",
            r["max_silence_s"] if r["max_silence_s"] is not None else "-",
            r["idle_rss_mib"],
            r["warm_point"],
            r["peak_rss_mib"],
            r["kib_per_chat_slope"],
            r["kib_per_chat_warm_to_peak"],
            r["probe"]["p99_ms"],
            r["probe"]["max_ms"],
            r["probe"]["plateau"]["p99_ms"],
            r["worker_fds_peak"],
            r["worker_cpu_ms_per_chat"],
            r["load_average"],
        ]
        for r in data["runs"]
    ]
    print(
        results.table(
            f"Held chats: one worker, upstream delay {o['delay']} s, {o['rate']} new chats/s, "
            f"heartbeat {o['heartbeat']} s",
            [
                "kind",
                "chats",
                "peak in flight",
                "statuses",
                "stream ends",
                "max silence s",
                "idle RSS MiB",
                "warm (in flight, MiB)",
                "peak RSS MiB",
                "KiB/chat slope",
                "KiB/chat warm→peak",
                "live p99 ms",
                "live max ms",
                "live p99 ms, all held",
                "worker fds",
                "CPU ms/chat",
                "load",
            ],
            rows,
        )
    )
