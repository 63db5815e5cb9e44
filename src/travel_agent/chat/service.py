"""A chat turn from start to end: store the question, gather the context, ask the agent, store the answer.

The user's message is stored before the agent is asked, so a failed or cut-off turn leaves it in the history
without an answer (reported as ``unanswered``); an answer is stored before the client hears it, so an answered
message is never lost.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pymongo
from pymongo.errors import PyMongoError

from travel_agent.agent.budget import RESERVE_SECONDS
from travel_agent.agent.interface import Agent
from travel_agent.chat.context_cache import ContextCache, merge
from travel_agent.chat.errors import IdempotencyKeyInFlight
from travel_agent.chat.idempotency import Claim, IdempotencyStore, TurnPlan, fingerprint
from travel_agent.chat.indexes import Indexes
from travel_agent.chat.pump import ReplyPump
from travel_agent.chat.store import ChatStore, Message, StoredSession, now
from travel_agent.errors import DependencyUnavailable, TravelAgentError
from travel_agent.web import request_scope

log = logging.getLogger("travel_agent.chat")

ANSWERED, UNANSWERED = "answered", "unanswered"
# How often a request waits to see whether the first request with its Idempotency-Key has finished.
IDEMPOTENCY_POLL_SECONDS = (0.05, 0.5)


@dataclass(frozen=True)
class Answer:
    session_id: str
    message_id: str
    reply: str
    created_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {"session_id": self.session_id, "message_id": self.message_id, "reply": self.reply,
                "created_at": self.created_at}


@dataclass(frozen=True)
class StartedTurn:
    """A turn whose question is stored: what the agent needs, and what storing its answer needs."""

    plan: TurnPlan
    question: Message
    history: list[Message]  # the context before the question, oldest first (bounded)
    version: int | None  # the session's version after the question was stored; None: do not touch the cache
    answer: Message | None = None  # already answered by an earlier attempt (an idempotent retry)


@dataclass(frozen=True)
class StreamEvent:
    kind: str  # "heartbeat", "chunk", "done" or "error"
    text: str = ""
    answer: Answer | None = None
    error: TravelAgentError | None = None


class ChatService:
    def __init__(self, store: ChatStore, indexes: Indexes, cache: ContextCache, idempotency: IdempotencyStore,
                 agent: Agent, heartbeat_seconds: float) -> None:
        self.store = store
        self.indexes = indexes
        self.cache = cache
        self.idempotency = idempotency
        self.agent = agent
        self.heartbeat_seconds = heartbeat_seconds

    # -- send ---------------------------------------------------------------------------------------------

    def send(self, message: str, session_id: str | None, idempotency_key: str | None = None) -> tuple[Answer, bool]:
        """The answer, and whether it is a replay of an earlier request with the same Idempotency-Key."""
        if idempotency_key is None:
            return self._run(TurnPlan.fresh(session_id), message), False
        # Before the key's bookkeeping (two MongoDB writes): with the agent known down the answer is a fast 503,
        # even for a retry whose answer is stored; it is replayed once the circuit closes.
        self.agent.check_available()
        claim = self._claim(idempotency_key, fingerprint(message, session_id), session_id)
        if claim.response is not None:
            return Answer(**claim.response), True
        assert claim.plan is not None and claim.attempt is not None
        try:
            with self.idempotency.keep(idempotency_key, claim.attempt):
                answer = self._run(claim.plan, message)
        except TravelAgentError as exc:
            # Let a retry take over now rather than when the lease runs out; not when MongoDB is down (the
            # attempt would only add its timeout to this answer, and the lease, no longer renewed, runs out
            # within IDEMPOTENCY_LEASE_SECONDS anyway).
            if not (isinstance(exc, DependencyUnavailable) and exc.dependency == "mongodb"):
                self._release(idempotency_key)
            raise
        try:
            self.idempotency.complete(idempotency_key, answer.as_dict())
        except TravelAgentError as exc:
            # The answer is stored: give it to the client. A retry with this key takes over once the lease
            # runs out, finds the stored answer and replays it without asking the agent again.
            log.warning("could not record the answer of an Idempotency-Key (%s)", type(exc).__name__)
        return answer, False

    def _claim(self, key: str, body: str, session_id: str | None) -> Claim:
        """Run the turn, replay it, or wait while a request with the same key runs it (two racing duplicates)."""
        plan = TurnPlan.fresh(session_id)
        pause, longest = IDEMPOTENCY_POLL_SECONDS
        while True:
            claim = self.idempotency.claim(key, body, plan)
            if claim.plan is not None or claim.response is not None:
                return claim
            left = request_scope.remaining()
            if left is not None and left - pause <= RESERVE_SECONDS:
                raise IdempotencyKeyInFlight()
            time.sleep(pause)
            pause = min(pause * 2, longest)

    def _release(self, key: str) -> None:
        try:
            self.idempotency.release(key)
        except TravelAgentError as exc:
            # MongoDB is down or the budget is spent: the record's lease runs out on its own (a retry then
            # takes over); the client still gets the agent's error, not this one.
            log.warning("could not release Idempotency-Key after a failed turn (%s); its lease will expire",
                        type(exc).__name__)

    def _run(self, plan: TurnPlan, message: str) -> Answer:
        turn = self.begin(plan, message)
        if turn.answer is not None:
            return _answer_of(turn.answer)
        history = [m.turn() for m in turn.history]
        pump = ReplyPump(lambda: [self.agent.reply(history, turn.question.content)], self.heartbeat_seconds)
        try:
            return self.finish(turn, pump.text())
        except TravelAgentError as exc:
            exc.context["session_id"] = plan.session_id  # the question is stored there, unanswered
            raise

    # -- the steps, shared with streaming -----------------------------------------------------------------

    def begin(self, plan: TurnPlan, message: str) -> StartedTurn:
        """Store the question (unless an earlier attempt did) and gather its context."""
        self.indexes.ensure()
        question = answer = None
        if plan.resumed:
            found = self.store.find(plan.session_id, [plan.user_message_id, plan.reply_id])
            question, answer = found.get(plan.user_message_id), found.get(plan.reply_id)
        if question is not None:
            # A retry of a turn whose question is stored: its context comes from MongoDB, and the cache is
            # left alone (its version says nothing about this older position).
            history = self.store.recent(plan.session_id, self.cache.limit, before_seq=question.seq)
            return StartedTurn(plan, question, history, None, answer)
        # Nothing is stored for a turn the agent cannot take: its circuit is open, the answer is a fast 503.
        self.agent.check_available()
        seq = self.store.reserve_turn(plan.session_id, create=plan.new_session)
        question = Message(plan.user_message_id, plan.session_id, seq, "user", message, now())
        version = self.store.add(question)
        recent = self.cache.get(plan.session_id, version - 1)
        if recent is None:
            recent = self.store.recent(plan.session_id, self.cache.limit + 1)
        recent = merge([*recent, question], self.cache.limit + 1)
        self.cache.put(plan.session_id, version, recent)
        return StartedTurn(plan, question, [m for m in recent if m.seq < question.seq][-self.cache.limit:], version)

    def finish(self, turn: StartedTurn, text: str) -> Answer:
        """Store the agent's answer right after its question, and keep the cache current if nobody else
        wrote in between."""
        reply = Message(turn.plan.reply_id, turn.plan.session_id, turn.question.seq + 1, "assistant", text, now(),
                        reply_to=turn.question.id)
        version = self.store.add(reply)
        if turn.version is not None and version == turn.version + 1:
            self.cache.put(turn.plan.session_id, version, [*turn.history, turn.question, reply])
        return _answer_of(reply)

    # -- stream -------------------------------------------------------------------------------------------

    def start_stream(self, message: str, session_id: str | None) -> StartedTurn:
        """The part of a streamed turn that can still fail with a plain status: storing the question."""
        return self.begin(TurnPlan.fresh(session_id), message)

    def stream(self, turn: StartedTurn) -> Iterator[StreamEvent]:
        """Heartbeats and chunks as the agent produces them, then "done" once the answer is stored, or an
        "error" (the question then stays unanswered; no partial answer is stored)."""
        history = [m.turn() for m in turn.history]
        pump = ReplyPump(lambda: self.agent.stream(history, turn.question.content), self.heartbeat_seconds)
        parts: list[str] = []
        try:
            for piece in pump.pieces():
                if piece is None:
                    yield StreamEvent("heartbeat")
                else:
                    parts.append(piece)
                    yield StreamEvent("chunk", piece)
            answer = self.finish(turn, "".join(parts))
        except TravelAgentError as exc:
            log.warning("streamed turn ended with %s: %s", exc.status_code, exc.message)
            yield StreamEvent("error", error=exc)
            return
        yield StreamEvent("done", answer=answer)

    # -- sessions -----------------------------------------------------------------------------------------

    def session(self, session_id: str, limit: int, before: int | None = None) -> tuple[StoredSession, dict[str, str]]:
        """A page of the session and the status of each of its questions (answered or unanswered), by message
        id; a page holds the answers of all its questions (see ``ChatStore.load``)."""
        stored = self.store.load(session_id, limit, before)
        answered = {m.reply_to for m in stored.messages if m.role == "assistant"}
        status = {m.id: ANSWERED if m.id in answered else UNANSWERED for m in stored.messages if m.role == "user"}
        return stored, status

    def delete(self, session_id: str) -> None:
        self.store.delete(session_id)
        self.cache.drop(session_id)

    # -- lifecycle ----------------------------------------------------------------------------------------

    def prepare(self, timeout: float) -> None:
        """At worker start: create the indexes within ``timeout`` seconds; never fatal, as a worker that
        raised here would stop gunicorn. Until it works, each request tries again before its first write."""
        try:
            with pymongo.timeout(timeout):
                self.indexes.ensure()
        except (TravelAgentError, PyMongoError) as exc:
            log.warning("chat indexes not created at start (%s); will retry on first use", type(exc).__name__)

    def close(self) -> None:
        self.agent.close()


def _answer_of(reply: Message) -> Answer:
    return Answer(reply.session_id, reply.id, reply.content, reply.created_at)
