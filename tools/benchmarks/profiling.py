"""Where a worker's CPU goes: py-spy samples the running worker under load, and the collapsed stacks are
summed by function (self time) and by package (self time), and for a few frames of interest (inclusive)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

# "function (package/module.py:line)" in py-spy's raw (collapsed) format.
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^:()]+)(?::(?P<line>\d+))?\)$")
# The order matters: the first prefix that matches a frame's file names its package.
_PACKAGES = (
    "travel_agent",
    "benchmarks",
    "flask_smorest",
    "flask",
    "werkzeug",
    "marshmallow",
    "webargs",
    "gunicorn",
    "gevent",
    "pymongo",
    "bson",
    "redis",
    "json",
    "logging",
    "http",
    "email",
    "uuid",
    "contextvars",
    "threading",
    "urllib",
    "socket",
    "ssl",
    "re",
    "datetime",
)


def binary() -> str | None:
    """py-spy beside the interpreter (the venv, which scripts/bench does not put on PATH), else on PATH."""
    beside = Path(sys.executable).parent / "py-spy"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("py-spy")


def available() -> bool:
    return binary() is not None


def record(pid: int, seconds: float, out: Path, rate: int = 100) -> Path:
    """Sample ``pid`` for ``seconds`` into ``out`` (collapsed stacks).

    Only samples that hold the GIL count (``--gil``): py-spy samples by wall clock, and a worker that was
    just preempted (on 2 cores, often right after a send() woke the database) would otherwise charge the
    wait to whatever frame it stopped in. So the shares are of the worker's Python (user) CPU time; its
    system time is measured apart, from /proc. Blocking mode: py-spy pauses the process for each sample,
    which costs the worker a little speed but never reads a torn stack.
    """
    subprocess.run(
        [
            binary() or "py-spy",
            "record",
            "-p",
            str(pid),
            "-d",
            str(max(1, round(seconds))),
            "-r",
            str(rate),
            "--gil",
            "-f",
            "raw",
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    )
    return out


def _package(file: str) -> str:
    parts = file.replace("\\", "/").split("/")
    top = parts[0].removesuffix(".py")
    for name in _PACKAGES:
        if top == name:
            return name
    return top or "?"


def _parse(line: str) -> tuple[list[tuple[str, str]], int] | None:
    stack, _, count = line.rpartition(" ")
    if not stack or not (count.isascii() and count.isdigit()):
        return None
    frames = []
    for raw in stack.split(";"):
        match = _FRAME.match(raw.strip())
        if match:
            frames.append((match["func"], match["file"]))
        else:
            frames.append((raw.strip(), "?"))
    return frames, int(count)


def summarize(path: Path, top: int = 12, inclusive: tuple[str, ...] = ()) -> dict[str, Any]:
    """Shares of the busy samples (the hub waiting for I/O is idle, not counted): self time by function and by
    package, and inclusive time of ``inclusive`` frames (substrings of "function (file)")."""
    by_function: Counter[str] = Counter()
    by_package: Counter[str] = Counter()
    marked: Counter[str] = Counter()
    busy = idle = 0
    for line in path.read_text().splitlines():
        parsed = _parse(line)
        if parsed is None:
            continue
        frames, count = parsed
        func, file = frames[-1]
        if func in ("wait", "run", "switch") and "gevent" in file and "hub" in file:
            idle += count
            continue
        busy += count
        by_function[f"{func} ({file})"] += count
        by_package[_package(file)] += count
        text = ";".join(f"{f} ({p})" for f, p in frames)
        for name in inclusive:
            if name in text:
                marked[name] += count
    if busy == 0:
        return {"samples": idle, "busy_samples": 0}

    def shares(counter: Counter[str], limit: int | None) -> dict[str, float]:
        return {name: round(100 * n / busy, 1) for name, n in counter.most_common(limit)}

    return {
        "samples": busy + idle,
        "busy_samples": busy,
        "idle_pct": round(100 * idle / (busy + idle), 1),
        "self_by_package_pct": shares(by_package, None),
        "self_by_function_pct": shares(by_function, top),
        "inclusive_pct": {name: round(100 * marked[name] / busy, 1) for name in inclusive},
    }


def per_request_us(summary: dict[str, Any], cpu_us_per_request: float, key: str) -> dict[str, float]:
    """A summary's shares (``key``: self_by_package_pct, inclusive_pct...) as CPU microseconds per request."""
    return {name: round(pct / 100 * cpu_us_per_request, 1) for name, pct in summary.get(key, {}).items()}
