"""Where a running turn's answer lives outside its worker: a MongoDB checkpoint with the turn's lease, and a
bounded, expiring Redis Stream of its text as it is produced.

The checkpoint (collection ``chat_turns``, one document per question, ``_id`` the question's id) holds the
partial answer, its generation, the owner (the worker running it) and the lease that owner renews with every
checkpoint; a turn whose lease ran out, or whose owner gave it up (``handed``), may be taken by anyone who asks
for it (``take``). A turn that finishes within its first checkpoint interval never writes one: its answer is the
stored message. A failed turn's document keeps the error its clients are told on a resume.

The Redis Stream (``travel_agent:turn:<question id>``) carries the same text at a finer grain, for the clients
of other workers and instances; every entry is bounded (XADD MAXLEN) and the key expires. Redis is optional:
every call goes through the gateway and falls back to None, and the clients then follow the checkpoints.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from travel_agent.backends.mongo import MongoGateway
from travel_agent.backends.redis_store import RedisGateway
from travel_agent.chat.indexes import MESSAGES, TURNS
from travel_agent.chat.store import Message, now

RUNNING, HANDED, FAILED = "running", "handed", "failed"
KEY_PREFIX = "travel_agent:turn:"


@dataclass(frozen=True)
class Checkpoint:
    owner: str
    gen: int
    text: str
    state: str
    lease_until: datetime
    attempts: int
    error: dict[str, Any] | None = None
    key: str | None = None

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Checkpoint:
        return cls(
            doc["owner"],
            int(doc.get("gen", 0)),
            doc.get("text", ""),
            doc["state"],
            doc["lease_until"],
            int(doc.get("attempts", 1)),
            doc.get("error"),
            doc.get("key"),
        )

    def free(self, moment: datetime) -> bool:
        """Whether anyone may take the turn now: given up by its owner, or its lease ran out."""
        return self.state == HANDED or (self.state == RUNNING and self.lease_until < moment)


class TurnRecords:
    """The ``chat_turns`` documents, and the one read that tells a resume where a turn stands."""

    def __init__(self, mongo: MongoGateway, lease_seconds: float) -> None:
        self.mongo = mongo
        self.turns, self.messages = mongo.db[TURNS], mongo.db[MESSAGES]
        self.lease = timedelta(seconds=lease_seconds)

    def checkpoint(
        self,
        turn_id: str,
        session_id: str,
        owner: str,
        gen: int,
        text: str,
        *,
        state: str = RUNNING,
        error: dict[str, Any] | None = None,
        key: str | None = None,
    ) -> bool:
        """Write the partial answer and renew the lease, if ``owner`` still holds the turn (or nobody has a
        record of it yet); False when another worker took it over."""
        moment = now()
        fields: dict[str, Any] = {"gen": gen, "text": text, "state": state, "lease_until": moment + self.lease}
        if state == HANDED:
            fields["lease_until"] = moment  # free at once
        if error is not None:
            fields["error"] = error
        on_insert: dict[str, Any] = {"session_id": session_id, "started_at": moment, "attempts": 1}
        if key is not None:
            on_insert["key"] = key
        with self.mongo.call():
            try:
                self.turns.update_one(
                    {"_id": turn_id, "owner": owner}, {"$set": fields, "$setOnInsert": on_insert}, upsert=True
                )
            except DuplicateKeyError:
                return False  # the document exists with another owner: the turn was taken over
        return True

    def renew(self, turn_ids: list[str]) -> None:
        """Extend the leases of these running turns (``chat.turn_leases``): one write for all of them. A turn
        another worker took over meanwhile has its lease extended too, harmlessly: its new owner is alive."""
        with self.mongo.call():
            self.turns.update_many(
                {"_id": {"$in": turn_ids}, "state": RUNNING}, {"$set": {"lease_until": now() + self.lease}}
            )

    def find(self, turn_id: str) -> Checkpoint | None:
        with self.mongo.call():
            doc = self.turns.find_one({"_id": turn_id})
        return None if doc is None else Checkpoint.from_doc(doc)

    def question_and_answer(self, session_id: str, turn_id: str) -> tuple[Message | None, Message | None]:
        """The question and, once stored, its answer (one find: both carry the session's id)."""
        with self.mongo.call():
            docs = list(
                self.messages.find({"session_id": session_id, "$or": [{"_id": turn_id}, {"reply_to": turn_id}]})
            )
        found = [Message.from_doc(doc) for doc in docs]
        question = next((m for m in found if m.id == turn_id and m.role == "user"), None)
        answer = next((m for m in found if m.reply_to == turn_id and m.role == "assistant"), None)
        return question, answer

    def take(
        self, turn_id: str, session_id: str, owner: str, known: Checkpoint | None, max_attempts: int
    ) -> Checkpoint | None:
        """Become the turn's owner, if it is still as ``known`` says (None: no document yet); the document
        taken, or None when someone else was quicker or the turn has had its ``max_attempts``."""
        moment = now()
        lease_until = moment + self.lease
        with self.mongo.call():
            if known is None:
                doc = {
                    "_id": turn_id,
                    "session_id": session_id,
                    "owner": owner,
                    "gen": 0,
                    "text": "",
                    "state": RUNNING,
                    "lease_until": lease_until,
                    "attempts": 2,
                    "started_at": moment,
                }
                try:
                    self.turns.insert_one(doc)
                except DuplicateKeyError:
                    return None
                return Checkpoint.from_doc(doc)
            if known.attempts >= max_attempts:
                return None
            taken = self.turns.find_one_and_update(
                {"_id": turn_id, "owner": known.owner, "lease_until": known.lease_until, "state": known.state},
                {"$set": {"owner": owner, "lease_until": lease_until, "state": RUNNING}, "$inc": {"attempts": 1}},
                return_document=ReturnDocument.AFTER,
            )
        return None if taken is None else Checkpoint.from_doc(taken)

    def fail(self, turn_id: str, owner: str, error: dict[str, Any]) -> None:
        """A turn that can no longer be run (too many attempts): its clients get ``error``."""
        with self.mongo.call():
            self.turns.update_one({"_id": turn_id, "owner": owner}, {"$set": {"state": FAILED, "error": error}})

    def question_ids(self, session_id: str) -> list[str]:
        with self.mongo.call():
            return [doc["_id"] for doc in self.messages.find({"session_id": session_id, "role": "user"}, {"_id": 1})]

    def forget_session(self, session_id: str) -> None:
        with self.mongo.call():
            self.turns.delete_many({"session_id": session_id})


@dataclass(frozen=True)
class RelayEntry:
    entry_id: str
    gen: int
    start: int
    text: str
    kind: str | None = None  # a terminal event's kind ("done", "error", "resume"), else None
    data: dict[str, Any] | None = None


class TurnRelay:
    """A running turn's Redis Stream: appended by its runner, read by followers on other workers."""

    def __init__(self, redis: RedisGateway | None, max_entries: int, expire_seconds: int) -> None:
        self.redis = redis
        self.max_entries = max_entries
        self.expire_seconds = expire_seconds

    @property
    def enabled(self) -> bool:
        return self.redis is not None

    def append(self, turn_id: str, entries: list[dict[str, str]]) -> bool:
        """Add the entries (one round trip, with the key's expiry renewed); False if Redis is off or failed."""
        if self.redis is None or not entries:
            return False
        key = KEY_PREFIX + turn_id

        def call(client: Any) -> bool:
            pipe = client.pipeline(transaction=False)
            for entry in entries:
                pipe.xadd(key, entry, maxlen=self.max_entries, approximate=True)
            pipe.expire(key, self.expire_seconds)
            pipe.execute()
            return True

        return self.redis.run("turn append", call, False)

    def drop(self, turn_ids: list[str]) -> None:
        if self.redis is not None and turn_ids:
            keys = [KEY_PREFIX + turn_id for turn_id in turn_ids]
            self.redis.run("turn drop", lambda client: client.delete(*keys), 0)

    def read(self, turn_id: str, after: str, count: int = 256) -> list[RelayEntry] | None:
        """The entries after entry id ``after`` ("0-0": all); None if Redis is off or failed."""
        if self.redis is None:
            return None
        raw = self.redis.run(
            "turn read", lambda client: client.xrange(KEY_PREFIX + turn_id, f"({after}", "+", count=count), None
        )
        if raw is None:
            return None
        return [_entry(entry_id, fields) for entry_id, fields in raw]


def text_entry(gen: int, start: int, text: str) -> dict[str, str]:
    return {"g": str(gen), "o": str(start), "t": text}


def terminal_entry(gen: int, kind: str, data: dict[str, Any]) -> dict[str, str]:
    return {"g": str(gen), "k": kind, "d": json.dumps(data, ensure_ascii=False, default=str)}


def _entry(entry_id: Any, fields: dict[Any, Any] | None) -> RelayEntry:
    fields = fields or {}  # redis-py types an entry's fields as optional

    def text(name: str) -> str:
        value = fields.get(name.encode(), fields.get(name, ""))
        return value.decode() if isinstance(value, bytes) else str(value)

    eid = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
    kind = text("k") or None
    return RelayEntry(
        eid,
        int(text("g") or 0),
        int(text("o") or 0),
        text("t"),
        kind,
        json.loads(text("d")) if kind is not None else None,
    )
