"""Start-up verification of a dependency: a real ping, a few attempts, each logged, never fatal."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from travel_agent.resilience.breaker import CircuitBreaker

log = logging.getLogger("travel_agent.startup")


def verify_dependency(
    name: str,
    ping: Callable[[], float],
    errors: tuple[type[Exception], ...],
    describe: Callable[[BaseException], str],
    breaker: CircuitBreaker,
    attempts: int,
    delay: float,
    consequence: str,
) -> bool:
    """Ping up to ``attempts`` times, ``delay`` seconds apart. Returns whether it answered.

    It never raises: raising out of app loading makes gunicorn halt the whole server ("Worker failed to
    boot"), which turns a database restart into a service outage. The breaker learns each outcome, so a
    worker that booted against a dead dependency fails fast from its first request.
    """
    reason = "no answer"
    for attempt in range(1, attempts + 1):
        try:
            latency = ping()
        except errors as exc:
            reason = describe(exc)
            log.warning("%s connection attempt %d/%d failed: %s", name, attempt, attempts, reason)
            breaker.record_failure()
        else:
            log.info("%s connection verified (attempt %d/%d, %.1f ms)", name, attempt, attempts, latency * 1000)
            breaker.record_success()
            return True
        if attempt < attempts:
            time.sleep(delay)
    log.error("%s not verified after %d attempts (%s); %s", name, attempts, reason, consequence)
    return False
