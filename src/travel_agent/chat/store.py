"""Sessions and messages in MongoDB, every call through the gateway.

A session document hands out message positions (``seq``, two per turn: the question and the slot of its
answer), so a reply sits right after its question even when turns overlap. A message is one insert: nothing
else has to be updated with it, so no failed second write can leave a stored message uncounted (the context
cache relies on that, see ``context_cache``).

Deleting a session races the turns running on it; a read of the session after each insert and the order of
``delete`` make sure nothing of a deleted session stays behind (see ``confirm``). For the question that read
travels in the same command as the context's (``context``), so it costs no round trip of its own.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pymongo import DESCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from travel_agent.backends.mongo import MongoGateway
from travel_agent.chat.errors import PositionTaken, SessionNotFound
from travel_agent.chat.indexes import IDEMPOTENCY, MESSAGES, SESSIONS

log = logging.getLogger("travel_agent.chat.store")


def new_session_id() -> str:
    """192 random bits, URL-safe: unguessable, so knowing a session id is what grants access to it."""
    return secrets.token_urlsafe(24)


def new_message_id() -> str:
    return secrets.token_urlsafe(16)


def now() -> datetime:
    """The current time at BSON's millisecond precision, so what a response says equals what is stored."""
    moment = datetime.now(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


# The fields of an assistant message that say who wrote it (``Message.written_by``).
WRITTEN_BY = ("model", "degraded", "usage")


@dataclass(frozen=True)
class Message:
    id: str
    session_id: str
    seq: int
    role: str  # "user" or "assistant"
    content: str
    created_at: datetime
    reply_to: str | None = None  # an assistant message: the id of the user message it answers
    # An assistant message: who wrote it ("model", "degraded", "usage"; see agent.provenance), stored as is.
    written_by: dict[str, Any] = field(default_factory=dict)

    @property
    def degraded(self) -> bool:
        return bool(self.written_by.get("degraded"))

    def to_doc(self) -> dict[str, Any]:
        doc = {
            "_id": self.id,
            "session_id": self.session_id,
            "seq": self.seq,
            "role": self.role,
            "content": self.content,
            "created_at": self.created_at,
        }
        if self.reply_to is not None:
            doc["reply_to"] = self.reply_to
        doc.update(self.written_by)
        return doc

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Message:
        return cls(
            doc["_id"],
            doc["session_id"],
            doc["seq"],
            doc["role"],
            doc["content"],
            doc["created_at"],
            doc.get("reply_to"),
            {key: doc[key] for key in WRITTEN_BY if key in doc},
        )


@dataclass(frozen=True)
class StoredSession:
    """One page of a session's messages, oldest first; ``next_before`` reads the page before it."""

    id: str
    created_at: datetime
    messages: list[Message]
    next_before: int | None = None


@dataclass(frozen=True)
class Context:
    """What one read right after a turn's question was stored tells (``ChatStore.context``)."""

    positions: list[tuple[int, str]]  # (position, id) of the newest messages before the question, oldest first
    messages: list[Message] | None  # the same messages whole, when asked for
    session_exists: bool
    key_state: str | None  # the state of the Idempotency-Key's record, when asked for (None: no record)


class ChatStore:
    def __init__(self, mongo: MongoGateway) -> None:
        self.mongo = mongo
        # Made once: PyMongo builds a new Collection (options resolved, codecs copied) on every db[name], and
        # each call runs within ``mongo.call()`` (breaker, timeout) whichever object it goes through.
        self.sessions, self.messages = mongo.db[SESSIONS], mongo.db[MESSAGES]

    def reserve_turn(self, session_id: str, *, create: bool) -> int:
        """Two positions for a question and its answer; returns the question's. ``create`` starts the session
        (only ever with an id the server made). SessionNotFound if it does not exist."""
        moment = now()
        with self.mongo.call():
            session = self.sessions.find_one_and_update(
                {"_id": session_id},
                {"$inc": {"seq": 2}, "$set": {"updated_at": moment}, "$setOnInsert": {"created_at": moment}},
                upsert=create,
                return_document=ReturnDocument.AFTER,
                projection={"seq": 1},
            )
        if session is None:
            raise SessionNotFound()
        return int(session["seq"]) - 1

    def insert(self, message: Message) -> None:
        """Store a message at its reserved position; follow with ``confirm``."""
        with self.mongo.call():
            try:
                self.messages.insert_one(message.to_doc())
            except DuplicateKeyError as exc:
                if (exc.details or {}).get("keyPattern") != {"session_id": 1, "seq": 1}:
                    raise
                log.error("message position %d of a session is already taken: the database lost writes", message.seq)
                raise PositionTaken() from exc

    def confirm(self, message: Message) -> None:
        """After ``insert``: SessionNotFound, with the message removed again, if the session was deleted.

        ``delete`` removes the session, then its messages. If this read finds the session, it ran before the
        session's removal, so the insert did too, and the removal of the messages that follows takes it. If it
        does not, the delete's removal of messages may have run before the insert: this turn removes its own.
        """
        with self.mongo.call():
            if self.sessions.find_one({"_id": message.session_id}, projection={"_id": 1}) is not None:
                return
            self.messages.delete_one({"_id": message.id, "session_id": message.session_id})
        raise SessionNotFound()

    def context(self, session_id: str, limit: int, *, before_seq: int, whole: bool, key: str | None = None) -> Context:
        """In ONE command (an aggregation with ``$unionWith``): the session's newest ``limit`` messages before
        position ``before_seq`` (only their positions and ids unless ``whole``), whether the session still
        exists, and, given ``key``, the state of that Idempotency-Key's record.

        Issued after the question's insert, its session read is that insert's ``confirm`` (the sub-reads run
        after the command starts, so after the insert was acknowledged) and its record read is the tombstone
        check of a keyed new session (``ChatService.begin``).
        """
        pipeline: list[dict[str, Any]] = [
            {"$match": {"session_id": session_id, "seq": {"$lt": before_seq}}},
            {"$sort": {"seq": DESCENDING}},
            {"$limit": limit},
        ]
        if not whole:
            pipeline.append({"$project": {"_id": 1, "seq": 1}})
        # Told apart below by their fields: a message has "seq", the record "state", the session neither.
        pipeline.append(
            {"$unionWith": {"coll": SESSIONS, "pipeline": [{"$match": {"_id": session_id}}, {"$project": {"_id": 1}}]}}
        )
        if key is not None:
            pipeline.append(
                {
                    "$unionWith": {
                        "coll": IDEMPOTENCY,
                        "pipeline": [{"$match": {"_id": key}}, {"$project": {"state": 1}}],
                    }
                }
            )
        with self.mongo.call():
            docs = list(self.messages.aggregate(pipeline))
        found = [doc for doc in docs if "seq" in doc][::-1]
        session_exists = any("seq" not in doc and "state" not in doc for doc in docs)
        key_state = next((doc["state"] for doc in docs if "state" in doc), None)
        return Context(
            [(int(doc["seq"]), doc["_id"]) for doc in found],
            [Message.from_doc(doc) for doc in found] if whole else None,
            session_exists,
            key_state,
        )

    def discard(self, message: Message) -> None:
        """Remove a message whose session was found deleted after its insert (see ``confirm``)."""
        with self.mongo.call():
            self.messages.delete_one({"_id": message.id, "session_id": message.session_id})

    def find(self, session_id: str, ids: Iterable[str]) -> dict[str, Message]:
        with self.mongo.call():
            docs = list(self.messages.find({"session_id": session_id, "_id": {"$in": list(ids)}}))
        return {doc["_id"]: Message.from_doc(doc) for doc in docs}

    def recent(self, session_id: str, limit: int, *, before_seq: int | None = None) -> list[Message]:
        """The session's last ``limit`` messages (before position ``before_seq``, if given), oldest first."""
        query: dict[str, Any] = {"session_id": session_id}
        if before_seq is not None:
            query["seq"] = {"$lt": before_seq}
        with self.mongo.call():
            docs = list(self.messages.find(query).sort("seq", DESCENDING).limit(limit))
        return [Message.from_doc(doc) for doc in reversed(docs)]

    def load(self, session_id: str, limit: int, before: int | None = None) -> StoredSession:
        """The newest ``limit`` (at least 2) messages below position ``before``, never splitting a turn.

        A turn holds positions q (the question, always odd) and q + 1 (its answer). A page that would start
        with an answer whose question is older leaves that answer to the older page, so every question in a
        page has its answer in the same page when one was stored, and the next page ends at a question.
        """
        query: dict[str, Any] = {"session_id": session_id}
        if before is not None:
            # Snapped to a turn boundary: a position between a question and its answer would split them.
            query["seq"] = {"$lt": before if before % 2 else before - 1}
        # One command: the session (its created_at, and whether it exists at all), then the page's messages.
        pipeline: list[dict[str, Any]] = [
            {"$match": {"_id": session_id}},
            {"$project": {"created_at": 1}},
            {
                "$unionWith": {
                    "coll": MESSAGES,
                    "pipeline": [{"$match": query}, {"$sort": {"seq": DESCENDING}}, {"$limit": limit + 1}],
                }
            },
        ]
        with self.mongo.call():
            found = list(self.sessions.aggregate(pipeline))
        if not found or "seq" in found[0]:
            raise SessionNotFound()  # only messages: orphans of a delete that is still removing them
        session, docs = found[0], found[1:]
        page = [Message.from_doc(doc) for doc in docs[:limit]]
        more = len(docs) > limit
        if more and page[-1].role == "assistant":
            page.pop()  # its question is older: both go in the next page
        return StoredSession(session_id, session["created_at"], page[::-1], page[-1].seq if more else None)

    def delete(self, session_id: str) -> None:
        """The session, then its messages (the order ``confirm`` relies on). The messages are removed even when
        the session is already gone, so repeating a delete that failed half-way finishes it; SessionNotFound
        then still tells the caller there was no session."""
        with self.mongo.call():
            found = self.sessions.delete_one({"_id": session_id}).deleted_count == 1
            self.messages.delete_many({"session_id": session_id})
        if not found:
            raise SessionNotFound()
