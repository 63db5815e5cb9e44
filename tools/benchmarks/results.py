"""Result files (JSON under tools/results/benchmarks/, git-ignored) and the printed tables."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import tools
from tools.benchmarks import machine

RESULTS_DIR = tools.RESULTS_DIR / "benchmarks"


def write(part: str, data: dict[str, Any], out_dir: Path | None = None) -> Path:
    """``<part>-<UTC stamp>.json`` with the machine facts first; returns its path."""
    directory = out_dir or RESULTS_DIR
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{part}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}.json"
    body = {"benchmark": part, "machine": machine.describe(), **data}
    path.write_text(json.dumps(body, indent=2, default=str) + "\n")
    return path


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table, right-aligned numbers, for the terminal (and pasted into PERFORMANCE.md)."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(header)]
    lines = [title, "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for row in cells:
        lines.append("  ".join(c.rjust(w) if _numeric(c) else c.ljust(w) for c, w in zip(row, widths, strict=True)))
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _numeric(cell: str) -> bool:
    return cell.replace(",", "").replace(".", "").replace("-", "").isdigit()
