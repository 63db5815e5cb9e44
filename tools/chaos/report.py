"""The figures as JSON under a git-ignored results directory, and as a table on the terminal."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import tools

RESULTS_DIR = tools.RESULTS_DIR / "chaos"


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    info: dict[str, Any] = {"nproc": os.cpu_count(), "python": platform.python_version(), "kernel": platform.release()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["memory_gib"] = round(int(line.split()[1]) / 1024 / 1024, 1)
                break
    except OSError:
        pass  # not Linux: the figures still stand, without the machine's details
    return info


def write(kind: str, figures: dict[str, Any], directory: Path = RESULTS_DIR) -> Path:
    """``<directory>/<kind>-<UTC time>.json`` with the machine, the date and the command added."""
    directory.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    document = {
        "kind": kind,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": " ".join(["python", "-m", kind, *sys.argv[1:]]),
        "machine": machine(),
        **figures,
    }
    path = directory / f"{kind}-{stamp}.json"
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
    return path


def publish(kind: str, figures: dict[str, Any], directory: Path, text: str, failures: Sequence[str]) -> int:
    """Print the figures and what broke, keep them as JSON; the exit status (1 when anything broke)."""
    print(text)
    print(f"\nfigures written to {write(kind, figures, directory)}")
    for failure in failures:
        print(f"BROKEN: {failure}", file=sys.stderr)
    return 1 if failures else 0


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table, numbers right-aligned; None shows as "-"."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [
        max(len(str(h)), *(len(row[i]) for row in cells)) if cells else len(str(h)) for i, h in enumerate(headers)
    ]
    numeric = [all(_is_number(row[i]) for row in rows) for i in range(len(headers))]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True))

    return "\n".join([line([str(h) for h in headers]), line(["-" * w for w in widths]), *map(line, cells)])


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".") if value < 10 else f"{value:.1f}"
    return str(value)


def _is_number(value: Any) -> bool:
    return value is None or isinstance(value, int | float)
