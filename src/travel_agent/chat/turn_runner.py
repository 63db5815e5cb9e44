"""One run of a streamed turn, detached from every client: the agent's text made durable, then shown.

A runner is started by the request that stores the question, or by whoever takes a turn over (``chat.turns``),
and runs in a greenlet (a thread outside gevent) of its own with its own budget, so the turn ends, answered or
failed, whatever its clients do: no client keeps it alive and none can cut it short.

Text reaches the clients only once it is durable elsewhere than this worker: appended to the turn's Redis
Stream (at most every TURN_RELAY_SECONDS), or, with Redis off or failing, checkpointed to MongoDB (at most every
TURN_CHECKPOINT_SECONDS), or stored as the answer. So whatever any client was shown survives this worker, and a
take-over continues from at least that much: no client ever holds text the stored answer does not start with.

A drain whose cut-off comes before the turn can finish hands it over: the partial answer is checkpointed, the
lease given up, and this worker's clients are told ``resume``.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from pymongo.errors import DuplicateKeyError

from travel_agent import formats, request_context
from travel_agent.agent.interface import Turn
from travel_agent.agent.provenance import Provenance, tracked
from travel_agent.chat import turn_counts
from travel_agent.chat.errors import PositionTaken, SessionNotFound
from travel_agent.chat.pump import detached_pieces
from travel_agent.chat.service import Answer, ChatService, StartedTurn
from travel_agent.chat.turn_feed import FeedRegistry, TurnFeed
from travel_agent.chat.turn_leases import LeaseKeeper
from travel_agent.chat.turn_records import FAILED, HANDED, TurnRecords, TurnRelay, terminal_entry, text_entry
from travel_agent.errors import UNEXPECTED_MESSAGE, BudgetExceeded, TravelAgentError, as_seen_by_client


class RunnerHost(Protocol):
    """What a runner needs of ``chat.turns.Turns`` (a protocol: that module imports this one)."""

    chat: ChatService
    records: TurnRecords
    relay: TurnRelay
    feeds: FeedRegistry
    leases: LeaseKeeper
    budget_seconds: float
    checkpoint_seconds: float
    relay_seconds: float
    lease_beat_seconds: float
    heartbeat_seconds: float

    def resume_data(self, session_id: str, turn_id: str) -> dict[str, str]: ...

    def forget_turns(self, session_id: str, turn_ids: list[str]) -> None: ...


log = logging.getLogger("travel_agent.chat.turns")


# A draining worker hands its turns over this long before its cut-off, not at the agent's last moment: the
# hand-over's two writes must land before the drain cuts the request that drives the turn, even when every
# turn of the worker hands over at once.
HAND_OVER_MARGIN_SECONDS = 1.5


def _hand_over_due() -> bool:
    if not request_context.draining():
        return False
    left = request_context.remaining()
    return left is not None and left <= HAND_OVER_MARGIN_SECONDS and request_context.cut_by_drain()


class Superseded(Exception):
    """Another worker took this turn over (this one was thought dead): stop without storing anything."""


def spawn(target: Callable[[], None], name: str) -> None:
    """Run ``target`` detached: a bare greenlet in a gevent worker, a daemon thread elsewhere. Started with an
    empty context (the caller's request id and deadline do not follow it)."""
    context = contextvars.Context()
    from gevent import monkey

    if monkey.is_module_patched("threading"):
        import gevent

        gevent.spawn_raw(context.run, target)
    else:
        threading.Thread(target=context.run, args=(target,), name=name, daemon=True).start()


def done_data(answer: Answer) -> dict[str, Any]:
    return {
        "session_id": answer.session_id,
        "message_id": answer.message_id,
        "created_at": answer.created_at.isoformat(),
        "degraded": answer.degraded,
    }


def error_data(exc: TravelAgentError, session_id: str, request_id: str | None) -> dict[str, Any]:
    """The envelope a plain request would get (a drain's cut-off is a 503 with a retry hint)."""
    error = as_seen_by_client(exc)
    data = formats.error_body(
        error.status_code, error.message, kind=error.kind, request_id=request_id, context={"session_id": session_id}
    )
    if error.retry_after is not None:
        data["retry_after"] = error.retry_after
    return data


class TurnRunner:
    def __init__(
        self,
        turns: RunnerHost,
        feed: TurnFeed,
        turn: StartedTurn,
        *,
        owner: str,
        gen: int = 0,
        prefix: str = "",
        key: str | None = None,
        request_id: str | None = None,
    ) -> None:
        self.turns, self.feed, self.turn = turns, feed, turn
        self.owner, self.gen, self.key = owner, gen, key
        self.request_id = request_id or request_context.sane_request_id(None)
        self.parts = [prefix] if prefix else []
        self.length = len(prefix)
        self.durable = len(prefix)  # what is safe elsewhere than this worker
        self.shown = min(len(prefix), feed.length) if feed.gen == gen else 0  # what this worker's clients have
        self.started = time.monotonic()
        self.relayed_at = self.checkpointed_at = self.started
        self.recorded = False  # a checkpoint exists, so others can see (and take over) this turn
        self.steps: Iterator[str] | None = None
        self.ended = False
        self.deadline: float | None = None
        self.client_write: Callable[[bytes], object] | None = None
        self.client_gone = False
        self.written_by = Provenance()  # the model (or the degraded mode) that writes this answer

    @property
    def turn_id(self) -> str:
        return self.turn.question.id

    @property
    def session_id(self) -> str:
        return self.turn.plan.session_id

    # -- driving: by the asking request while its client listens, else by a greenlet of its own ------------

    def attach(self, client_write: Callable[[bytes], object] | None) -> None:
        """The asking request drives this run (``step``), in its own greenlet: a held stream then costs one
        greenlet, not two. ``client_write`` sends heartbeats from inside the agent's waits (gunicorn's
        ``write``; None elsewhere: ``step`` then says "silence" and the caller sends them)."""
        self.feed.local = True
        self.client_write = client_write
        self.deadline = request_context.deadline()

    def step(self) -> str:
        """Run the turn until its next piece of text ("text"), a silence ("silence") or its end ("end")."""
        if self.steps is None:
            self.steps = self._steps()
        step = next(self.steps, "end")
        if step == "end":
            self._ended()
        return step

    def detach(self) -> None:
        """The client left while the turn runs: a greenlet of its own runs it on, within the same budget."""
        self.client_write = None
        if not self.ended:
            spawn(self._run_on, "turn-runner")

    def start(self) -> None:
        """Run the turn detached from the start (a take-over), with a fresh budget."""
        self.feed.local = True
        self.deadline = None
        spawn(self._run_on, "turn-runner")

    def _run_on(self) -> None:
        budget = self.turns.budget_seconds
        if self.deadline is not None:  # what is left of the budget counted from the turn's start
            budget = max(0.0, self.deadline - time.monotonic())
        tokens = request_context.bind(self.request_id, budget)
        try:
            while self.step() != "end":
                pass
        finally:
            request_context.unbind(tokens)

    def _ended(self) -> None:
        if not self.ended:
            self.ended = True
            self.feed.local = False
            self.turns.feeds.writer_done(self.feed)

    def _steps(self) -> Iterator[str]:
        # The lease is renewed with the worker's other turns while this one runs, and never after: whatever ends
        # the run (a kill of its greenlet included), a lease kept alive for a dead run would make it immortal.
        self.turns.leases.hold(self.turn_id)
        try:
            yield from self._turn_steps()
        finally:
            self.turns.leases.release(self.turn_id)

    def _turn_steps(self) -> Iterator[str]:
        try:
            every = min(self.turns.heartbeat_seconds, self.turns.lease_beat_seconds)
            for piece in detached_pieces(self._produce(), every, self._silence):
                if piece is None:
                    self._silence()
                    yield "silence"
                elif piece:
                    self.parts.append(piece)
                    self.length += len(piece)
                    self._publish()
                    yield "text"
                if _hand_over_due():
                    raise BudgetExceeded()
            answer = self._store()
        except Superseded:
            log.info("turn taken over by another worker; this run stops")
            # This worker's followers follow the new owner from a resume.
            self.feed.finish("resume", self.turns.resume_data(self.session_id, self.turn_id))
            return
        except BudgetExceeded as exc:
            if request_context.cut_by_drain():
                self._hand_over()
            else:
                self._fail(exc)
            return
        except TravelAgentError as exc:
            self._fail(exc)
            return
        except Exception as exc:  # a bug of ours, or a driver's error that is no outage: the turn still ends
            log.error("unhandled exception in a chat stream (its turn ends with an error)", exc_info=exc)
            self._fail(TravelAgentError(UNEXPECTED_MESSAGE))
            return
        self._finish(answer)

    def _silence(self) -> None:
        """The agent is silent: a heartbeat to the client driving this run (if it writes directly), and the
        turn's record created once it has been silent for a lease beat, so that a crash now can still be taken
        over (its lease is then renewed by the worker's ``LeaseKeeper``, not by a write of its own)."""
        write = self.client_write
        if write is not None:
            try:
                write(formats.SSE_HEARTBEAT)
            except OSError:
                self.client_write = None  # gone: the request detaches the run at its next step
                self.client_gone = True
        if not self.recorded and time.monotonic() - self.checkpointed_at >= self.turns.lease_beat_seconds:
            self._checkpoint()
            self._show()

    def _produce(self) -> Callable[[], Iterable[str]]:
        agent = self.turns.chat.agent
        history = [Turn(m.role, m.content) for m in self.turn.history]
        question = self.turn.question.content
        prefix = "".join(self.parts)
        written_by = self.written_by
        if not prefix:
            return lambda: tracked(written_by, agent.stream(history, question))
        continuing = agent.continue_stream  # type: ignore[attr-defined]
        return lambda: tracked(written_by, continuing(history, question, prefix))

    # -- making text durable, then showing it ---------------------------------------------------------

    def text(self) -> str:
        return "".join(self.parts)

    def _publish(self) -> None:
        moment = time.monotonic()
        if self.turns.relay.enabled and moment - self.relayed_at >= self.turns.relay_seconds:
            self.relayed_at = moment
            pending = self.text()[self.durable :]
            if self.turns.relay.append(self.turn_id, [text_entry(self.gen, self.durable, pending)]):
                self.durable = self.length
        if moment - self.checkpointed_at >= self.turns.checkpoint_seconds:
            self._checkpoint()
        self._show()

    def _show(self) -> None:
        if self.durable > self.shown:
            self.feed.extend(self.gen, self.shown, self.text()[self.shown : self.durable])
            self.shown = self.durable

    def _checkpoint(self, state: str = "running", error: dict[str, Any] | None = None) -> None:
        self.checkpointed_at = time.monotonic()
        try:
            kept = self.turns.records.checkpoint(
                self.turn_id, self.session_id, self.owner, self.gen, self.text(), state=state, error=error, key=self.key
            )
        except BudgetExceeded:
            raise
        except TravelAgentError as exc:
            # The answer's own insert decides whether the turn can be stored; a checkpoint is only insurance.
            log.warning("could not checkpoint a running turn (%s)", type(exc).__name__)
            return
        if not kept:
            raise Superseded()
        self.recorded = True
        self.durable = self.length

    @contextmanager
    def _unbounded(self) -> Iterator[None]:
        """The writes that end a turn, outside its spent budget: each call gets its gateway's own timeout."""
        tokens = request_context.bind(self.request_id, None)
        try:
            yield
        finally:
            request_context.unbind(tokens)

    # -- the ends -------------------------------------------------------------------------------------

    def _store(self) -> Answer:
        try:
            answer, _recorded = self.turns.chat.finish(self.turn, self.text(), self.key, self.written_by)
        except (DuplicateKeyError, PositionTaken):
            # Stored meanwhile by a worker that took the turn over: there is one answer, and it is that one.
            _question, stored = self.turns.records.question_and_answer(self.session_id, self.turn_id)
            if stored is None:
                raise
            raise Superseded() from None
        return answer

    def _finish(self, answer: Answer) -> None:
        text = answer.reply
        entries = [terminal_entry(self.gen, "done", done_data(answer))]
        if len(text) > self.durable:
            entries.insert(0, text_entry(self.gen, self.durable, text[self.durable :]))
        with self._unbounded():
            self.turns.relay.append(self.turn_id, entries)
        self.durable = len(text)
        self._show()
        turn_counts.answered("stream", answer)
        self.feed.finish("done", done_data(answer))

    def _hand_over(self) -> None:
        """The drain's cut-off comes first: checkpoint the partial answer, give the lease up, tell ``resume``.
        Outside the request's deadline (it is spent): the drain margin is left before the kill."""
        with self._unbounded():
            self._checkpoint(HANDED)
            log.info("turn handed over at the drain (%d characters written)", self.length)
            self.turns.relay.append(self.turn_id, [terminal_entry(self.gen, "resume", {})])
        self._show()
        self.feed.finish("resume", self.turns.resume_data(self.session_id, self.turn_id))

    def _fail(self, exc: TravelAgentError) -> None:
        log.warning("streamed turn ended with %s: %s", exc.status_code, exc.message)
        turn_counts.failed("stream", exc)
        data = error_data(exc, self.session_id, self.request_id)
        if isinstance(exc, SessionNotFound):
            # Deleted while it ran: nothing of the session may stay behind, its partial answer included.
            with self._unbounded():
                self.turns.forget_turns(self.session_id, [self.turn_id])
            self.feed.finish("error", data)
            return
        with self._unbounded():
            try:
                self._checkpoint(FAILED, data)
            except Superseded:
                pass
            self.turns.relay.append(self.turn_id, [terminal_entry(self.gen, "error", data)])
            if self.key is not None:
                self.turns.chat._release(self.key)  # a retry with the key takes the turn at once
        self._show()
        self.feed.finish("error", data)
