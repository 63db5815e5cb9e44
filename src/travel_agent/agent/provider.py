"""The agents the chat can talk to, behind one small interface, and the factory that picks one from settings."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence

from travel_agent.agent import offline
from travel_agent.agent.interface import Agent, Turn
from travel_agent.agent.openai_client import OpenAIAgent
from travel_agent.config import Settings
from travel_agent.resilience.breaker import CircuitBreaker


class OfflineAgent:
    """The deterministic offline assistant (no network, no failures), optionally paced like a typing model."""

    # reply() only computes (no I/O, no sleep): the chat calls it in the request's own greenlet (ChatService).
    replies_without_waiting = True

    def __init__(self, chunk_delay_seconds: float = 0.0) -> None:
        self.chunk_delay_seconds = chunk_delay_seconds
        offline.warm()

    def reply(self, history: Sequence[Turn], message: str) -> str:
        return offline.reply(history, message)

    def stream(self, history: Sequence[Turn], message: str) -> Iterator[str]:
        for index, chunk in enumerate(offline.reply_chunks(history, message)):
            if index and self.chunk_delay_seconds:
                time.sleep(self.chunk_delay_seconds)
            yield chunk

    def continue_stream(self, history: Sequence[Turn], message: str, prefix: str) -> Iterator[str]:
        """The rest of a reply whose first ``prefix`` characters were written by an earlier run (a turn taken
        over, ``chat.turns``): the reply is deterministic, so it is regenerated and the prefix skipped, without
        the typing pause for the skipped part. ValueError if the regenerated reply does not start so."""
        chunks = list(offline.reply_chunks(history, message))
        if not "".join(chunks).startswith(prefix):
            raise ValueError("the regenerated reply does not continue the partial one")
        written = 0
        for chunk in chunks:
            begins, written = written, written + len(chunk)
            if written <= len(prefix):
                continue
            if self.chunk_delay_seconds:
                time.sleep(self.chunk_delay_seconds)
            yield chunk[max(0, len(prefix) - begins) :]

    def check_available(self) -> None:
        pass  # never down

    def close(self) -> None:
        pass


def build_agent(settings: Settings) -> Agent:
    """The configured agent; the OpenAI client gets its own per-worker breaker (built here, so per worker)."""
    if settings.agent_provider == "openai":
        breaker = CircuitBreaker("model-upstream", settings.breaker_failure_threshold, settings.breaker_reset_seconds)
        return OpenAIAgent(settings, breaker)
    return OfflineAgent(settings.offline_chunk_delay_ms / 1000)
