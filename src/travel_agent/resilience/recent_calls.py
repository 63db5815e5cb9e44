"""What the last calls to a dependency that is never pinged said: the model upstream's health without a paid
ping (``/health``'s ``upstream`` check reads it beside the breaker)."""

from __future__ import annotations

import time
from collections import deque

# Calls kept, and how old a kept call may be before it no longer says anything about now.
KEPT_CALLS = 20
RECENT_SECONDS = 60.0


class RecentCalls:
    """The outcome of the last ``KEPT_CALLS`` calls, with their times. One deque append per call, no lock:
    under gevent appends never interleave, and a reader racing a writer sees one call more or less."""

    def __init__(self, kept: int = KEPT_CALLS) -> None:
        self._calls: deque[tuple[float, bool]] = deque(maxlen=kept)

    def record(self, ok: bool) -> None:
        self._calls.append((time.monotonic(), ok))

    def counts(self, within: float = RECENT_SECONDS) -> tuple[int, int]:
        """(calls, failed calls) among those kept that ended within the last ``within`` seconds."""
        since = time.monotonic() - within
        recent = [ok for at, ok in list(self._calls) if at >= since]
        return len(recent), recent.count(False)
