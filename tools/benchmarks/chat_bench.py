"""``POST /api/chat/send`` (offline agent) against its floor: the same MongoDB and Redis operations issued
directly by benchmarks.chat_floor at the same concurrency, interleaved runs, plus a check that both really
issue the same operations (the servers' own operation counters, per turn)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any

from tools.benchmarks import machine, pyload, results, stats, wrk
from tools.benchmarks.conversation import MESSAGES, SEND_PATH
from tools.benchmarks.servers import BenchStack, worker_pid
from tools.harness import REPO_ROOT, MongoServer, RedisServer
from tools.harness.stats import median

FLOOR_DB = "travel_agent_floor"
OP_CHECK_CONVERSATIONS = 10


@dataclass(frozen=True)
class ChatOptions:
    runs: int = 5
    duration: float = 5.0
    connections: int = 16
    prefer_wrk: bool = True
    env: dict[str, str] = field(default_factory=dict)  # the service's extra settings, e.g. CHAT_HISTORY_MESSAGES=20


def floor_command(mongo: MongoServer, redis: RedisServer, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "tools.benchmarks.chat_floor",
        "--mongo",
        mongo.uri + FLOOR_DB,
        "--redis",
        redis.url,
        *extra,
    ]


def backends(mongo: MongoServer, redis: RedisServer) -> dict[str, int]:
    return {"mongo": mongo.pid, "redis": redis.pid}


def _per_request_us(spent: dict[str, float | None], requests: int) -> dict[str, float | None]:
    return {
        name: None if cpu is None or not requests else round(cpu / requests * 1e6, 1) for name, cpu in spent.items()
    }


def run_floor(
    mongo: MongoServer, redis: RedisServer, connections: int, duration: float, warmup: float = 1.0
) -> dict[str, Any]:
    cpu_before = machine.cpu_of(backends(mongo, redis))
    argv = floor_command(
        mongo, redis, "--concurrency", str(connections), "--duration", str(duration), "--warmup", str(warmup)
    )
    out = subprocess.run(argv, capture_output=True, text=True, cwd=REPO_ROOT, timeout=duration + warmup + 120)
    if out.returncode != 0:
        raise RuntimeError(f"chat floor failed:\n{out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    # The servers' CPU over the whole run (warm-up included), per turn run in it.
    result["backend_cpu_us_per_request"] = _per_request_us(
        machine.cpu_spent(cpu_before, machine.cpu_of(backends(mongo, redis))), result["all_turns"]
    )
    result["load_average"] = machine.load_average()
    return result


async def _conversation(conn: pyload.Connection) -> list[pyload.Sample]:
    samples: list[pyload.Sample] = []
    session_id = None
    for message in MESSAGES:
        body: dict[str, Any] = {"message": message}
        if session_id:
            body["session_id"] = session_id
        sample, response = await pyload.timed(conn, "POST", SEND_PATH, body, timeout=30.0)
        samples.append(sample)
        if response is None or response.status != 200:
            return samples
        session_id = response.json()["session_id"]
    return samples


def python_client() -> pyload.Client:
    """Conversations of len(MESSAGES) turns back to back (the stand-in for wrk's chat script)."""

    async def run(conn: pyload.Connection, recorder: pyload.Recorder, until: float) -> None:
        import time

        while time.monotonic() < until:
            for sample in await _conversation(conn):
                recorder.add(sample)

    return run


def run_service(
    stack: BenchStack,
    port: int,
    pid: int,
    connections: int,
    duration: float,
    use_wrk: bool,
    servers: dict[str, int] | None = None,
) -> dict[str, Any]:
    cpu_before = machine.cpu_seconds(pid)
    backend_before = machine.cpu_of(servers or {})
    if use_wrk:
        script = wrk.chat_script(stack.root, SEND_PATH, MESSAGES)
        result = wrk.run(
            f"http://127.0.0.1:{port}{SEND_PATH}", connections=connections, duration=duration, script=script, timeout=30
        ).as_dict()
    else:
        recorder = asyncio.run(pyload.closed_loop(port, connections, python_client(), duration, warmup=0.0))
        summary = stats.summarize(recorder.samples, duration)
        ok = summary["statuses"].get("200", 0)
        result = {
            "requests": summary["requests"],
            "duration_s": duration,
            "rps": round(ok / duration, 1),
            "non_2xx": summary["requests"] - ok,
            "latency_ms": summary["ok_latency_ms"],
        }
    cpu_after = machine.cpu_seconds(pid)
    if cpu_before is not None and cpu_after is not None and result["requests"]:
        result["worker_cpu_us_per_request"] = round((cpu_after - cpu_before) / result["requests"] * 1e6, 1)
    result["backend_cpu_us_per_request"] = _per_request_us(
        machine.cpu_spent(backend_before, machine.cpu_of(servers or {})), result["requests"]
    )
    result["load_average"] = machine.load_average()
    return result


def operation_counts(mongo: MongoServer, redis: RedisServer) -> dict[str, int]:
    """MongoDB's opcounters and Redis's per-command call counts, server side. MongoDB counts an aggregation
    under "command", with every other command (the drivers' handshakes and monitoring, this serverStatus)."""
    status = mongo.client().admin.command("serverStatus")
    counts = {f"mongo.{k}": int(v) for k, v in status["opcounters"].items()}
    for name, value in redis.client().info("commandstats").items():
        if name in ("cmdstat_get", "cmdstat_set", "cmdstat_del", "cmdstat_setex"):
            counts["redis." + name.removeprefix("cmdstat_")] = int(value["calls"])
    return counts


def per_turn(before: dict[str, int], after: dict[str, int], turns: int) -> dict[str, float]:
    return {k: round((after.get(k, 0) - before.get(k, 0)) / turns, 2) for k in sorted(set(before) | set(after))}


def check_operations(stack: BenchStack, mongo: MongoServer, redis: RedisServer, port: int) -> dict[str, Any]:
    """The operations per turn of the service and of the floor, each counted by the servers themselves."""
    turns = OP_CHECK_CONVERSATIONS * len(MESSAGES)

    async def service_conversations() -> None:
        conn = pyload.Connection(port)
        try:
            for _ in range(OP_CHECK_CONVERSATIONS):
                samples = await _conversation(conn)
                if any(s.status != 200 for s in samples):
                    raise RuntimeError(f"chat answered {[s.status for s in samples]}")
        finally:
            await conn.close()

    before = operation_counts(mongo, redis)
    asyncio.run(service_conversations())
    middle = operation_counts(mongo, redis)
    subprocess.run(
        floor_command(mongo, redis, "--conversations", str(OP_CHECK_CONVERSATIONS)),
        check=True,
        capture_output=True,
        cwd=REPO_ROOT,
        timeout=120,
    )
    after = operation_counts(mongo, redis)
    service, floor = per_turn(before, middle, turns), per_turn(middle, after, turns)
    return {"service_per_turn": service, "floor_per_turn": floor, "same": _same(service, floor)}


def _same(service: dict[str, float], floor: dict[str, float]) -> bool:
    """Equal per turn; "command" within half a command, as it also counts each side's driver upkeep (the floor's
    fresh process adds its handshakes, index check and session cleanup: a few tenths per turn)."""
    if abs(service.get("mongo.command", 0) - floor.get("mongo.command", 0)) >= 0.5:
        return False
    return {k: v for k, v in service.items() if k != "mongo.command"} == {
        k: v for k, v in floor.items() if k != "mongo.command"
    }


def run(options: ChatOptions) -> dict[str, Any]:
    use_wrk = options.prefer_wrk and wrk.available()
    with BenchStack() as stack:
        mongo, redis = stack.mongo(), stack.redis()
        service = stack.service(mongo, redis, env=options.env)
        ops = check_operations(stack, mongo, redis, service.port)
        for server in (service, mongo, redis):
            server.kill()
        runs: list[dict[str, Any]] = []
        for i in range(options.runs):
            order = ["floor", "service"] if i % 2 == 0 else ["service", "floor"]
            pair: dict[str, dict[str, Any]] = {}
            for side in order:
                # Fresh servers for every measurement: SecantusDB's cost per operation grows with all the data
                # it holds (whichever side ran second in a pair on one server was the slower, by up to 40 %).
                mongo, redis = stack.mongo(), stack.redis()
                if side == "floor":
                    pair[side] = run_floor(mongo, redis, options.connections, options.duration)
                else:
                    service = stack.service(mongo, redis, env=options.env)
                    pid = worker_pid(service)
                    run_service(stack, service.port, pid, options.connections, 1.0, use_wrk)  # warm-up
                    pair[side] = run_service(
                        stack, service.port, pid, options.connections, options.duration, use_wrk, backends(mongo, redis)
                    )
                    service.kill()
                mongo.kill()
                redis.kill()
            runs.append({"run": i + 1, **pair, "ratio": stats.ratio(pair["service"]["rps"], pair["floor"]["rps"])})
    tool = wrk.version() if use_wrk else "python-asyncio"
    summary = {
        "floor_rps": median(r["floor"]["rps"] for r in runs),
        "service_rps": median(r["service"]["rps"] for r in runs),
        "ratio": median(r["ratio"] for r in runs),
        # Worker CPU per turn over the floor's, each pair's (neighbours share the machine's state of the moment).
        "cpu_ratio": median(r["service"]["worker_cpu_us_per_request"] / r["floor"]["cpu_us_per_request"] for r in runs),
        "floor_p50_ms": median(r["floor"]["latency_ms"]["p50"] for r in runs),
        "service_p50_ms": median(r["service"]["latency_ms"]["p50"] for r in runs),
        "floor_cpu_us": median(r["floor"].get("cpu_us_per_request") for r in runs),
        "service_cpu_us": median(r["service"].get("worker_cpu_us_per_request") for r in runs),
        "service_non_2xx": sum(r["service"]["non_2xx"] for r in runs),
        "floor_mongo_cpu_us": median(r["floor"]["backend_cpu_us_per_request"]["mongo"] for r in runs),
        "service_mongo_cpu_us": median(r["service"]["backend_cpu_us_per_request"]["mongo"] for r in runs),
        "same_operations": ops["same"],
    }
    return {"tool": tool, "options": options.__dict__, "operations": ops, "runs": runs, "summary": summary}


def print_table(data: dict[str, Any]) -> None:
    s = data["summary"]
    print(
        results.table(
            f"POST /api/chat/send (offline agent) vs the same MongoDB+Redis operations issued directly "
            f"(medians of {data['options']['runs']} runs, {data['options']['connections']} concurrent, {data['tool']})",
            ["side", "turns/s", "ratio", "own CPU us/turn", "CPU ratio", "SecantusDB CPU us/turn", "p50 ms", "non-2xx"],
            [
                [
                    "floor (script)",
                    s["floor_rps"],
                    None,
                    s["floor_cpu_us"],
                    None,
                    s["floor_mongo_cpu_us"],
                    s["floor_p50_ms"],
                    None,
                ],
                [
                    "service (worker)",
                    s["service_rps"],
                    s["ratio"],
                    s["service_cpu_us"],
                    s["cpu_ratio"],
                    s["service_mongo_cpu_us"],
                    s["service_p50_ms"],
                    s["service_non_2xx"],
                ],
            ],
        )
    )
    ops = data["operations"]
    names = sorted(set(ops["service_per_turn"]) | set(ops["floor_per_turn"]))
    same = "the same" if s["same_operations"] else "NOT the same"
    rows = [[n, ops["service_per_turn"].get(n), ops["floor_per_turn"].get(n)] for n in names]
    print(
        results.table(
            f"Operations per turn, counted by MongoDB and Redis ({same})", ["operation", "service", "floor"], rows
        )
    )
