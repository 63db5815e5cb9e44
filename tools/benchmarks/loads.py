"""One throughput measurement of a GET path, with wrk when it is installed, else with the Python client."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.benchmarks import machine, pyload, stats, wrk


@dataclass(frozen=True)
class Tool:
    """The load generator of a run: wrk (preferred) or the Python client."""

    name: str
    script_dir: Path

    @classmethod
    def pick(cls, script_dir: Path, prefer_wrk: bool = True) -> Tool:
        if prefer_wrk and wrk.available():
            return cls(wrk.version(), script_dir)
        return cls("python-asyncio", script_dir)

    @property
    def is_wrk(self) -> bool:
        return self.name.startswith("wrk")


def measure_get(
    tool: Tool, port: int, path: str, connections: int, duration: float, worker_pid: int | None = None
) -> dict[str, Any]:
    """Requests per second, latency and errors of ``GET path``, plus the worker's CPU time per request."""
    cpu_before = machine.cpu_seconds(worker_pid) if worker_pid else None
    if tool.is_wrk:
        result = wrk.run(
            f"http://127.0.0.1:{port}{path}",
            connections=connections,
            duration=duration,
            script=wrk.report_script(tool.script_dir),
        ).as_dict()
    else:
        recorder = asyncio.run(
            pyload.closed_loop(port, connections, pyload.simple_client("GET", path), duration, warmup=0.0)
        )
        summary = stats.summarize(recorder.samples, duration)
        ok = summary["statuses"].get("200", 0)
        result = {
            "requests": summary["requests"],
            "duration_s": duration,
            "rps": round(summary["requests"] / duration, 1),
            "non_2xx": summary["requests"] - ok,
            "socket_errors": summary["statuses"].get("0", 0),
            "latency_ms": summary["ok_latency_ms"],
        }
    cpu_after = machine.cpu_seconds(worker_pid) if worker_pid else None
    if cpu_before is not None and cpu_after is not None and result["requests"]:
        result["worker_cpu_us_per_request"] = round((cpu_after - cpu_before) / result["requests"] * 1e6, 1)
    result["load_average"] = machine.load_average()
    result["at"] = time.strftime("%H:%M:%S")
    return result
