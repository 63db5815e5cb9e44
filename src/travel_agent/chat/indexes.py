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
# A running turn's checkpoint and lease (chat/turn_records.py); kept a day, like the Idempotency-Key records.
TURNS = "chat_turns"
TURNS_TTL_SECONDS = 24 * 3600

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
    (TURNS, [("started_at", ASCENDING)], {"name": "expire_after_24h", "expireAfterSeconds": TURNS_TTL_SECONDS}),
    # Deleting a session removes its turns' checkpoints (their partial answers) by this.
    (TURNS, [("session_id", ASCENDING)], {"name": "turn_session"}),
]


class Indexes:
    def __init__(self, mongo: MongoGateway) -> None:
        self.mongo = mongo
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
        self.ready = True
        log.info("chat indexes ready")
