"""Profiles under load: py-spy on the worker while wrk drives it, turned into CPU microseconds per request by
package, for the service and the floor side by side (health), or for the service alone (chat)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

from benchmarks import machine, profiling, wrk
from benchmarks.stack import GunicornServer

ACCESS_LINE = '" 200 '  # gunicorn's access log format puts the status right after the quoted request line


def under_load(server: GunicornServer, pid: int, url_path: str, script: Path, out: Path, *, seconds: float = 8.0,
               connections: int = 32, inclusive: tuple[str, ...] = ()) -> dict[str, Any]:
    """Drive ``url_path`` with wrk (``script``) while py-spy samples the worker for ``seconds``; the answered
    requests in that window are counted from the access log, the worker's CPU time from /proc."""
    load = subprocess.Popen(["wrk", "-t1", f"-c{connections}", f"-d{round(seconds) + 3}s", "-s", str(script),
                             f"http://127.0.0.1:{server.port}{url_path}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.0)
        log_from = len(server.log_text())
        cpu_from = machine.cpu_seconds(pid)
        profiling.record(pid, seconds, out)
        cpu_to = machine.cpu_seconds(pid)
        answered = server.log_text()[log_from:].count(ACCESS_LINE)
    finally:
        load.wait(timeout=seconds + 30)
    summary = profiling.summarize(out, inclusive=inclusive)
    cpu_us = (cpu_to - cpu_from) / answered * 1e6 if answered and cpu_from is not None and cpu_to is not None else 0
    summary["answered"] = answered
    summary["cpu_us_per_request"] = round(cpu_us, 1)
    summary["us_by_package"] = profiling.per_request_us(summary, cpu_us, "self_by_package_pct")
    summary["us_inclusive"] = profiling.per_request_us(summary, cpu_us, "inclusive_pct")
    summary["raw_profile"] = str(out)
    return summary


def compare(floor: dict[str, Any], service: dict[str, Any]) -> list[tuple[str, float, float, float]]:
    """(package, floor us, service us, difference) for every package, largest difference first."""
    names = set(floor["us_by_package"]) | set(service["us_by_package"])
    rows = [(n, floor["us_by_package"].get(n, 0.0), service["us_by_package"].get(n, 0.0)) for n in names]
    return sorted(((n, f, s, round(s - f, 1)) for n, f, s in rows), key=lambda r: -abs(r[3]))


def report_script(directory: Path) -> Path:
    return wrk.report_script(directory)
