"""Profiles under load: py-spy on the worker while wrk drives it, turned into CPU microseconds per request by
package, for the service and the floor side by side (health), or for the service alone (chat)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.benchmarks import machine, profiling, results, wrk
from tools.benchmarks.conversation import MESSAGES, SEND_PATH
from tools.benchmarks.servers import BenchStack, worker_pid
from tools.harness import REPO_ROOT, GunicornServer


def under_load(
    server: GunicornServer,
    pid: int,
    url_path: str,
    script: Path,
    out: Path,
    *,
    seconds: float = 8.0,
    connections: int = 32,
    inclusive: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Drive ``url_path`` with wrk (``script``, which reports its request count) while py-spy samples the worker
    for ``seconds`` in the middle of the load; the worker's CPU time per request is over wrk's whole run (from
    /proc), so a server without an access log (the floor) is measured the same way as the service."""
    cpu_from = machine.cpu_times(pid)
    load = subprocess.Popen(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{round(seconds) + 3}s",
            "-s",
            str(script),
            f"http://127.0.0.1:{server.port}{url_path}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(1.0)
        profiling.record(pid, seconds, out)
    finally:
        stdout, stderr = load.communicate(timeout=seconds + 30)
    cpu_to = machine.cpu_times(pid)
    answered = wrk.parse(stdout, stderr).requests
    summary = profiling.summarize(out, inclusive=inclusive)
    user_us = sys_us = 0.0
    if answered and cpu_from is not None and cpu_to is not None:
        user_us = (cpu_to[0] - cpu_from[0]) / answered * 1e6
        sys_us = (cpu_to[1] - cpu_from[1]) / answered * 1e6
    summary["answered"] = answered
    summary["cpu_us_per_request"] = round(user_us + sys_us, 1)
    summary["user_us_per_request"] = round(user_us, 1)
    summary["system_us_per_request"] = round(sys_us, 1)
    # The samples are of Python (user) time only, so their shares divide the user time.
    summary["us_by_package"] = profiling.per_request_us(summary, user_us, "self_by_package_pct")
    summary["us_inclusive"] = profiling.per_request_us(summary, user_us, "inclusive_pct")
    return summary


def compare(floor: dict[str, Any], service: dict[str, Any]) -> list[tuple[str, float, float, float]]:
    """(package, floor us, service us, difference) for every package, largest difference first."""
    names = set(floor["us_by_package"]) | set(service["us_by_package"])
    rows = [(n, floor["us_by_package"].get(n, 0.0), service["us_by_package"].get(n, 0.0)) for n in names]
    return sorted(((n, f, s, round(s - f, 1)) for n, f, s in rows), key=lambda r: -abs(r[3]))


# Frames whose inclusive time says where a request's CPU goes (substrings of "function (file)").
HEALTH_FRAMES = (
    "ProbeMiddleware.__call__",
    "RequestScopeMiddleware.__call__",
    "Flask.wsgi_app",
    "Flask.full_dispatch_request",
    "RequestMetrics.finished",
    "GunicornLogger.access",
    "Logger.handle",
    "AsyncWorker.handle_request",
    "Parser.__next__",
    "Response.write",
    "gunicorn/http/wsgi.py",
    "TravelAgentWorker.handle_request",
    "flask_smorest",
    "marshmallow",
    "Flask.preprocess_request",
)
HEALTH_PATHS = ("/health/live", "/health/ready", "/health")
PROBE_LOG = "service+probe log"
CHAT_FRAMES = (
    "RequestScopeMiddleware.__call__",
    "Flask.wsgi_app",
    "Logger.access",
    "flask_smorest",
    "webargs",
    "marshmallow",
    "ChatService.begin",
    "ChatService.finish",
    "ReplyPump",
    "offline.py",
    "pymongo",
    "bson",
    "redis",
    "ContextCache",
    "IdempotencyStore",
    "Logger._log",
)


@dataclass(frozen=True)
class ProfileOptions:
    seconds: float = 5.0
    connections: int = 16


def run(options: ProfileOptions) -> dict[str, Any]:
    if not (profiling.available() and wrk.available()):
        return {
            "skipped": "needs py-spy and wrk (pip install -r tools/benchmarks/requirements.txt; apt-get install wrk)"
        }
    out: dict[str, Any] = {"options": options.__dict__}
    with BenchStack() as stack:
        mongo, redis = stack.mongo(), stack.redis()
        out["layers_us"] = layers(mongo.uri, redis.url)
        servers = {
            "floor": stack.floor(),
            "service": stack.service(mongo, redis),
            PROBE_LOG: stack.service(mongo, redis, env={"ACCESS_LOG_PROBES": "true"}),
        }
        report = wrk.report_script(stack.root)
        for path in HEALTH_PATHS:
            slug = path.strip("/").replace("/", "-")
            # The probes logged (ACCESS_LOG_PROBES) only where it differs: /health is logged either way.
            names = [n for n in servers if n != PROBE_LOG or path != "/health"]
            sides = {
                name: under_load(
                    servers[name],
                    worker_pid(servers[name]),
                    path,
                    report,
                    stack.root / f"{name.replace(' ', '-')}-{slug}.txt",
                    seconds=options.seconds,
                    connections=options.connections,
                    inclusive=HEALTH_FRAMES,
                )
                for name in names
            }
            out[path] = {**sides, "by_package": compare(sides["floor"], sides["service"])}
        chat = wrk.chat_script(stack.root, SEND_PATH, MESSAGES)
        server = servers["service"]
        out[SEND_PATH] = under_load(
            server,
            worker_pid(server),
            SEND_PATH,
            chat,
            stack.root / "chat.txt",
            seconds=options.seconds,
            connections=options.connections,
            inclusive=CHAT_FRAMES,
        )
    return out


def layers(mongo_uri: str, redis_url: str) -> dict[str, dict[str, float]]:
    """tools.benchmarks.layers in its own (gevent-patched) process: CPU us per request of each layer, in-process."""
    out = subprocess.run(
        [sys.executable, "-m", "tools.benchmarks.layers", "--mongo", mongo_uri, "--redis", redis_url],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=300,
        check=True,
    )
    result: dict[str, dict[str, float]] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def print_table(data: dict[str, Any]) -> None:
    if "skipped" in data:
        print("profile skipped:", data["skipped"])
        return
    by_path = data["layers_us"]
    names = list(next(iter(by_path.values())))
    print(
        results.table(
            "CPU us per request of each layer, in-process (no socket, no gunicorn; min of 7 repeats)",
            ["layer", *by_path],
            [[name, *(by_path[path][name] for path in by_path)] for name in names],
        )
    )
    for path in HEALTH_PATHS:
        d = data[path]
        logged = f", logging probes {d[PROBE_LOG]['cpu_us_per_request']}" if PROBE_LOG in d else ""
        print(
            results.table(
                f"{path}: worker CPU us per request by package (self time; py-spy), floor "
                f"{d['floor']['cpu_us_per_request']} vs service {d['service']['cpu_us_per_request']}{logged}",
                ["package", "floor us", "service us", "difference"],
                d["by_package"][:10],
            )
        )
        sides = [side for side in ("floor", "service", PROBE_LOG) if side in d]
        print(
            results.table(
                f"{path}: inclusive us per request of frames of interest",
                ["frame", *sides],
                [[frame, *(d[side]["us_inclusive"].get(frame, 0.0) for side in sides)] for frame in HEALTH_FRAMES],
            )
        )
    chat = data[SEND_PATH]
    print(
        results.table(
            f"{SEND_PATH}: {chat['cpu_us_per_request']} us of worker CPU per request, by package",
            ["package", "us"],
            list(chat["us_by_package"].items())[:12],
        )
    )
    print(
        results.table(
            f"{SEND_PATH}: inclusive us per request of frames of interest",
            ["frame", "us"],
            sorted(chat["us_inclusive"].items(), key=lambda kv: -kv[1]),
        )
    )
    print(
        results.table(
            f"{SEND_PATH}: top functions (self %)", ["function", "%"], list(chat["self_by_function_pct"].items())
        )
    )
