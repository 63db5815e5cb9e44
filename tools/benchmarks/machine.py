"""What the figures were measured on, and per-process readings (RSS, CPU time) from /proc."""

from __future__ import annotations

import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _first(path: str, prefix: str) -> str | None:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(prefix):
                return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def describe() -> dict[str, Any]:
    """nproc, memory, CPU model, kernel, Python, date and load: the header of every result file."""
    mem_kb = _first("/proc/meminfo", "MemTotal")
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "memory_gib": round(int(mem_kb.split()[0]) / 1024 / 1024, 1) if mem_kb else None,
        "cpu_model": _first("/proc/cpuinfo", "model name"),
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "load_average": load_average(),
    }


def rss_bytes(pid: int) -> int | None:
    """Resident set size of ``pid`` (VmRSS), or None once it is gone."""
    value = _first(f"/proc/{pid}/status", "VmRSS")
    return int(value.split()[0]) * 1024 if value else None


def cpu_times(pid: int) -> tuple[float, float] | None:
    """User and system CPU seconds ``pid`` has used so far (its threads included, its children not)."""
    try:
        data = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = data[data.rindex(")") + 2 :].split()
    # Fields 14 and 15 of stat (utime, stime), counted from the state field, which is field 3.
    return int(fields[11]) / _CLOCK_TICKS, int(fields[12]) / _CLOCK_TICKS


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU seconds ``pid`` has used so far."""
    times = cpu_times(pid)
    return None if times is None else sum(times)


def cpu_of(pids: dict[str, int]) -> dict[str, float | None]:
    return {name: cpu_seconds(pid) for name, pid in pids.items()}


def cpu_spent(before: dict[str, float | None], after: dict[str, float | None]) -> dict[str, float | None]:
    """CPU seconds each named process used between two ``cpu_of`` readings."""
    spent: dict[str, float | None] = {}
    for name, start in before.items():
        end = after.get(name)
        spent[name] = None if start is None or end is None else round(end - start, 3)
    return spent
