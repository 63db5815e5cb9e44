"""The degraded mode: the first model upstream, then the second (OPENAI_FALLBACK_BASE_URL), then the offline
assistant (AGENT_FALLBACK=offline), each asked only when the one before could not answer.

"Could not answer": its circuit is open, it refused or was unreachable, it answered 5xx after its retries or
something unusable, or it sent nothing while only the later ones' share of the budget was left. A stream falls
back only before its first piece: text the client has seen cannot be taken back, so a stream that breaks
later ends with its error, as without a fallback. The offline assistant's answers are marked degraded (the
send body, the stream's ``done`` and the stored reply); the second upstream's are not, and the stored reply
names the model that wrote it (``agent.provenance``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator, Iterator, Sequence

from travel_agent.agent import provenance
from travel_agent.agent.budget import MIN_CALL_SECONDS, capped, uncapped_time_left
from travel_agent.agent.errors import AgentError, AgentUnavailable, CircuitOpen
from travel_agent.agent.interface import Agent, Turn
from travel_agent.errors import BudgetExceeded

log = logging.getLogger("travel_agent.agent.fallback")

# The part of the time left that the first upstream leaves to a second one: a model that has sent nothing by
# then is given up for the second, which still has about a third of the budget for its answer.
SECOND_UPSTREAM_SHARE = 0.3
# What the offline assistant needs: it computes its answer in milliseconds (storing it has its own reserve).
OFFLINE_SHARE_SECONDS = 0.5


class FallbackAgent:
    """``upstreams`` in order (the first, then the second if configured), then ``offline`` if given."""

    replies_without_waiting = False  # the upstreams wait on the network: the chat runs it through chat.pump

    def __init__(self, upstreams: Sequence[Agent], offline: Agent | None) -> None:
        self.upstreams = list(upstreams)
        self.offline = offline

    def check_available(self) -> None:
        """With the offline assistant behind them, never refuses; else refuses only when every upstream's
        circuit is open (asking one may take its trial, as a lone upstream's check does)."""
        if self.offline is not None:
            return
        refused: AgentUnavailable | None = None
        for agent in self.upstreams:
            try:
                agent.check_available()
                return
            except AgentUnavailable as exc:
                refused = exc
        assert refused is not None
        raise refused

    def reply(self, history: Sequence[Turn], message: str) -> str:
        failure: BaseException | None = None
        for agent, deadline in zip(self.upstreams, self._deadlines(), strict=True):
            try:
                with capped(deadline):
                    return agent.reply(history, message)
            except (AgentError, BudgetExceeded) as exc:
                failure = self._fall_back_from(agent, exc)
        return self._offline(failure).reply(history, message)

    def stream(self, history: Sequence[Turn], message: str) -> Iterator[str]:
        answered, failure = yield from self._first_that_answers(lambda agent: agent.stream(history, message))
        if not answered:
            yield from self._offline(failure).stream(history, message)

    def continue_stream(self, history: Sequence[Turn], message: str, prefix: str) -> Iterator[str]:
        """The rest of a partial answer (a turn taken over, ``chat.turns``), from the first upstream that can
        continue it; the offline assistant cannot continue a model's text, so without one the turn fails."""
        answered, failure = yield from self._first_that_answers(
            lambda agent: agent.continue_stream(history, message, prefix)  # type: ignore[attr-defined]
        )
        if not answered:
            raise failure or AgentError()

    def _first_that_answers(
        self, call: Callable[[Agent], Iterator[str]]
    ) -> Generator[str, None, tuple[bool, BaseException | None]]:
        """``call``'s pieces from each upstream in turn: (True, None) once one answered, else (False, the last
        failure)."""
        failure: BaseException | None = None
        for agent, deadline in zip(self.upstreams, self._deadlines(), strict=True):
            pieces = call(agent)
            sent = False
            try:
                while True:
                    # Capped only until the first piece: after it there is no falling back.
                    with capped(None if sent else deadline):
                        piece = next(pieces, None)
                    if piece is None:
                        return True, None
                    sent = True
                    yield piece
            except (AgentError, BudgetExceeded) as exc:
                if sent:
                    raise
                failure = self._fall_back_from(agent, exc)
            finally:
                close = getattr(pieces, "close", None)
                if close is not None:
                    close()  # a generator: closes its upstream response
        return False, failure

    def close(self) -> None:
        for agent in self.upstreams:
            agent.close()

    # -- the steps -----------------------------------------------------------------------------------------

    def _deadlines(self) -> list[float | None]:
        """For each upstream, when it stops so that the ones after it keep their share (None: no cap)."""
        left = uncapped_time_left()
        caps: list[float | None] = [None] * len(self.upstreams)
        if left is None:
            return caps  # outside a request: each call keeps its own timeouts
        now = time.monotonic()
        # A quarter at most: a tiny budget (CHAT_TIMEOUT_SECONDS of a second or two) still asks the model.
        offline_share = min(OFFLINE_SHARE_SECONDS, left / 4) if self.offline is not None else 0.0
        second_share = left * SECOND_UPSTREAM_SHARE if len(self.upstreams) > 1 else 0.0
        for index in range(len(self.upstreams)):
            behind = offline_share + (second_share if index + 1 < len(self.upstreams) else 0.0)
            caps[index] = now + left - behind if behind else None
        return caps

    def _fall_back_from(self, agent: Agent, exc: BaseException) -> BaseException:
        """``exc`` when the next in line may answer; raised again when the request's own budget is spent."""
        if isinstance(exc, BudgetExceeded):
            left = uncapped_time_left()
            if left is not None and left <= MIN_CALL_SECONDS:
                raise exc  # the request's own budget, not the share: a 504, nothing left to fall back with
        # An open circuit was logged once when it opened: each turn it turns away is not worth a warning.
        level = logging.INFO if isinstance(exc, CircuitOpen) else logging.WARNING
        log.log(
            level,
            "model upstream %s could not answer (%s): asking the next in line",
            getattr(agent, "upstream", "?"),
            type(exc).__name__,
        )
        return exc

    def _offline(self, failure: BaseException | None) -> Agent:
        """The offline assistant, noted as the degraded writer of this reply; the last failure without one."""
        if self.offline is None:
            assert failure is not None
            raise failure
        noted = provenance.current()
        if noted is not None:
            noted.model, noted.degraded, noted.usage = provenance.OFFLINE_MODEL, True, None
        return self.offline
