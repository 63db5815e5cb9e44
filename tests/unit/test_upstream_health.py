"""/health's ``upstream`` check from real breakers and recent calls (no ping, no network): each state and what
it says, for one model upstream and for two."""

from __future__ import annotations

import pytest

from travel_agent.backends.health import upstream_check
from travel_agent.resilience.breaker import CircuitBreaker
from travel_agent.resilience.recent_calls import RecentCalls
from travel_agent.resilience.registry import BreakerRegistry


def upstream(name: str, *calls: bool) -> tuple[CircuitBreaker, RecentCalls]:
    recent = RecentCalls()
    for ok in calls:
        recent.record(ok)
    return CircuitBreaker(name, threshold=1, reset_seconds=60), recent


def test_one_upstream_healthy_failing_and_open() -> None:
    assert upstream_check([upstream("upstream")], "offline").as_dict() == {
        "status": "healthy",
        "message": "No call in the last minute",
        "circuit": "closed",
    }
    assert upstream_check([upstream("upstream", True, True, False)], "offline").status == "healthy"
    failing = upstream_check([upstream("upstream", True, False)], "offline")
    assert (failing.status, failing.message) == ("degraded", "first: 1 of 2 call(s) failed in the last minute")
    breaker, recent = upstream("upstream", False)
    breaker.record_failure()
    for fallback, says in (("offline", "the offline assistant answers (degraded)"), ("none", "chat turns are refused")):
        check = upstream_check([(breaker, recent)], fallback)
        assert check.as_dict() == {"status": "unavailable", "message": f"Circuit open: {says}", "circuit": "open"}


def test_two_upstreams_one_open_is_degraded_both_open_unavailable() -> None:
    first, second = upstream("upstream", False), upstream("upstream_fallback", True)
    first[0].record_failure()
    check = upstream_check([first, second], "none")
    assert (check.status, check.message, check.circuit) == ("degraded", "first: circuit open", "open")
    second[0].record_failure()
    assert upstream_check([first, second], "none").status == "unavailable"


def test_the_registry_keeps_one_breaker_per_name_in_order() -> None:
    registry = BreakerRegistry()
    for name in ("mongodb", "redis", "upstream", "upstream_fallback"):
        registry.add(CircuitBreaker(name, threshold=1, reset_seconds=60))
    assert [b.name for b in registry] == ["mongodb", "redis", "upstream", "upstream_fallback"]
    assert [b.name for b in registry.upstreams()] == ["upstream", "upstream_fallback"]
    with pytest.raises(ValueError, match="redis"):
        registry.add(CircuitBreaker("redis", threshold=1, reset_seconds=60))
