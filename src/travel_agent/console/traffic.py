"""Traffic totals read from every worker's metric files, and the per-route figures the console charts.

The request counters are cumulative and summed over all workers (dead ones too) by prometheus_client's
multiprocess files; the console's history keeps the difference between two readings a few seconds apart.
"""

from __future__ import annotations

import glob
import math
import os
from collections.abc import Iterable
from typing import Any

from prometheus_client import REGISTRY
from prometheus_client.multiprocess import MultiProcessCollector

from travel_agent.observability.metrics import LATENCY_BUCKETS, MULTIPROC_DIR_VARIABLE

# One route's counts: requests, 2xx, 3xx, 4xx, 5xx, 504, 503, 429, latency sum, then cumulative latency buckets.
COUNTS = ("requests", "2xx", "3xx", "4xx", "5xx", "504", "503", "429")
LATENCY_SUM = len(COUNTS)
FIRST_BUCKET = LATENCY_SUM + 1
BOUNDS = (*LATENCY_BUCKETS, math.inf)
WIDTH = FIRST_BUCKET + len(BOUNDS)
UPSTREAM = "upstream"  # the model upstream's calls: [calls, failures, seconds]
# The console's own polling is not the traffic an operator is looking for.
IGNORED_PREFIXES = ("/console",)


def _families() -> Iterable[Any]:
    directory = os.environ.get(MULTIPROC_DIR_VARIABLE)
    if directory:
        return MultiProcessCollector.merge(glob.glob(os.path.join(directory, "*.db")), accumulate=True)
    return REGISTRY.collect()


def read_totals() -> dict[str, list[float]]:
    """{route: counts (see COUNTS)} summed over methods and workers, plus the upstream's [calls, failures, s]."""
    routes: dict[str, list[float]] = {}
    upstream = [0.0, 0.0, 0.0]

    def row(route: str) -> list[float]:
        return routes.setdefault(route, [0.0] * WIDTH)

    for family in _families():
        for sample in family.samples:
            labels = sample.labels
            route = labels.get("route", "")
            if route.startswith(IGNORED_PREFIXES):
                continue
            if sample.name == "travel_agent_http_requests_total":
                counts = row(route)
                status = labels.get("status", "")
                counts[0] += sample.value
                kind = f"{status[:1]}xx"
                if kind in COUNTS:
                    counts[COUNTS.index(kind)] += sample.value
                if status in ("503", "429"):
                    counts[COUNTS.index(status)] += sample.value
            elif sample.name == "travel_agent_stream_errors_total":
                # Streams answered 200 that ended in an error event: errors of their route all the same (a
                # 504 is counted below, as a budget timeout).
                counts = row(route)
                status = labels.get("status", "")
                kind = f"{status[:1]}xx"
                if kind in COUNTS:
                    counts[COUNTS.index(kind)] += sample.value
                if status in ("503", "429"):
                    counts[COUNTS.index(status)] += sample.value
            elif sample.name == "travel_agent_budget_timeouts_total":
                row(route)[COUNTS.index("504")] += sample.value  # stream cut-offs too, not only 504 answers
            elif sample.name == "travel_agent_http_request_duration_seconds_sum":
                row(route)[LATENCY_SUM] += sample.value
            elif sample.name == "travel_agent_http_request_duration_seconds_bucket":
                bound = float(labels.get("le", "inf"))
                if bound in BOUNDS:
                    row(route)[FIRST_BUCKET + BOUNDS.index(bound)] += sample.value
            elif sample.name == "travel_agent_upstream_requests_total":
                outcome = labels.get("outcome")
                if outcome != "circuit_open":  # refused by its own breaker: no call was made
                    upstream[0] += sample.value
                    if outcome != "ok":
                        upstream[1] += sample.value
            elif sample.name == "travel_agent_upstream_request_duration_seconds_sum":
                upstream[2] += sample.value
    routes[UPSTREAM] = upstream
    return routes


def difference(now: dict[str, list[float]], before: dict[str, list[float]]) -> dict[str, list[float]]:
    """What happened between two readings, routes with nothing left out (counters only grow within a run)."""
    changed: dict[str, list[float]] = {}
    for route, values in now.items():
        old = before.get(route) or [0.0] * len(values)
        delta = [round(max(0.0, a - b), 6) for a, b in zip(values, old, strict=False)]
        if any(delta):
            changed[route] = delta
    return changed


def quantile(buckets: list[float], q: float) -> float | None:
    """The q-quantile in seconds from cumulative bucket counts, interpolated inside its bucket."""
    total = buckets[-1] if buckets else 0
    if total <= 0:
        return None
    rank = q * total
    previous_count, lower = 0.0, 0.0
    for bound, count in zip(BOUNDS, buckets, strict=False):
        if count >= rank:
            if math.isinf(bound):
                return lower
            if count <= previous_count:
                return bound
            return lower + (bound - lower) * (rank - previous_count) / (count - previous_count)
        previous_count, lower = count, bound
    return lower


def summarise(samples: list[dict[str, Any]], interval: float) -> dict[str, Any]:
    """Per route over the samples: series for the charts (one point per sample) and totals for the window."""
    times = [sample["t"] for sample in samples]
    names = sorted({route for sample in samples for route in sample.get("routes", {}) if route != UPSTREAM})
    rows = []
    for route in names:
        per_sample = [sample.get("routes", {}).get(route) or [0.0] * WIDTH for sample in samples]
        window = [sum(values[i] for values in per_sample) for i in range(WIDTH)]
        requests = window[0]
        rows.append(
            {
                "route": route,
                "requests": int(requests),
                "rps": round(requests / max(interval, len(samples) * interval), 3),
                "error_rate": {kind: _ratio(window[COUNTS.index(kind)], requests) for kind in ("4xx", "5xx")},
                "timeouts_504": int(window[COUNTS.index("504")]),
                "shed_503": int(window[COUNTS.index("503")]),
                "limited_429": int(window[COUNTS.index("429")]),
                "p50_ms": _ms(quantile(window[FIRST_BUCKET:], 0.5)),
                "p95_ms": _ms(quantile(window[FIRST_BUCKET:], 0.95)),
                "series": {
                    "rps": [round(values[0] / interval, 3) for values in per_sample],
                    "errors": [int(values[COUNTS.index("4xx")] + values[COUNTS.index("5xx")]) for values in per_sample],
                    "p95_ms": [_ms(quantile(values[FIRST_BUCKET:], 0.95)) for values in per_sample],
                },
            }
        )
    rows.sort(key=lambda row: -row["requests"])
    return {"times": times, "routes": rows}


def _ratio(part: float, whole: float) -> float:
    return round(part / whole, 4) if whole else 0.0


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)
