"""Idempotency-Key records in MongoDB: one request per key runs a turn, retries get its answer.

A record is created by the first request with a key (the unique ``_id`` decides races between workers), holds
that request's *plan* (the ids its session and messages will get) and, once answered, the response. The plan
makes every retry safe: a retry that takes over a failed or abandoned attempt writes to the same ids, so
nothing is ever stored twice. The record lives in MongoDB, not Redis, so it survives a Redis outage.

A running attempt holds the record by a short *lease* that it renews while it runs (``LeaseKeeper``). An attempt
that cannot say it failed (its worker was killed, or MongoDB died under it) stops renewing, so a retry takes
over seconds after MongoDB is back, not after the whole chat budget.

Deleting a session turns the records of its turns into tombstones (``forget_session``): state "gone", with the
plan and the response removed, so nothing of the session is left in them, and a retry with such a key answers
404 instead of running its plan again (which would create the deleted session anew). Tombstones expire with the
other records.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import threading
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from pymongo.errors import DuplicateKeyError

from travel_agent.backends.mongo import MongoGateway
from travel_agent.chat.errors import IdempotencyKeyReused, SessionNotFound
from travel_agent.chat.indexes import IDEMPOTENCY, IDEMPOTENCY_TTL_SECONDS
from travel_agent.chat.store import new_message_id, new_session_id, now
from travel_agent.errors import TravelAgentError

log = logging.getLogger("travel_agent.chat.idempotency")

RUNNING, FAILED, DONE, GONE = "running", "failed", "done", "gone"
# What a tombstone keeps: the key and what decides a reuse of it (its first body) and its expiry.
_DROPPED = {"plan": "", "response": "", "attempt": "", "lease_until": ""}


@dataclass(frozen=True)
class TurnPlan:
    """The ids one turn writes to, fixed before anything is written."""

    session_id: str
    new_session: bool
    user_message_id: str
    reply_id: str
    resumed: bool = False  # an earlier attempt may have written some of it

    @classmethod
    def fresh(cls, session_id: str | None) -> TurnPlan:
        return cls(session_id or new_session_id(), session_id is None, new_message_id(), new_message_id())


@dataclass(frozen=True)
class Claim:
    """Either ``plan`` (run the turn, as ``attempt``), ``response`` (replay it), or neither (another request is
    running it)."""

    plan: TurnPlan | None = None
    response: dict[str, Any] | None = None
    attempt: str | None = None  # this request's hold on the record: only it renews the lease
    known: TurnPlan | None = None  # the record's plan when it is not this request's to run (a stream joins it)


def fingerprint(message: str, session_id: str | None) -> str:
    """The request as validated (message trimmed): the same question is the same body."""
    return hashlib.sha256(json.dumps([message, session_id]).encode()).hexdigest()


class IdempotencyStore:
    def __init__(self, mongo: MongoGateway, lease_seconds: float) -> None:
        self.mongo = mongo
        self.records = mongo.db[IDEMPOTENCY]  # made once, as ChatStore's collections
        self.lease_seconds = lease_seconds
        self.lease = timedelta(seconds=lease_seconds)

    def claim(self, key: str, body_fingerprint: str, plan: TurnPlan) -> Claim:
        moment = now()
        attempt = secrets.token_hex(8)
        record = {
            "_id": key,
            "fingerprint": body_fingerprint,
            "state": RUNNING,
            "plan": asdict(plan),
            "created_at": moment,
            "lease_until": moment + self.lease,
            "attempt": attempt,
        }
        with self.mongo.call():
            records = self.records
            try:
                records.insert_one(record)
                return Claim(plan=plan, attempt=attempt)
            except DuplicateKeyError:
                pass
            existing = records.find_one({"_id": key})
            if existing is None:
                return Claim()  # removed by the TTL monitor a moment ago: the caller's next try inserts
            if _expired(existing, moment):
                # Past its 24 h but not yet removed (the TTL monitor runs once a minute): start afresh. Matching
                # on the old created_at lets only one of two racing requests replace it.
                replaced = records.find_one_and_replace({"_id": key, "created_at": existing["created_at"]}, record)
                return Claim(plan=plan, attempt=attempt) if replaced is not None else Claim()
            if existing["fingerprint"] != body_fingerprint:
                raise IdempotencyKeyReused()
            if existing["state"] == GONE:
                raise SessionNotFound()  # its session was deleted: running the plan again would recreate it
            known = _plan_of(existing)
            if existing["state"] == DONE:
                return Claim(response=existing["response"], known=known)
            taken = records.find_one_and_update(
                {
                    "_id": key,
                    "state": existing["state"],
                    "lease_until": existing["lease_until"],
                    "$or": [{"state": FAILED}, {"lease_until": {"$lt": moment}}],
                },
                {"$set": {"state": RUNNING, "lease_until": moment + self.lease, "attempt": attempt}},
            )
        if taken is None:
            return Claim(known=known)  # running elsewhere, or another retry took it over a moment ago
        return Claim(plan=TurnPlan(**(existing["plan"] | {"resumed": True})), attempt=attempt)

    def renew(self, key: str, attempt: str) -> bool:
        """Extend the lease of a record this attempt still holds; False if it no longer does."""
        with self.mongo.call():
            result = self.records.update_one(
                {"_id": key, "state": RUNNING, "attempt": attempt}, {"$set": {"lease_until": now() + self.lease}}
            )
        return result.matched_count == 1

    def keep(self, key: str, attempt: str) -> LeaseKeeper:
        """Renew the lease in the background until the returned keeper is stopped (use it as a context)."""
        return LeaseKeeper(self, key, attempt)

    def complete(self, key: str, response: dict[str, Any]) -> bool:
        """Record the answer, unless the session was deleted meanwhile (the record is a tombstone); whether it
        was recorded. True also says the session's removal, if any, comes after this write: a delete
        tombstones the records of its session's turns before it removes the session (``forget_session``)."""
        with self.mongo.call():
            result = self.records.update_one(
                {"_id": key, "state": {"$ne": GONE}}, {"$set": {"state": DONE, "response": response}}
            )
        return result.matched_count == 1

    def forget(self, key: str) -> None:
        """The turn found its session deleted: a retry with this key answers 404 too."""
        with self.mongo.call():
            self.records.update_one({"_id": key}, {"$set": {"state": GONE}, "$unset": _DROPPED})

    def forget_session(self, session_id: str) -> None:
        """Tombstone every record of the session's turns, whatever its state (a running one included)."""
        with self.mongo.call():
            self.records.update_many({"plan.session_id": session_id}, {"$set": {"state": GONE}, "$unset": _DROPPED})

    def release(self, key: str) -> None:
        """The attempt failed: let a retry take over now instead of after the lease."""
        with self.mongo.call():
            self.records.update_one({"_id": key, "state": RUNNING}, {"$set": {"state": FAILED}})


