"""Who wrote a reply: the model, whether it was the degraded mode's offline assistant, and the tokens it used.

The ``Agent`` protocol returns text only; what the chat stores beside the text is noted here by the agent that
answered. The chat hands a ``Provenance`` to each call through ``run_noting`` or ``tracked``, which set it for one
synchronous step at a time: a stream's generator never holds a context variable across a ``yield`` (its next
step may run in another context: the reply pump's thread, or the next request of a kept-alive connection).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

OFFLINE_MODEL = "offline"


@dataclass
class Provenance:
    model: str | None = None  # OPENAI_MODEL (or OPENAI_FALLBACK_MODEL) of the upstream that answered, or "offline"
    degraded: bool = False  # the offline assistant answered because no model could
    usage: dict[str, int] | None = None  # the upstream's token counts, when it reported them

    def as_doc(self) -> dict[str, object]:
        """The fields stored on the reply (none for an unknown writer)."""
        doc: dict[str, object] = {}
        if self.model is not None:
            doc["model"] = self.model
        if self.degraded:
            doc["degraded"] = True
        if self.usage:
            doc["usage"] = dict(self.usage)
        return doc


_CURRENT: ContextVar[Provenance | None] = ContextVar("reply_provenance", default=None)


def current() -> Provenance | None:
    """The provenance of the call being made, for the agent to fill; None outside one."""
    return _CURRENT.get()


def run_noting(provenance: Provenance, call: Callable[[], T]) -> T:
    """``call()`` with ``provenance`` set for the agent to fill."""
    token = _CURRENT.set(provenance)
    try:
        return call()
    finally:
        _CURRENT.reset(token)


def tracked(provenance: Provenance, pieces: Iterator[str]) -> Iterator[str]:
    """``pieces`` with ``provenance`` set while each next piece is produced (and while it is closed)."""
    try:
        while True:
            token = _CURRENT.set(provenance)
            try:
                piece = next(pieces, None)
            finally:
                _CURRENT.reset(token)
            if piece is None:
                return
            yield piece
    finally:
        close = getattr(pieces, "close", None)
        if close is not None:
            token = _CURRENT.set(provenance)
            try:
                close()
            finally:
                _CURRENT.reset(token)
