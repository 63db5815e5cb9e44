"""What the chat needs of an agent: the ``Turn`` it is given and the ``Agent`` protocol it calls."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Turn:
    """One earlier message of the conversation."""

    role: str  # "user" or "assistant"
    content: str


class Agent(Protocol):
    """Answers a message given the earlier turns (oldest first). Errors are the ``agent.errors`` family or
    ``BudgetExceeded``; calls never outlive the request's budget."""

    def reply(self, history: Sequence[Turn], message: str) -> str: ...

    def stream(self, history: Sequence[Turn], message: str) -> Iterator[str]: ...

    def check_available(self) -> None:
        """Raise ``AgentUnavailable`` at once when the agent is known to be down (its circuit is open), so a
        turn is refused before anything is stored instead of storing a question nobody can answer."""

    def close(self) -> None: ...
