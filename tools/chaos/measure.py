"""Figures of one phase from the samples that started in it: statuses, latency, fast failures, recovery."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tools.chaos.clients import Sample
from tools.harness import stats
from tools.harness.stats import percentile

# A dependency known to be down must cost its callers less than this (the target, at p99).
FAST_FAIL_SECONDS = 0.1
# Consecutive successes (by start time, all clients together) that count as "recovered".
RECOVERY_STREAK = 5


@dataclass(frozen=True)
class Marks:
    """Moments of one phase (time.monotonic()): it began, the fault was injected, lifted, and the phase ended."""

    start: float
    inject: float
    lift: float
    end: float
    settle: float  # after inject + settle the dependency is "known down" (its breakers had time to open)
    circuits_closed: float | None = None  # seconds after the lift until every worker's circuit closed


def ms(seconds: float | None) -> float | None:
    return stats.ms(seconds, digits=1)


def statuses(samples: Sequence[Sample]) -> dict[str, int]:
    return dict(sorted(Counter(s.outcome for s in samples).items()))


def latency(samples: Sequence[Sample]) -> dict[str, Any]:
    answered = [s.latency for s in samples if s.error is None]
    return {
        "p50_ms": ms(percentile(answered, 50)),
        "p99_ms": ms(percentile(answered, 99)),
        "max_ms": ms(max(answered, default=None)),
    }


def recovery(samples: Sequence[Sample], lift: float) -> float | None:
    """Seconds from the lift to the end of the first request of the first run of RECOVERY_STREAK successes
    among the requests started after it; None if there was no such run."""
    after = sorted((s for s in samples if s.started >= lift), key=lambda s: s.started)
    streak: list[Sample] = []
    for sample in after:
        streak = [*streak, sample] if sample.status == 200 and sample.error is None else []
        if len(streak) == RECOVERY_STREAK:
            return round(streak[0].ended - lift, 3)
    return None


def undegraded(samples: Sequence[Sample], lift: float) -> float | None:
    """Seconds from the lift until the end of the last degraded answer to a request started after it (0 when
    there was none): after that the model answered everything."""
    after = [s for s in samples if s.started >= lift and s.degraded]
    return round(max(s.ended for s in after) - lift, 3) if after else 0.0


def summarise(
    name: str, dependency: str, what: str, down: bool, marks: Marks, samples: Sequence[Sample]
) -> dict[str, Any]:
    """The phase's figures; ``samples`` are those that started within it."""
    fault = [s for s in samples if marks.inject <= s.started < marks.lift]
    known_down = [s for s in fault if s.started >= marks.inject + marks.settle and s.error is None and s.status != 200]
    down_latencies = [s.latency for s in known_down]
    return {
        "phase": name,
        "dependency": dependency,
        "what": what,
        "seconds": round(marks.end - marks.start, 2),
        "fault_seconds": round(marks.lift - marks.inject, 2),
        "requests": len(samples),
        "statuses": statuses(samples),
        "latency": latency(samples),
        "fault": {
            "requests": len(fault),
            "statuses": statuses(fault),
            "latency": latency(fault),
        },
        "known_down": {
            "applies": down,
            "failures": len(known_down),
            "p99_ms": ms(percentile(down_latencies, 99)) if down else None,
            "slower_than_100ms": sum(1 for v in down_latencies if v >= FAST_FAIL_SECONDS) if down else None,
        },
        "degraded": sum(1 for s in samples if s.degraded),
        "failed_turns": sum(1 for s in samples if s.error is not None or s.status != 200),
        "undegraded_s": undegraded(samples, marks.lift),
        "recovery_s": recovery(samples, marks.lift),
        "circuits_closed_s": marks.circuits_closed,
        "connection_errors": sum(1 for s in samples if s.error is not None and s.error != "timeout"),
        "bad": sum(1 for s in samples if s.bad or s.error == "timeout"),
        "crosstalk": sum(1 for s in samples if s.crosstalk),
        "examples": sorted(
            {s.bad or s.crosstalk or "timeout" for s in samples if s.bad or s.crosstalk or s.error == "timeout"}
        )[:5],
    }
