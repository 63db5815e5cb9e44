"""Connection exhaustion: idle keep-alive and slowloris connections against the service, and how long a fresh
client then waits for ``/health/live`` and for a chat.

``python -m tools.benchmarks.conn_exhaustion [--workers 2] [--worker-connections N] [--idle 1500]
[--slowloris 3000] [--seconds 30] [--env NAME=VALUE ...]`` starts SecantusDB, redis-server and the service
(the offline agent) on loopback, runs the attack from a child process (so its CPU does not share the probe's
GIL), and after a warm-up probes with fresh connections: ``GET /health/live`` every 0.25 s and
``POST /api/chat/send`` every second. It prints the latency percentiles and writes
tools/results/benchmarks/conn_exhaustion-<UTC time>.json. Bounded: the connection counts are capped below the
file-descriptor limit and every phase has a deadline.

The attacker keeps its counts up for the whole run: an idle keep-alive connection sends one request, reads the
answer and then waits; a slowloris connection sends a request line and then one header line a second, never
finishing the head. Either kind reconnects as soon as the server closes it, as a real attacker would.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import socket
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tools.benchmarks import machine, results
from tools.benchmarks.servers import BenchStack
from tools.harness import REPO_ROOT
from travel_agent.config import Settings

WARMUP_SECONDS = 5.0
PROBE_TIMEOUT = 15.0


# -- the attacker (a child process) --------------------------------------------------------------------------


@dataclass
class AttackCounts:
    connects: int = 0
    refused: int = 0
    closed_by_server: int = 0
    open_now: int = 0
    open_samples: list[int] = field(default_factory=list)


async def _idle_keepalive(port: int, deadline: float, counts: AttackCounts) -> None:
    request = b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    while time.monotonic() < deadline:
        writer = None
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            counts.connects += 1
            counts.open_now += 1
            try:
                writer.write(request)
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), deadline - time.monotonic())
                length = next(
                    (
                        int(line.split(b":", 1)[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ),
                    0,
                )
                await asyncio.wait_for(reader.readexactly(length), deadline - time.monotonic())
                # Idle until the server gives up on us (or the run ends).
                await asyncio.wait_for(reader.read(1), deadline - time.monotonic())
                counts.closed_by_server += 1
            finally:
                counts.open_now -= 1
        except TimeoutError:
            pass
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            counts.refused += 1
            await asyncio.sleep(0.05)
        finally:
            if writer is not None:
                writer.close()


async def _slowloris(port: int, deadline: float, counts: AttackCounts, number: int) -> None:
    while time.monotonic() < deadline:
        writer = None
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            counts.connects += 1
            counts.open_now += 1
            try:
                writer.write(b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                line = 0
                while time.monotonic() < deadline:
                    try:
                        data = await asyncio.wait_for(reader.read(1024), min(1.0, deadline - time.monotonic()))
                    except TimeoutError:
                        line += 1
                        writer.write(b"X-Slow-%d: %d\r\n" % (number, line))
                        continue
                    # EOF, or an error answer: either way the server ended this connection.
                    del data
                    counts.closed_by_server += 1
                    break
            finally:
                counts.open_now -= 1
        except OSError:
            counts.refused += 1
            await asyncio.sleep(0.05)
        finally:
            if writer is not None:
                writer.close()


async def _attack(port: int, idle: int, slowloris: int, seconds: float) -> AttackCounts:
    counts = AttackCounts()
    deadline = time.monotonic() + seconds
    tasks = [asyncio.create_task(_idle_keepalive(port, deadline, counts)) for _ in range(idle)]
    tasks += [asyncio.create_task(_slowloris(port, deadline, counts, n)) for n in range(slowloris)]
    while time.monotonic() < deadline:
        await asyncio.sleep(1.0)
        counts.open_samples.append(counts.open_now)
    await asyncio.wait(tasks, timeout=5.0)
    for task in tasks:
        task.cancel()
    return counts


def attack_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="conn_exhaustion attack")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--idle", type=int, required=True)
    parser.add_argument("--slowloris", type=int, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    args = parser.parse_args(argv)
    counts = asyncio.run(_attack(args.port, args.idle, args.slowloris, args.seconds))
    print(json.dumps(asdict(counts)), flush=True)
    return 0


# -- the probe (this process) --------------------------------------------------------------------------------


def _fresh_request(port: int, request: bytes) -> tuple[float, int | None]:
    """A new connection, one request, the whole answer read: (seconds, status or None on failure)."""
    started = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=PROBE_TIMEOUT) as sock:
            sock.sendall(request)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = sock.recv(65536)
                if not chunk:
                    return time.monotonic() - started, None
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            length = next(
                (
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                ),
                0,
            )
            while len(body) < length:
                chunk = sock.recv(65536)
                if not chunk:
                    return time.monotonic() - started, None
                body += chunk
            return time.monotonic() - started, int(head.split(b" ", 2)[1])
    except OSError:
        return time.monotonic() - started, None


def _probe_loop(port: int, request: bytes, interval: float, until: float, out: list[tuple[float, int | None]]) -> None:
    """One fresh client every ``interval`` seconds, whether or not the previous one got its answer (a slow
    answer must not thin out the samples)."""
    probes: list[threading.Thread] = []
    next_at = time.monotonic()
    while next_at < until:
        probe = threading.Thread(target=lambda: out.append(_fresh_request(port, request)), daemon=True)
        probe.start()
        probes.append(probe)
        next_at += interval
        time.sleep(max(0.0, next_at - time.monotonic()))
    for probe in probes:
        probe.join(PROBE_TIMEOUT + 1)


def _percentiles(samples: list[tuple[float, int | None]]) -> dict[str, Any]:
    times = sorted(seconds for seconds, _ in samples)
    if not times:
        return {"count": 0}

    def pick(q: float) -> float:
        return round(times[min(len(times) - 1, int(q * len(times)))], 3)

    statuses: dict[str, int] = {}
    for _, status in samples:
        key = str(status) if status is not None else "failed"
        statuses[key] = statuses.get(key, 0) + 1
    return {
        "count": len(times),
        "p50": pick(0.50),
        "p90": pick(0.90),
        "p99": pick(0.99),
        "max": round(times[-1], 3),
        "statuses": statuses,
    }


def _rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _listen_drops() -> dict[str, int]:
    """The kernel's count of connections it could not queue for accept (a full listen queue): the client's
    SYN is then dropped and retried after 1 s, 3 s, 7 s..., which is what a fresh client's wait is made of."""
    lines = Path("/proc/net/netstat").read_text().splitlines()
    for names, values in zip(lines[::2], lines[1::2], strict=False):
        if names.startswith("TcpExt:"):
            table = dict(zip(names.split()[1:], (int(v) for v in values.split()[1:]), strict=False))
            return {"ListenOverflows": table.get("ListenOverflows", 0), "ListenDrops": table.get("ListenDrops", 0)}
    return {}


