"""What each worker writes for the console: its state and last errors on the heartbeat, the service's history
when its turn comes. Nothing here runs on a successful request; an error answer costs one deque append."""

from __future__ import annotations

import glob
import json
import logging
import math
import os
import re
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from travel_agent import formats
from travel_agent.console import shapes, traffic
from travel_agent.request_context import ERROR_MESSAGE_KEY
from travel_agent.runtime import console_files
from travel_agent.services import Services

log = logging.getLogger("travel_agent.console")

ERRORS_KEPT = 50
# The history: one reading every few seconds over the last ten minutes.
SAMPLE_SECONDS = 3.0
WINDOW_SECONDS = 600.0
FAILURE_LOG_INTERVAL_SECONDS = 60.0
MESSAGE_LIMIT = 200
# Credentials in a URL ("scheme://user:password@host") never reach the page, whatever produced the text.
_URL_CREDENTIALS = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)[^\s/@]+@")


def redact(text: str) -> str:
    return _URL_CREDENTIALS.sub(r"\1***@", text)[:MESSAGE_LIMIT]


def read_json(path: str, unreadable: Callable[[str], None] | None = None) -> Any:
    """The file's JSON, or None: not written yet, removed by the master as its worker died, or not JSON that
    can be read (then ``unreadable`` hears of it; writes are atomic, so that is damage, not a half file)."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except OSError:
        return None
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
        if unreadable is not None:
            unreadable(path)
        return None


class ConsoleRecords:
    """One per worker. The directory is the master's (``runtime.console_files``) under gunicorn, else a private
    one for this process."""

    def __init__(self, svc: Services, directory: str | None) -> None:
        self.svc = svc
        self.directory = directory or tempfile.mkdtemp(prefix="travel_agent-console-")
        os.makedirs(self.directory, exist_ok=True)
        self.pid = os.getpid()
        self.started = time.time()
        self.errors: deque[dict[str, Any]] = deque(maxlen=ERRORS_KEPT)
        self._errors_written = 0
        self._errors_seen = 0
        self._sampling = threading.Lock()
        self._last_failure_log = 0.0
        self._last_skip_log: dict[str, float] = {}
        started = os.path.join(self.directory, console_files.STARTED_FILE)
        if read_json(started) is None:  # outside gunicorn no master wrote it: this process is the service
            console_files.write_json(started, {"started": self.started, "master_pid": self.pid})

    # -- on error answers ------------------------------------------------------------------------------

    def record_error(self, environ: dict[str, Any], status: str, route: str) -> None:
        message = environ.get(ERROR_MESSAGE_KEY) or formats.phrase(int(status))
        self.errors.append(
            {
                "time": time.time(),
                "request_id": str(environ.get("travel_agent.request_id", "")),
                "method": str(environ.get("REQUEST_METHOD", ""))[:10],
                "route": redact(route),
                "status": int(status),
                "message": redact(str(message)),
                "pid": self.pid,
            }
        )
        self._errors_seen += 1

    # -- on the heartbeat --------------------------------------------------------------------------------

    def heartbeat(self) -> None:
        try:
            self.write_worker_state()
            if self._errors_seen != self._errors_written:
                self._errors_written = self._errors_seen
                console_files.write_json(self._path(f"{console_files.ERRORS_PREFIX}{self.pid}.json"), list(self.errors))
            if self._history_due() and self._sampling.acquire(blocking=False):
                # Off the heartbeat: a frozen dependency's health check may take a second.
                threading.Thread(target=self._sample, name="console-sample", daemon=True).start()
        except Exception:  # noqa: BLE001  (logged, throttled: the console must never break the worker)
            self._log_failure()

    def worker_state(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "started": self.started,
            "updated": time.time(),
            "in_flight": len(self.svc.state.inflight),
            "draining": self.svc.state.draining,
            "shed_total": self.svc.state.inflight.shed_total,
            "circuits": {name: state.value for name, state in self.svc.breakers.states().items()},
        }

    def write_worker_state(self) -> None:
        console_files.write_json(self._path(f"{console_files.WORKER_PREFIX}{self.pid}.json"), self.worker_state())

    def _history_due(self) -> bool:
        try:
            return time.time() - os.path.getmtime(self._path(console_files.HISTORY_FILE)) >= SAMPLE_SECONDS
        except FileNotFoundError:
            return True

    def _sample(self) -> None:
        try:
            self.sample_history()
        except Exception:  # noqa: BLE001  (logged, throttled; the next heartbeat tries again)
            self._log_failure()
        finally:
            self._sampling.release()

    def sample_history(self) -> None:
        """One reading of health and traffic appended to the shared history. Two workers sampling at once each
        write a consistent file (their deltas start from the same totals), so no lock across processes."""
        report = self.svc.health.report()
        totals = traffic.read_totals()
        now = time.time()
        path = self._path(console_files.HISTORY_FILE)
        history = self.read_history()  # a history of the wrong shape is replaced here, not kept
        previous = history.get("totals")
        samples = [s for s in history.get("samples", []) if s["t"] > now - WINDOW_SECONDS]
        samples.append(
            {
                "t": round(now, 3),
                "routes": traffic.difference(totals, previous) if previous is not None else {},
                "health": {
                    name: [check.status, None if check.latency_ms is None else round(check.latency_ms, 2)]
                    for name, check in report.checks.items()
                },
            }
        )
        status = history.get("status")
        if not status or status.get("value") != report.status:
            status = {"value": report.status, "since": report.checked_at.timestamp()}
        console_files.write_json(path, {"totals": totals, "samples": samples, "status": status})

    # -- reading ---------------------------------------------------------------------------------------------

    def read_history(self) -> dict[str, Any]:
        """The shared history, its records of the wrong shape left out (and logged)."""
        path = self._path(console_files.HISTORY_FILE)
        found = read_json(path, self._unreadable)
        if found is None:
            return {}
        if not isinstance(found, dict):
            self._skipped(path, "the history is not an object")
            return {}
        history: dict[str, Any] = {}
        samples = found.get("samples", [])
        history["samples"] = (
            [sample for sample in samples if shapes.SAMPLE(sample)] if isinstance(samples, list) else []
        )
        if not isinstance(samples, list) or len(history["samples"]) != len(samples):
            self._skipped(path, "samples of the wrong shape")
        for key, check in (("totals", shapes.counts), ("status", shapes.STATUS)):
            if key in found and check(found[key]):
                history[key] = found[key]
            elif key in found:
                self._skipped(path, f"its {key} are of the wrong shape")
        return history

    def read_started(self) -> float:
        path = self._path(console_files.STARTED_FILE)
        found = self._read(path, shapes.STARTED, "the start time")
        return float(found["started"]) if found else self.started

    def read_workers(self) -> list[dict[str, Any]]:
        workers = {self.pid: self.worker_state()}  # this worker's own, fresh
        for path in glob.glob(self._path(f"{console_files.WORKER_PREFIX}*.json")):
            state = self._read(path, shapes.WORKER, "a worker's state")
            if state is not None and state["pid"] not in workers:
                workers[state["pid"]] = state
        return sorted(workers.values(), key=lambda state: state["pid"])

    def read_errors(self) -> list[dict[str, Any]]:
        found = list(self.errors)
        own = self._path(f"{console_files.ERRORS_PREFIX}{self.pid}.json")
        for path in glob.glob(self._path(f"{console_files.ERRORS_PREFIX}*.json")):
            errors = read_json(path, self._unreadable) if path != own else None
            if errors is None:
                continue
            good = [error for error in errors if shapes.ERROR(error)] if isinstance(errors, list) else []
            if not isinstance(errors, list) or len(good) != len(errors):
                self._skipped(path, "errors of the wrong shape")
            found.extend(good)
        found.sort(key=lambda error: error["time"], reverse=True)
        return found[:ERRORS_KEPT]

    def _read(self, path: str, check: shapes.Check, what: str) -> Any:
        found = read_json(path, self._unreadable)
        if found is None or check(found):
            return found
        self._skipped(path, f"{what} is of the wrong shape")
        return None

    def _unreadable(self, path: str) -> None:
        self._skipped(path, "not JSON that can be read")

    def _skipped(self, path: str, what: str) -> None:
        """Logged once a minute per file: the page polls every second and a half."""
        now = time.monotonic()
        if now - self._last_skip_log.get(path, -math.inf) >= FAILURE_LOG_INTERVAL_SECONDS:
            self._last_skip_log[path] = now
            log.warning("console file %s skipped: %s", os.path.basename(path), what)

    def _path(self, name: str) -> str:
        return os.path.join(self.directory, name)

    def _log_failure(self) -> None:
        now = time.monotonic()
        if now - self._last_failure_log >= FAILURE_LOG_INTERVAL_SECONDS:
            self._last_failure_log = now
            log.exception("console bookkeeping failed; requests continue without it")
