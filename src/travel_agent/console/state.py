"""The console's data: one JSON document assembled from this worker's live view and every worker's files."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from travel_agent import __version__
from travel_agent.config import Settings
from travel_agent.config_summary import features
from travel_agent.console import traffic
from travel_agent.console.records import SAMPLE_SECONDS, WINDOW_SECONDS, ConsoleRecords, redact
from travel_agent.services import Services

# A worker whose heartbeat is older than this has a stuck event loop (or died without its master noticing).
STALE_SECONDS = 5.0
# The upstream counts as failing when a call failed within this long.
UPSTREAM_RECENT_SECONDS = 60.0
DEPENDENCY_NAMES = {"mongodb": "MongoDB", "redis": "Redis", "upstream": "Model upstream"}


def assemble(svc: Services, records: ConsoleRecords) -> dict[str, Any]:
    report = svc.health.report()  # cached and bounded, shared with /health
    history = records.read_history()
    samples = history.get("samples", [])
    workers = records.read_workers()
    now = time.time()
    since = report.checked_at.timestamp()
    status = history.get("status") or {}
    if status.get("value") == report.status:
        since = min(since, float(status.get("since", since)))
    started = records.read_started()
    return {
        "generated_at": now,
        "service": {
            "status": report.status,
            "since": since,
            "version": __version__,
            "started_at": started,
            "uptime_seconds": round(now - started, 1),
            "answered_by": records.pid,
        },
        "dependencies": _dependencies(svc, report, samples, workers, now),
        "traffic": {
            "window_seconds": WINDOW_SECONDS,
            "interval_seconds": SAMPLE_SECONDS,
            **traffic.summarise(samples, SAMPLE_SECONDS),
        },
        "workers": [_worker(state, now) for state in workers],
        "errors": records.read_errors(),
        "config": effective_config(svc.settings),
    }


def _circuits(workers: list[dict[str, Any]], name: str) -> dict[str, str]:
    return {str(w["pid"]): w["circuits"][name] for w in workers if name in w.get("circuits", {})}


def _dependencies(
    svc: Services, report: Any, samples: list[dict[str, Any]], workers: list[dict[str, Any]], now: float
) -> list[dict[str, Any]]:
    found = []
    for key, check in report.checks.items():
        if key == "upstream":
            continue  # its own row below, with the calls the chat made
        found.append(
            {
                "key": key,
                "name": DEPENDENCY_NAMES.get(key, key),
                "status": check.status,
                "message": redact(check.message),
                "latency_ms": check.latency_ms and round(check.latency_ms, 2),
                "circuits": _circuits(workers, key),
                "history": [
                    [s["t"], s["health"][key][1], s["health"][key][0]] for s in samples if key in s.get("health", {})
                ],
            }
        )
    found.append(_upstream(svc.settings, report, samples, workers, now))
    return found


def _upstream_circuits(workers: list[dict[str, Any]]) -> dict[str, str]:
    """Each worker's circuit of the first upstream, and of the second (as "<pid> second") when there is one."""
    found = _circuits(workers, "upstream")
    found |= {f"{pid} second": state for pid, state in _circuits(workers, "upstream_fallback").items()}
    return found


def _upstream(
    settings: Settings, report: Any, samples: list[dict[str, Any]], workers: list[dict[str, Any]], now: float
) -> dict[str, Any]:
    """The model upstream is not pinged (a call costs money): its state comes from its breakers (/health's
    ``upstream`` check, this worker's) and the calls the chat made (every worker's, from the metrics)."""
    row: dict[str, Any] = {
        "key": "upstream",
        "name": DEPENDENCY_NAMES["upstream"],
        "circuits": {},
        "latency_ms": None,
        "history": [],
    }
    if settings.agent_provider != "openai":
        return row | {"status": "disabled", "message": "offline agent (AGENT_PROVIDER=offline)"}
    circuits = _upstream_circuits(workers)
    calls = failures = 0.0
    for sample in samples:
        counts = sample.get("routes", {}).get(traffic.UPSTREAM)
        if counts and counts[0]:
            mean_ms = round(counts[2] / counts[0] * 1000, 1)
            row["history"].append([sample["t"], mean_ms, "failing" if counts[1] else "healthy"])
            row["latency_ms"] = mean_ms
            if sample["t"] > now - UPSTREAM_RECENT_SECONDS:
                calls, failures = calls + counts[0], failures + counts[1]
    check = report.checks.get("upstream")
    if check is not None and check.status != "healthy":
        status, message = check.status, check.message
    elif any(state != "closed" for state in circuits.values()):
        status, message = "unavailable", "circuit open in a worker: calls refused until a trial succeeds"
    elif failures:
        status, message = "failing", f"{int(failures)} of {int(calls)} call(s) failed in the last minute"
    elif calls:
        status, message = "healthy", f"{int(calls)} call(s) in the last minute, all answered"
    else:
        status, message = "idle", "no call in the last minute"
    return row | {"status": status, "message": message, "circuits": circuits}


def _worker(state: dict[str, Any], now: float) -> dict[str, Any]:
    heartbeat_age = now - float(state.get("updated", now))
    return {
        "pid": state.get("pid"),
        "age_seconds": round(now - float(state.get("started", now)), 1),
        "in_flight": state.get("in_flight", 0),
        "draining": bool(state.get("draining")),
        "shed_total": state.get("shed_total", 0),
        "circuits": state.get("circuits", {}),
        "heartbeat_age_seconds": round(max(0.0, heartbeat_age), 1),
        "stale": heartbeat_age > STALE_SECONDS,
    }


def effective_config(s: Settings) -> list[dict[str, Any]]:
    """What matters on a bad day, by an allow-list: no URI, key, token or DSN value is ever included."""
    groups: list[tuple[str, Sequence[tuple[str, object]]]] = [
        (
            "Budgets",
            [
                ("REQUEST_TIMEOUT_SECONDS", s.request_timeout_seconds),
                ("CHAT_TIMEOUT_SECONDS", s.chat_timeout_seconds),
                ("BODY_READ_TIMEOUT_SECONDS", s.body_read_timeout_seconds),
                ("MONGO_OPERATION_TIMEOUT_MS", s.mongo_operation_timeout_ms),
                ("HEALTH_CHECK_TIMEOUT_SECONDS", s.health_check_timeout_seconds),
                ("GRACEFUL_TIMEOUT_SECONDS", s.graceful_timeout_seconds),
            ],
        ),
        (
            "Capacity",
            [
                ("WEB_CONCURRENCY", s.web_concurrency),
                ("WORKER_CONNECTIONS", s.worker_connections),
                ("MAX_IN_FLIGHT", s.max_in_flight),
                ("MONGO_MAX_POOL_SIZE", s.mongo_max_pool_size),
                ("MONGO_MIN_POOL_SIZE", s.mongo_min_pool_size),
                ("REDIS_MAX_CONNECTIONS", s.redis_max_connections),
                ("REDIS_POOL_TIMEOUT_SECONDS", s.redis_pool_timeout_seconds),
            ],
        ),
        (
            "Breakers",
            [
                ("BREAKER_FAILURE_THRESHOLD", s.breaker_failure_threshold),
                ("BREAKER_RESET_SECONDS", s.breaker_reset_seconds),
                ("HEALTH_CACHE_SECONDS", s.health_cache_seconds),
            ],
        ),
        ("Features", list[tuple[str, object]](features(s))),
    ]
    return [
        {"group": group, "items": [{"name": name, "value": str(value)} for name, value in items]}
        for group, items in groups
    ]
