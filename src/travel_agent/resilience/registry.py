"""Every circuit breaker of a worker in one place, so ``/metrics``, ``/health`` and the console read one list.

``services.build_services`` fills it (MongoDB, Redis, each model upstream); nothing else creates a breaker.
"""

from __future__ import annotations

from collections.abc import Iterator

from travel_agent.resilience.breaker import CircuitBreaker, State

# The breakers of the model upstreams are named with this prefix ("upstream", "upstream_fallback").
UPSTREAM_PREFIX = "upstream"


class BreakerRegistry:
    """The worker's breakers by name, in the order they were added."""

    def __init__(self) -> None:
        self._breakers: dict[str, CircuitBreaker] = {}

    def add(self, breaker: CircuitBreaker) -> CircuitBreaker:
        if breaker.name in self._breakers:
            raise ValueError(f"a breaker named {breaker.name!r} is registered already")
        self._breakers[breaker.name] = breaker
        return breaker

    def get(self, name: str) -> CircuitBreaker | None:
        return self._breakers.get(name)

    def __iter__(self) -> Iterator[CircuitBreaker]:
        return iter(list(self._breakers.values()))

    def __len__(self) -> int:
        return len(self._breakers)

    def states(self) -> dict[str, State]:
        """Each breaker's state now, by name."""
        return {breaker.name: breaker.state for breaker in self}

    def upstreams(self) -> list[CircuitBreaker]:
        """The model upstreams' breakers, first upstream first."""
        return [breaker for breaker in self if breaker.name.startswith(UPSTREAM_PREFIX)]
