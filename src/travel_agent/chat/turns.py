"""Streamed turns that outlive their clients and their worker: asking, following, and taking over.

``ask`` stores the question (as ``ChatService.begin`` always did) and starts the turn's runner
(``chat.turn_runner``), detached from the request; the request then only follows the turn's feed
(``chat.turn_feed``). ``follow`` is a resume: the same feed when the turn runs in this worker, else one filled
from the stored answer, the turn's checkpoint (MongoDB) and its Redis Stream by one poller per turn and worker.

A turn whose owner died (its lease ran out) or handed it over at a drain is taken by the poller of whoever
follows it (unless this worker drains too): exactly one worker wins the lease (``TurnRecords.take``), runs the
turn on from the longest text any client can have been shown, and the answer, whose id is fixed by the
question's (``reply_id_of``), is stored once whoever finishes it.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any

from travel_agent import formats, request_context
from travel_agent.chat import turn_counts
from travel_agent.chat.errors import IdempotencyKeyInFlight, MessageNotFound, SessionNotFound
from travel_agent.chat.idempotency import TurnPlan, fingerprint
from travel_agent.chat.service import ChatService, StartedTurn
from travel_agent.chat.service import _answer_of as answer_of
from travel_agent.chat.store import new_message_id, new_session_id, now
from travel_agent.chat.turn_feed import FeedRegistry, TurnFeed
from travel_agent.chat.turn_leases import LeaseKeeper
from travel_agent.chat.turn_records import FAILED, Checkpoint, TurnRecords, TurnRelay
from travel_agent.chat.turn_runner import TurnRunner, done_data, spawn
from travel_agent.config import Settings
from travel_agent.errors import TravelAgentError

ClientWriter = Callable[[bytes], object]

log = logging.getLogger("travel_agent.chat.turns")

# How often a follower's poller reads the turn's Redis Stream, and how often MongoDB (its checkpoint, its stored
# answer, its lease) when Redis answers and when it does not.
POLL_SECONDS = 0.1
CHECK_SECONDS, CHECK_WITHOUT_REDIS_SECONDS = 1.0, 0.25
GAVE_UP = "The assistant could not finish this answer. Please ask again."


def reply_id_of(question_id: str) -> str:
    """The answer's id, derived from its question's: whichever worker finishes a turn stores the same
    message, so a turn is answered once even when a worker thought dead finishes it too."""
    digest = hashlib.sha256(b"reply:" + question_id.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()[:22]


def stream_plan(session_id: str | None) -> TurnPlan:
    question_id = new_message_id()
    return TurnPlan(session_id or new_session_id(), session_id is None, question_id, reply_id_of(question_id))


def resume_path(session_id: str, turn_id: str) -> str:
    return f"/api/chat/sessions/{session_id}/messages/{turn_id}/stream"


class Turns:
    def __init__(self, chat: ChatService, records: TurnRecords, relay: TurnRelay, settings: Settings) -> None:
        self.chat, self.records, self.relay = chat, records, relay
        self.feeds = FeedRegistry()
        self.budget_seconds = settings.chat_timeout_seconds
        self.checkpoint_seconds = settings.turn_checkpoint_seconds
        self.relay_seconds = settings.turn_relay_seconds
        self.lease_beat_seconds = settings.turn_lease_seconds / 3
        self.leases = LeaseKeeper(records, self.lease_beat_seconds)
        self.restart = settings.turn_takeover == "restart"
        self.max_attempts = settings.turn_max_attempts
        self.heartbeat_seconds = settings.chat_heartbeat_seconds

    # -- asking -----------------------------------------------------------------------------------------

    def ask(
        self, message: str, session_id: str | None, key: str | None, client_write: ClientWriter | None = None
    ) -> tuple[TurnFeed, TurnRunner | None]:
        """Store the question and start its turn, driven by the caller (``TurnRunner.attach``: ``client_write``
        sends its heartbeats), or (with an Idempotency-Key already used with this body) join the turn of that
        key. The feed has one subscriber, the caller, who must ``leave`` it."""
        try:
            return self._ask(message, session_id, key, client_write)
        except BaseException as exc:
            turn_counts.failed("stream", exc)
            raise

    def _ask(
        self, message: str, session_id: str | None, key: str | None, client_write: ClientWriter | None
    ) -> tuple[TurnFeed, TurnRunner | None]:
        if key is None:
            return self._launch(self.chat.begin(stream_plan(session_id), message), None, client_write)
        self.chat.agent.check_available()
        claim = self.chat.idempotency.claim(key, fingerprint(message, session_id), stream_plan(session_id))
        plan = claim.plan or claim.known
        if plan is None:
            raise IdempotencyKeyInFlight()
        if claim.plan is not None:
            question, _answer = (None, None)
            if plan.resumed:
                question, _answer = self.records.question_and_answer(plan.session_id, plan.user_message_id)
            if question is None:
                try:
                    return self._launch(self.chat.begin(plan, message, key), key, client_write)
                except SessionNotFound:
                    self.chat._forget(key)
                    raise
                except TravelAgentError:
                    self.chat._release(key)
                    raise
        try:
            return self.follow(plan.session_id, plan.user_message_id, retry=True), None
        except MessageNotFound:
            raise IdempotencyKeyInFlight() from None  # the first request has not stored its question yet

    def _launch(
        self, turn: StartedTurn, key: str | None, client_write: ClientWriter | None
    ) -> tuple[TurnFeed, TurnRunner]:
        feed, _created = self.feeds.open(turn.question.id, turn.plan.session_id)
        runner = TurnRunner(
            self, feed, turn, owner=secrets.token_hex(8), key=key, request_id=request_context.request_id()
        )
        runner.attach(client_write)
        return feed, runner

    def leave(self, feed: TurnFeed) -> None:
        self.feeds.close(feed)

    def resume_data(self, session_id: str, turn_id: str) -> dict[str, str]:
        return {"session_id": session_id, "user_message_id": turn_id, "resume_url": resume_path(session_id, turn_id)}

    # -- following --------------------------------------------------------------------------------------

    def follow(self, session_id: str, turn_id: str, retry: bool = False) -> TurnFeed:
        """The turn's feed, with the caller subscribed (``leave`` it); MessageNotFound for an unknown turn.
        ``retry``: an idempotent retry, which also runs a failed turn again."""
        feed, created = self.feeds.open(turn_id, session_id)
        if feed.session_id != session_id:
            self.feeds.close(feed)
            raise MessageNotFound()
        if not created:
            return feed
        try:
            self._load(feed, retry)
        except BaseException:
            self.feeds.close(feed)
            raise
        return feed

    def _load(self, feed: TurnFeed, retry: bool) -> None:
        """A new feed's state from MongoDB: answered, failed, or running elsewhere (then polled)."""
        question, answer = self.records.question_and_answer(feed.session_id, feed.turn_id)
        if question is None:
            raise MessageNotFound()
        record = self.records.find(feed.turn_id)
        gen = 0 if record is None else record.gen
        if answer is not None:
            feed.extend(gen, 0, answer.content)
            feed.finish("done", done_data(answer_of(answer)))
            return
        if record is not None:
            feed.extend(gen, 0, record.text)
            if record.state == FAILED and not (retry and self._take_over(feed, record)):
                feed.finish("error", record.error or _error(502, GAVE_UP, feed.session_id))
                return
        if not feed.local:
            feed.polled = True
            spawn(lambda: self._poll(feed), "turn-poller")

    def _poll(self, feed: TurnFeed) -> None:
        after, check_at, handed = "0-0", 0.0, False
        try:
            while feed.subscribers > 0 and feed.terminal is None and not feed.local:
                entries = self.relay.read(feed.turn_id, after)
                for entry in entries or []:
                    after = entry.entry_id
                    if entry.kind is None:
                        feed.extend(entry.gen, entry.start, entry.text)
                    elif entry.kind == "resume":
                        handed = True  # taken over below, by this worker unless it drains too
                    else:
                        assert entry.data is not None
                        feed.finish(entry.kind, entry.data)
                moment = time.monotonic()
                if feed.terminal is None and (handed or moment >= check_at):
                    try:
                        self._check(feed)
                    except TravelAgentError as exc:
                        log.warning("could not read a followed turn (%s)", type(exc).__name__)
                    handed = False
                    check_at = moment + (CHECK_SECONDS if entries is not None else CHECK_WITHOUT_REDIS_SECONDS)
                time.sleep(POLL_SECONDS)
        except BaseException as exc:
            log.error("a turn's poller failed unexpectedly", exc_info=exc)
        finally:
            feed.polled = False
            self.feeds.writer_done(feed)

    def _check(self, feed: TurnFeed) -> None:
        """What MongoDB says of a turn running elsewhere: answered, failed, further along, or free to take."""
        question, answer = self.records.question_and_answer(feed.session_id, feed.turn_id)
        record = self.records.find(feed.turn_id)
        if question is None:
            feed.finish("error", _error(404, MessageNotFound.message, feed.session_id))
            return
        gen = 0 if record is None else record.gen
        if answer is not None:
            feed.extend(gen, 0, answer.content)
            feed.finish("done", done_data(answer_of(answer)))
            return
        if record is not None:
            feed.extend(record.gen, 0, record.text)
            if record.state == FAILED:
                feed.finish("error", record.error or _error(502, GAVE_UP, feed.session_id))
                return
        moment = now()
        free = (
            record.free(moment)
            if record is not None
            else (moment - question.created_at).total_seconds() > (self.records.lease.total_seconds())
        )
        if not free:
            return
        if request_context.draining():
            feed.finish("resume", self.resume_data(feed.session_id, feed.turn_id))  # another worker takes it
            return
        self._take_over(feed, record)

    def _take_over(self, feed: TurnFeed, record: Checkpoint | None) -> bool:
        """Win the turn's lease and run it on here; whether this worker now runs it."""
        owner = secrets.token_hex(8)
        if record is not None and record.attempts >= self.max_attempts:
            self.records.fail(feed.turn_id, record.owner, _error(504, GAVE_UP, feed.session_id))
            return False
        taken = self.records.take(feed.turn_id, feed.session_id, owner, record, self.max_attempts)
        if taken is None:
            return False
        plan = TurnPlan(feed.session_id, False, feed.turn_id, reply_id_of(feed.turn_id), resumed=True)
        tokens = request_context.bind(request_context.sane_request_id(None), self.budget_seconds)
        try:
            turn = self.chat.begin(plan, "", taken.key)
        finally:
            request_context.unbind(tokens)
        if turn.answer is not None:  # stored a moment ago by the worker thought gone
            feed.extend(taken.gen, 0, turn.answer.content)
            feed.finish("done", done_data(answer_of(turn.answer)))
            return True
        prefix, gen = (feed.text(), feed.gen) if feed.gen >= taken.gen else (taken.text, taken.gen)
        if len(taken.text) > len(prefix) and taken.gen == gen:
            prefix = taken.text
        if self.restart or not hasattr(self.chat.agent, "continue_stream"):
            prefix, gen = "", gen + 1
            feed.restart(gen)
        log.info(
            "took a turn over (attempt %d, %d characters written, %s)",
            taken.attempts,
            len(prefix),
            "restart" if not prefix else "continue",
        )
        feed.reopen()
        runner = TurnRunner(self, feed, turn, owner=owner, gen=gen, prefix=prefix, key=taken.key)
        feed.polled = False
        runner.start()
        return True

    def turn_ids(self, session_id: str) -> list[str]:
        """Before a session's delete: its questions, whose turns' traces ``forget_turns`` removes after it."""
        return self.records.question_ids(session_id)

    def forget_turns(self, session_id: str, turn_ids: list[str]) -> None:
        """After a session's delete: its turns' checkpoints and Redis Streams (partial answers) go too."""
        self.records.forget_session(session_id)
        self.relay.drop(turn_ids)

    def running(self) -> int:
        """Turns this worker runs now (the drain waits for them to end or hand over)."""
        return self.feeds.running_locally()


def _error(code: int, message: str, session_id: str) -> dict[str, Any]:
    """An error event's envelope, for a turn that ended without a runner to say why."""
    return formats.error_body(
        code, message, request_id=request_context.request_id(), context={"session_id": session_id}
    )
