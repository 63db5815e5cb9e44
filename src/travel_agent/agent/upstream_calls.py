"""Every call to a model upstream measured once: its outcome, its whole time and time to first text, the tokens
it reported; counted in ``/metrics`` and in the upstream's recent calls (``/health``'s ``upstream`` check)."""

from __future__ import annotations

import time

from travel_agent.agent import provenance
from travel_agent.agent.errors import AgentUnavailable, CircuitOpen, ReplyTooLong, UpstreamRefused
from travel_agent.agent.waiting import ClientGone
from travel_agent.errors import BudgetExceeded
from travel_agent.observability import metrics
from travel_agent.resilience.recent_calls import RecentCalls

# Outcomes that say nothing about whether the upstream answers: no call was made, the client left, or the
# upstream answered (too much).
_NOT_HEALTH = frozenset({"circuit_open", "cancelled", "too_long"})


def outcome_of(exc: BaseException) -> str:
    """The ``travel_agent_upstream_requests_total`` outcome of a call that raised ``exc``."""
    if isinstance(exc, CircuitOpen):
        return "circuit_open"
    if isinstance(exc, AgentUnavailable):
        return "unavailable"
    if isinstance(exc, UpstreamRefused):
        return "refused"
    if isinstance(exc, ReplyTooLong):
        return "too_long"
    if isinstance(exc, BudgetExceeded):
        return "timeout"
    if isinstance(exc, (GeneratorExit, ClientGone)):
        return "cancelled"
    return "error"


class UpstreamCall:
    """One call of ``upstream`` ("primary" or "fallback"); ``finish`` records it (once)."""

    def __init__(self, upstream: str, recent: RecentCalls, model: str) -> None:
        self.upstream = upstream
        self.recent = recent
        self.model = model
        self.started = time.perf_counter()
        self.first_token: float | None = None
        self.usage: dict[str, int] | None = None
        self._finished = False

    def text_arrived(self) -> None:
        if self.first_token is None:
            self.first_token = time.perf_counter() - self.started

    def used(self, usage: object) -> None:
        """The upstream's ``usage`` object, kept when it holds token counts."""
        if isinstance(usage, dict):
            counts = {k: v for k, v in usage.items() if k.endswith("_tokens") and isinstance(v, int) and v >= 0}
            self.usage = counts or None

    def finish(self, outcome: str) -> None:
        if self._finished:
            return
        self._finished = True
        metrics.observe_upstream(self.upstream, outcome, time.perf_counter() - self.started, self.first_token)
        if outcome not in _NOT_HEALTH:
            self.recent.record(outcome == "ok")
        if outcome == "ok":
            if self.usage:
                metrics.record_upstream_tokens(self.upstream, self.usage)
            noted = provenance.current()
            if noted is not None:
                noted.model, noted.usage = self.model, self.usage
