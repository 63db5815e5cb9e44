"""The chat's MongoDB indexes, created idempotently at worker start and, until that worked, on first use."""

from __future__ import annotations

import logging
from typing import Any

from pymongo import ASCENDING
from pymongo.errors import OperationFailure

from travel_agent.backends.mongo import MongoGateway

log = logging.getLogger("travel_agent.chat.indexes")

SESSIONS = "chat_sessions"
MESSAGES = "chat_messages"
IDEMPOTENCY = "chat_idempotency"
IDEMPOTENCY_TTL_SECONDS = 24 * 3600

INDEXES: list[tuple[str, list[tuple[str, int]], dict[str, Any]]] = [
    # The history query, and the guard that no two messages of a session share a position.
    (MESSAGES, [("session_id", ASCENDING), ("seq", ASCENDING)], {"name": "session_seq", "unique": True}),
    # Deleting a session finds the Idempotency-Key records of its turns by this.
    (IDEMPOTENCY, [("plan.session_id", ASCENDING)], {"name": "plan_session"}),
    # MongoDB's TTL monitor removes idempotency records a day after their first use (it runs every 60 s, so
    # the code also treats an older record as absent).
    (
        IDEMPOTENCY,
        [("created_at", ASCENDING)],
        {"name": "expire_after_24h", "expireAfterSeconds": IDEMPOTENCY_TTL_SECONDS},
    ),
]


# CHAT_RETENTION_DAYS: a session goes that long after its last turn (reserve_turn sets updated_at), a message
# that long after it was written. A session idle that long has only messages at least as old, so both go: the
# session and everything in it. An active session keeps its last that-many days. Unset: these indexes are
# dropped, so that unsetting the variable keeps everything again.
RETENTION_INDEXES = [
    (SESSIONS, "updated_at", "retention_inactive_sessions"),
    (MESSAGES, "created_at", "retention_old_messages"),
]
# MongoDB's code for an index that is not there (another worker dropped it a moment ago).
INDEX_NOT_FOUND = 27


class Indexes:
    def __init__(self, mongo: MongoGateway, retention_days: int | None = None) -> None:
        self.mongo = mongo
        self.retention_seconds = None if retention_days is None else retention_days * 86_400
        self.ready = False

    def ensure(self) -> None:
        """Create every index (a no-op for those that exist). Raises the gateway's errors when MongoDB is
        down, so the caller decides: at start-up that is logged, in a request it is the request's 503."""
        if self.ready:
            return
        with self.mongo.call() as db:
            for collection, keys, options in INDEXES:
                try:
                    db[collection].create_index(keys, **options)
                except OperationFailure as exc:
                    # An index of that name with other options (an operator's change). Chat works without
                    # ours (slower, or records kept longer), so say so loudly and go on rather than fail
                    # every request.
                    log.error(
                        "could not create index %s on %s: %s (code %s)",
                        options["name"],
                        collection,
                        exc.details,
                        exc.code,
                    )
            for collection, field, name in RETENTION_INDEXES:
                self._retain(db, collection, field, name)
        self.ready = True
        log.info("chat indexes ready")

    def _retain(self, db: Any, collection: str, field: str, name: str) -> None:
        """Make the retention index match CHAT_RETENTION_DAYS: created, its expiry changed in place (collMod,
        so no moment without it), or dropped when unset."""
        wanted = self.retention_seconds
        found = next((index for index in db[collection].list_indexes() if index["name"] == name), None)
        try:
            if wanted is None:
                if found is not None:
                    db[collection].drop_index(name)
                    log.info("retention off: index %s on %s dropped, chats are kept", name, collection)
            elif found is None:
                db[collection].create_index([(field, ASCENDING)], name=name, expireAfterSeconds=wanted)
            elif found.get("expireAfterSeconds") != wanted:
                db.command("collMod", collection, index={"name": name, "expireAfterSeconds": wanted})
                log.info("retention index %s on %s now expires after %d s", name, collection, wanted)
        except OperationFailure as exc:
            if exc.code != INDEX_NOT_FOUND:
                log.error(
                    "could not set retention index %s on %s: %s (code %s)", name, collection, exc.details, exc.code
                )
