"""The agents the chat can talk to, behind one small interface, and the factory that picks one from settings."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence

from travel_agent.agent import offline, provenance
from travel_agent.agent.fallback import FallbackAgent
from travel_agent.agent.interface import Agent, Turn
from travel_agent.agent.openai_client import OpenAIAgent
from travel_agent.config import Settings
from travel_agent.resilience.breaker import CircuitBreaker
from travel_agent.resilience.registry import BreakerRegistry


class OfflineAgent:
    """The deterministic offline assistant (no network, no failures), optionally paced like a typing model."""

    # reply() only computes (no I/O, no sleep): the chat calls it in the request's own greenlet (ChatService).
    replies_without_waiting = True

    def __init__(self, chunk_delay_seconds: float = 0.0) -> None:
        self.chunk_delay_seconds = chunk_delay_seconds
        offline.warm()

    def reply(self, history: Sequence[Turn], message: str) -> str:
        _note_offline()
        return offline.reply(history, message)

    def stream(self, history: Sequence[Turn], message: str) -> Iterator[str]:
        _note_offline()
        for index, chunk in enumerate(offline.reply_chunks(history, message)):
            if index and self.chunk_delay_seconds:
                time.sleep(self.chunk_delay_seconds)
            yield chunk

    def check_available(self) -> None:
        pass  # never down

    def close(self) -> None:
        pass


def _note_offline() -> None:
    noted = provenance.current()
    if noted is not None and noted.model is None:  # the degraded mode notes itself first (agent.fallback)
        noted.model = provenance.OFFLINE_MODEL


def build_agent(settings: Settings, breakers: BreakerRegistry) -> Agent:
    """The configured agent. Each model upstream gets its own per-worker breaker (built here, so per worker),
    registered in ``breakers`` as "upstream" and "upstream_fallback"."""
    if settings.agent_provider != "openai":
        return OfflineAgent(settings.offline_chunk_delay_ms / 1000)
    upstreams = [OpenAIAgent(settings, breakers.add(_breaker("upstream", settings)), "primary")]
    if settings.openai_fallback_base_url:
        upstreams.append(OpenAIAgent(settings, breakers.add(_breaker("upstream_fallback", settings)), "fallback"))
    degraded = OfflineAgent() if settings.agent_fallback == "offline" else None
    if len(upstreams) == 1 and degraded is None:
        return upstreams[0]  # AGENT_FALLBACK=none and one upstream: its errors are the turn's
    return FallbackAgent(upstreams, degraded)


def model_upstreams(agent: Agent) -> list[OpenAIAgent]:
    """The model upstreams behind ``agent``, first one first (none for the offline agent)."""
    if isinstance(agent, OpenAIAgent):
        return [agent]
    return [a for a in getattr(agent, "upstreams", []) if isinstance(a, OpenAIAgent)]


def _breaker(name: str, settings: Settings) -> CircuitBreaker:
    return CircuitBreaker(name, settings.breaker_failure_threshold, settings.breaker_reset_seconds)
