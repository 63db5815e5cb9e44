"""A bystander: GET /health/live every 50 ms while the abuse runs, to show the service stays fast for others."""

from __future__ import annotations

import threading
import time
from typing import Any

import requests

from tools.chaos.measure import ms
from tools.harness.stats import percentile


class LiveProbe(threading.Thread):
    """Runs until ``stop()`` or ``limit`` seconds, whichever is first."""

    def __init__(self, base_url: str, interval: float = 0.05, limit: float = 300.0) -> None:
        super().__init__(name="live-probe", daemon=True)
        self.url, self.interval, self.limit = base_url + "/health/live", interval, limit
        self.latencies: list[float] = []
        self.failures: list[str] = []
        self._stop_event = threading.Event()

    def run(self) -> None:
        started = time.monotonic()
        with requests.Session() as http:
            while not self._stop_event.is_set() and time.monotonic() - started < self.limit:
                began = time.monotonic()
                try:
                    response = http.get(self.url, timeout=5)
                    if response.status_code != 200:
                        self.failures.append(f"status {response.status_code}")
                except requests.RequestException as exc:
                    self.failures.append(type(exc).__name__)
                self.latencies.append(time.monotonic() - began)
                self._stop_event.wait(self.interval)

    def stop(self) -> dict[str, Any]:
        self._stop_event.set()
        self.join(10)
        return {
            "requests": len(self.latencies),
            "failures": len(self.failures),
            "failure_kinds": sorted(set(self.failures)),
            "p50_ms": ms(percentile(self.latencies, 50)),
            "p99_ms": ms(percentile(self.latencies, 99)),
            "max_ms": ms(max(self.latencies, default=None)),
        }
