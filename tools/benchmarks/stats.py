"""The per-status summary of a list of timed requests (built on harness.stats)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tools.harness.stats import ms, percentile


@dataclass(frozen=True)
class Sample:
    """One request as a client saw it: when it started and ended (monotonic seconds), and its status
    (0: no response: the connection failed or was closed; -1: the client gave up at its own timeout)."""

    start: float
    end: float
    status: int

    @property
    def latency(self) -> float:
        return self.end - self.start


def latency_ms(samples: Sequence[Sample]) -> dict[str, float | None]:
    latencies = [s.latency for s in samples]
    return {
        "p50": ms(percentile(latencies, 50)),
        "p90": ms(percentile(latencies, 90)),
        "p99": ms(percentile(latencies, 99)),
        "max": ms(max(latencies) if latencies else None),
    }


def summarize(samples: Sequence[Sample], duration: float) -> dict[str, Any]:
    """Counts by status, goodput (200 per second) and latency per outcome (200, 503, everything else)."""
    statuses = Counter(s.status for s in samples)
    ok = [s for s in samples if s.status == 200]
    shed = [s for s in samples if s.status == 503]
    other = [s for s in samples if s.status not in (200, 503)]
    return {
        "requests": len(samples),
        "duration_s": round(duration, 3),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "goodput_rps": round(len(ok) / duration, 2) if duration > 0 else None,
        "ok_latency_ms": latency_ms(ok),
        "shed_latency_ms": latency_ms(shed),
        "other_latency_ms": latency_ms(other),
    }


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 3)