@dataclass
class Options:
    workers: int = 2
    worker_connections: int = Settings().worker_connections  # the service's default unless told otherwise
    idle: int = 1500
    slowloris: int = 3000
    seconds: float = 30.0
    env: dict[str, str] = field(default_factory=dict)


def run(options: Options) -> dict[str, Any]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = options.idle + options.slowloris + 200
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, wanted), hard))
        soft = min(hard, wanted)
    if soft < wanted:
        raise SystemExit(f"conn_exhaustion: {wanted} file descriptors needed, the limit is {soft}")
    env = {
        "WORKER_CONNECTIONS": str(options.worker_connections),
        "AGENT_PROVIDER": "offline",
        "LOG_LEVEL": "warning",
        **options.env,
    }
    with BenchStack() as stack:
        mongo, redis = stack.mongo(), stack.redis()
        server = stack.service(mongo, redis, workers=options.workers, env=env)
        pids = server.wait_for_workers(options.workers)
        port = server.port
        idle_rss = {pid: _rss_kib(pid) for pid in pids}
        attacker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tools.benchmarks.conn_exhaustion",
                "attack",
                "--port",
                str(port),
                "--idle",
                str(options.idle),
                "--slowloris",
                str(options.slowloris),
                "--seconds",
                str(options.seconds + WARMUP_SECONDS),
            ],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            time.sleep(WARMUP_SECONDS)
            until = time.monotonic() + options.seconds
            live: list[tuple[float, int | None]] = []
            chats: list[tuple[float, int | None]] = []
            body = b'{"message": "A weekend in Lisbon?"}'
            chat_request = (
                b"POST /api/chat/send HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
            )
            live_request = b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
            threads = [
                threading.Thread(target=_probe_loop, args=(port, live_request, 0.25, until, live)),
                threading.Thread(target=_probe_loop, args=(port, chat_request, 1.0, until, chats)),
            ]
            for thread in threads:
                thread.start()
            peak_rss: dict[int, int | None] = dict(idle_rss)
            drops_before = _listen_drops()
            cpu_before = machine.cpu_of({str(pid): pid for pid in pids} | {"attacker": attacker.pid})
            while time.monotonic() < until:
                time.sleep(1.0)
                for pid in pids:
                    rss = _rss_kib(pid)
                    if rss is not None and (peak_rss.get(pid) or 0) < rss:
                        peak_rss[pid] = rss
            drops_after = _listen_drops()
            cpu_after = machine.cpu_of({str(pid): pid for pid in pids} | {"attacker": attacker.pid})
            for thread in threads:
                thread.join(PROBE_TIMEOUT + 5)
            out, _ = attacker.communicate(timeout=options.seconds + WARMUP_SECONDS + 30)
        finally:
            if attacker.poll() is None:
                attacker.kill()
                attacker.wait()
        counts = json.loads(out.strip().splitlines()[-1]) if out.strip() else {}
        samples = counts.pop("open_samples", [])
        return {
            "machine": machine.describe(),
            "command": "python -m tools.benchmarks.conn_exhaustion " + " ".join(sys.argv[1:]),
            "options": asdict(options),
            "health_live": _percentiles(live),
            "chat_send": _percentiles(chats),
            "attack": {
                **counts,
                "open_median": sorted(samples)[len(samples) // 2] if samples else None,
                "open_max": max(samples) if samples else None,
            },
            "worker_rss_kib": {"before": list(idle_rss.values()), "peak": list(peak_rss.values())},
            # CPU seconds per second of the measured window: 1.0 is one core kept busy.
            "cpu_share": {
                name: None if spent is None else round(spent / options.seconds, 2)
                for name, spent in machine.cpu_spent(cpu_before, cpu_after).items()
            },
            "load_average_after": machine.load_average(),
            # Machine-wide counters (other programs' listeners included), over the measured window.
            "listen_drops": {name: drops_after.get(name, 0) - value for name, value in drops_before.items()},
        }


def print_table(result: dict[str, Any]) -> None:
    options = result["options"]
    print(
        f"workers={options['workers']} WORKER_CONNECTIONS={options['worker_connections']} "
        f"idle={options['idle']} slowloris={options['slowloris']} env={options['env']}"
    )
    for name in ("health_live", "chat_send"):
        row = result[name]
        print(
            f"  {name:12} n={row.get('count')} p50={row.get('p50')} p90={row.get('p90')} p99={row.get('p99')} "
            f"max={row.get('max')} statuses={row.get('statuses')}"
        )
    print(f"  attack: {result['attack']}")
    print(f"  worker RSS KiB: {result['worker_rss_kib']}")
    print(f"  CPU share: {result['cpu_share']}  load average after: {result['load_average_after']}")
    print(f"  listen queue drops: {result['listen_drops']}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["attack"]:
        return attack_main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m tools.benchmarks.conn_exhaustion")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-connections", type=int, default=Options.worker_connections)
    parser.add_argument("--idle", type=int, default=1500)
    parser.add_argument("--slowloris", type=int, default=3000)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting for the service, e.g. REQUEST_HEAD_TIMEOUT_SECONDS=2",
    )
    args = parser.parse_args(argv)
    if args.idle + args.slowloris > 10000 or args.seconds > 600:
        parser.error("bounded: at most 10,000 connections and 600 s")
    options = Options(
        workers=args.workers,
        worker_connections=args.worker_connections,
        idle=args.idle,
        slowloris=args.slowloris,
        seconds=args.seconds,
        env=dict(item.split("=", 1) for item in args.env),
    )
    result = run(options)
    print_table(result)
    path = results.write("conn_exhaustion", result)
    print(f"written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
