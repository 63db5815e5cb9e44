"""Statistics of measured latencies shared by chaos, fuzz and the benchmarks."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence


def percentile(values: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile (``pct`` in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(len(ordered) * pct / 100))  # n * pct first: pct / 100 * n can round up past a whole rank
    return ordered[rank - 1]


def median(values: Iterable[float | None]) -> float | None:
    """The median of the values present; None when there are none."""
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def ms(seconds: float | None, digits: int = 2) -> float | None:
    """Seconds as milliseconds rounded to ``digits``; None stays None."""
    return None if seconds is None else round(seconds * 1000, digits)