class LeaseKeeper:
    """Renews one attempt's lease every third of it, from a thread of its own (a greenlet under gevent).

    Outside the request's context on purpose: a renewal is not part of the request's budget, and its MongoDB
    call gets the gateway's own operation timeout. A failed renewal is only logged: if they keep failing, the
    lease runs out and a retry may take over, which the plan makes safe.
    """

    def __init__(self, store: IdempotencyStore, key: str, attempt: str) -> None:
        self.store, self.key, self.attempt = store, key, attempt
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="idempotency-lease", daemon=True)

    def __enter__(self) -> LeaseKeeper:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()

    def _run(self) -> None:
        while not self.stopped.wait(self.store.lease_seconds / 3):
            try:
                if not self.store.renew(self.key, self.attempt):
                    return  # taken over, or already answered
            except TravelAgentError as exc:
                log.warning("could not renew the lease of an Idempotency-Key (%s)", type(exc).__name__)


def _plan_of(record: dict[str, Any]) -> TurnPlan | None:
    """The record's plan, as a retry runs it; None for a record without a whole one (an older version's)."""
    try:
        return TurnPlan(**(dict(record.get("plan") or {}) | {"resumed": True}))
    except TypeError:
        return None


def is_forgotten(state: str | None) -> bool:
    """A record tombstoned (state "gone") or no longer there: its session was deleted."""
    return state is None or state == GONE


def _expired(record: dict[str, Any], moment: datetime) -> bool:
    created: datetime = record["created_at"]
    return moment - created >= timedelta(seconds=IDEMPOTENCY_TTL_SECONDS)
