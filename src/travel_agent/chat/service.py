"""A chat turn from start to end: store the question, gather the context, ask the agent, store the answer.

The user's message is stored before the agent is asked, so a failed or cut-off turn leaves it in the history
without an answer (reported as ``unanswered``); an answer is stored before the client hears it, so an answered
message is never lost.

A session deleted while one of its turns runs loses everything: the turn removes what it stored after the
delete and answers 404 (``ChatStore.confirm``), and a retry with its Idempotency-Key answers 404 without
creating the session again (``IdempotencyStore.forget_session`` and the check after ``reserve_turn``).

The round trips of a turn, each needed for a guarantee (``tools/benchmarks/round_trips.py`` counts them,
``tests/app/chat/test_chat_round_trips.py`` pins the counts; docs/PERFORMANCE.md lists them):

* reserve two positions (findAndModify on the session): positions decide the order of overlapping turns, and
  the same write says whether the session exists (404) or creates it;
* insert the question, before the agent is asked: a failed turn leaves it ``unanswered``, never lost;
* one aggregation after that insert (``ChatStore.context``): which messages make up the context (always
  MongoDB's say, see ``context_cache``), whether the session was deleted meanwhile (the question's
  ``confirm``) and, for a keyed new session, whether its key was tombstoned;
* with Redis, one GET for the text of those messages (skipped when there are none), and a find for any
  the cache lacks;
* insert the answer, before the client hears it, and one SET to cache the context for the next turn;
* the answer's ``confirm`` (a find of the session): the only later command that could carry it is the
  Idempotency-Key's ``complete``, which does carry it for keyed sends (see ``finish``).

An Idempotency-Key adds its claim (an insert) and nothing else per turn.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pymongo
from pymongo.errors import PyMongoError

from travel_agent import request_context
from travel_agent.agent.budget import RESERVE_SECONDS, time_left
from travel_agent.agent.errors import crashed
from travel_agent.agent.interface import Agent, Turn
from travel_agent.agent.provenance import Provenance, run_noting
from travel_agent.chat import turn_counts
from travel_agent.chat.context_cache import ContextCache
from travel_agent.chat.errors import IdempotencyKeyInFlight, SessionNotFound
from travel_agent.chat.idempotency import Claim, IdempotencyStore, TurnPlan, fingerprint, is_forgotten
from travel_agent.chat.indexes import Indexes
from travel_agent.chat.pump import agent_text
from travel_agent.chat.store import ChatStore, Context, Message, StoredSession, now
from travel_agent.errors import BudgetExceeded, DependencyUnavailable, TravelAgentError

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
    degraded: bool = False  # written by the offline assistant because no model could answer

    def as_dict(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "message_id": self.message_id,
            "reply": self.reply,
            "created_at": self.created_at,
            "degraded": self.degraded,
        }


@dataclass(frozen=True)
class StartedTurn:
    """A turn whose question is stored: what the agent needs, and what storing its answer needs."""

    plan: TurnPlan
    question: Message
    history: list[Message]  # the context before the question, oldest first (bounded)
    answer: Message | None = None  # already answered by an earlier attempt (an idempotent retry)


class ChatService:
    def __init__(
        self,
        store: ChatStore,
        indexes: Indexes,
        cache: ContextCache,
        idempotency: IdempotencyStore,
        agent: Agent,
        heartbeat_seconds: float,
    ) -> None:
        self.store = store
        self.indexes = indexes
        self.cache = cache
        self.idempotency = idempotency
        self.agent = agent
        self.heartbeat_seconds = heartbeat_seconds

    # -- send ---------------------------------------------------------------------------------------------

    @turn_counts.counted_send
    def send(self, message: str, session_id: str | None, idempotency_key: str | None = None) -> tuple[Answer, bool]:
        """The answer, and whether it is a replay of an earlier request with the same Idempotency-Key."""
        if idempotency_key is None:
            return self._run(TurnPlan.fresh(session_id), message, None)[0], False
        # Before the key's bookkeeping (two MongoDB writes): with the agent known down the answer is a fast 503,
        # even for a retry whose answer is stored; it is replayed once the circuit closes.
        self.agent.check_available()
        claim = self._claim(idempotency_key, fingerprint(message, session_id), session_id)
        if claim.response is not None:
            return Answer(**claim.response), True
        assert claim.plan is not None and claim.attempt is not None
        try:
            with self.idempotency.keep(idempotency_key, claim.attempt):
                answer, recorded = self._run(claim.plan, message, idempotency_key)
        except SessionNotFound:
            self._forget(idempotency_key)
            raise
        except TravelAgentError as exc:
            # Let a retry take over now rather than when the lease runs out; not when MongoDB is down (the
            # attempt would only add its timeout to this answer, and the lease, no longer renewed, runs out
            # within IDEMPOTENCY_LEASE_SECONDS anyway).
            if not (isinstance(exc, DependencyUnavailable) and exc.dependency == "mongodb"):
                self._release(idempotency_key)
            raise
        if not recorded:  # replayed from an earlier attempt's stored answer
            self._complete(idempotency_key, answer)
        return answer, False

    def _complete(self, key: str, answer: Answer) -> bool:
        """Record the answer under its key; whether that worked (see ``IdempotencyStore.complete``)."""
        try:
            return self.idempotency.complete(key, answer.as_dict())
        except TravelAgentError as exc:
            # The answer is stored: give it to the client. A retry with this key takes over once the lease
            # runs out, finds the stored answer and replays it without asking the agent again.
            log.warning("could not record the answer of an Idempotency-Key (%s)", type(exc).__name__)
            return False

    def _claim(self, key: str, body: str, session_id: str | None) -> Claim:
        """Run the turn, replay it, or wait while a request with the same key runs it (two racing duplicates)."""
        plan = TurnPlan.fresh(session_id)
        pause, longest = IDEMPOTENCY_POLL_SECONDS
        while True:
            claim = self.idempotency.claim(key, body, plan)
            if claim.plan is not None or claim.response is not None:
                return claim
            left = request_context.remaining()
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
            log.warning(
                "could not release Idempotency-Key after a failed turn (%s); its lease will expire", type(exc).__name__
            )

    def _forget(self, key: str) -> None:
        try:
            self.idempotency.forget(key)
        except TravelAgentError as exc:
            # The record still holds the plan; a retry runs it and finds the session gone (404) again, unless
            # it is one that creates its session: that one checks the record first (see ``begin``).
            log.warning("could not mark an Idempotency-Key of a deleted session (%s)", type(exc).__name__)

    def _run(self, plan: TurnPlan, message: str, key: str | None) -> tuple[Answer, bool]:
        """The answer, and whether it is recorded under ``key`` already."""
        turn = self.begin(plan, message, key)
        if turn.answer is not None:
            return _answer_of(turn.answer), False
        history = [Turn(m.role, m.content) for m in turn.history]
        written_by = Provenance()
        try:
            return self.finish(turn, self._reply(history, turn.question.content, written_by), key, written_by)
        except TravelAgentError as exc:
            exc.context["session_id"] = plan.session_id  # the question is stored there, unanswered
            raise

    def _reply(self, history: list[Turn], question: str, written_by: Provenance) -> str:
        """The agent's whole reply within the budget: through ``chat.pump`` for an agent that waits on anything,
        so the request keeps its deadline; directly in this greenlet for one whose ``reply`` only
        computes (``replies_without_waiting``), as nothing could preempt that beside the request either (gevent
        switches only when a greenlet waits), and the pump's greenlet and queue would be pure cost."""

        def ask() -> str:
            return run_noting(written_by, lambda: self.agent.reply(history, question))

        if not getattr(self.agent, "replies_without_waiting", False):
            return agent_text(lambda: [ask()], self.heartbeat_seconds)
        left = time_left()
        if left is not None and left <= 0:
            raise BudgetExceeded()
        try:
            return ask()
        except TravelAgentError:
            raise
        except Exception as exc:  # as ReplyPump does: a provider's bug ends the turn with an agent error
            raise crashed(exc) from exc

    # -- the steps, shared with streaming -----------------------------------------------------------------

    def begin(self, plan: TurnPlan, message: str, key: str | None = None) -> StartedTurn:
        """Store the question (unless an earlier attempt did) and gather its context. ``key``: the
        Idempotency-Key running this plan, if any."""
        self.indexes.ensure()
        question = answer = None
        if plan.resumed:
            found = self.store.find(plan.session_id, [plan.user_message_id, plan.reply_id])
            question, answer = found.get(plan.user_message_id), found.get(plan.reply_id)
        if question is not None:
            # A retry of a turn whose question is stored: its context comes from MongoDB.
            history = self.store.recent(plan.session_id, self.cache.limit, before_seq=question.seq)
            return StartedTurn(plan, question, history, answer)
        # Nothing is stored for a turn the agent cannot take: its circuit is open, the answer is a fast 503.
        self.agent.check_available()
        seq = self.store.reserve_turn(plan.session_id, create=plan.new_session)
        question = Message(plan.user_message_id, plan.session_id, seq, "user", message, now())
        self.store.insert(question)
        # A keyed new session may have been created by this plan before, deleted, and created again by the
        # reservation above (a retry, or a first attempt that stalled while a retry answered). The delete
        # tombstones the key before it removes the session, so a record not tombstoned in the read below
        # (after the reservation and the insert) means a delete, if any, removes both later; a tombstoned
        # one means this turn removes the session itself.
        check = key if plan.new_session else None
        context = self.store.context(
            plan.session_id, self.cache.limit, before_seq=seq, whole=not self.cache.enabled, key=check
        )
        if check is not None and is_forgotten(context.key_state):
            self._discard(plan.session_id)
            raise SessionNotFound()
        if not context.session_exists:  # deleted since the reservation: see ChatStore.confirm
            self.store.discard(question)
            self.cache.drop(plan.session_id)
            raise SessionNotFound()
        history = context.messages if context.messages is not None else self._texts(plan.session_id, context)
        return StartedTurn(plan, question, history)

    def _texts(self, session_id: str, context: Context) -> list[Message]:
        """The listed messages whole: their text from the cache when it has them, else from MongoDB (see
        ``context_cache`` for why that is exact)."""
        if not context.positions:
            return []  # a new session: nothing to ask Redis for
        cached = self.cache.get(session_id)
        found = {id_: cached[id_] for seq, id_ in context.positions if id_ in cached and cached[id_].seq == seq}
        missing = [id_ for _seq, id_ in context.positions if id_ not in found]
        if missing:
            found |= self.store.find(session_id, missing)
        # A listed message missing from both: its session was deleted between the reads; the answer's
        # confirm says so.
        return [found[id_] for _seq, id_ in context.positions if id_ in found]

    def _confirm(self, message: Message) -> None:
        try:
            self.store.confirm(message)
        except SessionNotFound:
            self.cache.drop(message.session_id)
            raise

    def _discard(self, session_id: str) -> None:
        self.store.delete(session_id)  # SessionNotFound if someone else removed it meanwhile: also 404
        self.cache.drop(session_id)

    def finish(
        self, turn: StartedTurn, text: str, key: str | None = None, written_by: Provenance | None = None
    ) -> tuple[Answer, bool]:
        """Store the agent's answer right after its question (404, stored nowhere, if the session was deleted
        meanwhile) and keep its text in the cache for the next turn. With ``key``, also record the answer under
        it; returns the answer and whether that was recorded. ``written_by``: the model (or the degraded
        mode) that wrote it, stored with it."""
        reply = Message(
            turn.plan.reply_id,
            turn.plan.session_id,
            turn.question.seq + 1,
            "assistant",
            text,
            now(),
            reply_to=turn.question.id,
            written_by=written_by.as_doc() if written_by is not None else {},
        )
        self.store.insert(reply)
        # Before the confirm, so a delete that finished meanwhile also removes the entry (see ``delete``).
        self.cache.put(turn.plan.session_id, [*turn.history, turn.question, reply])
        answer = _answer_of(reply)
        # A record that took the answer is this insert's confirm (IdempotencyStore.complete says why); one that
        # did not (a tombstone, or the write failed) leaves the question to the session read.
        recorded = key is not None and self._complete(key, answer)
        if not recorded:
            self._confirm(reply)
        return answer, recorded

    # -- sessions -----------------------------------------------------------------------------------------

    def session(self, session_id: str, limit: int, before: int | None = None) -> tuple[StoredSession, dict[str, str]]:
        """A page of the session and the status of each of its questions (answered or unanswered), by message
        id; a page holds the answers of all its questions (see ``ChatStore.load``)."""
        stored = self.store.load(session_id, limit, before)
        answered = {m.reply_to for m in stored.messages if m.role == "assistant"}
        status = {m.id: ANSWERED if m.id in answered else UNANSWERED for m in stored.messages if m.role == "user"}
        return stored, status

    def delete(self, session_id: str) -> None:
        """The keys' records first (a keyed retry then answers 404 rather than create the session again; see
        ``begin``), then the session and its messages, then the cache (after the session: a turn's cache write
        is followed by its ``_confirm``, which either ran before the session's removal, and this drop comes
        later, or drops the entry itself)."""
        self.idempotency.forget_session(session_id)
        try:
            self.store.delete(session_id)
        finally:
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
    return Answer(reply.session_id, reply.id, reply.content, reply.created_at, reply.degraded)
