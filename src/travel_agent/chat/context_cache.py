"""Recent messages of a session kept in Redis, so a turn reads their text without fetching it from MongoDB.

The cache never decides WHICH messages make up a context: MongoDB does, every turn, in one read of the
positions and ids of the newest messages before the question (``ChatStore.positions``). The cache only supplies
the text of those it holds, matched by id and position; the rest is fetched from MongoDB. Why that is correct
whatever happens:

* A stored message never changes (it is inserted once, at a position reserved for it, and only deleted with its
  session), so a cached copy of message ``id`` at position ``seq`` is that message for as long as it exists.
* Which messages exist is read from MongoDB after the turn's own question is stored. Whatever other turns did
  before (stored a message without caching it, cached without storing, failed between the two, overwrote this
  entry with another subset), the context is exactly what MongoDB held at that read; at worst a message is
  fetched from MongoDB that could have come from Redis.
* An entry is only ever written with messages whose insert MongoDB acknowledged or that were read from it, so a
  message that was never stored is never served (and, not being listed by MongoDB, it would not be asked for).

So any interleaving of concurrent turns and any single failed write (MongoDB's or Redis's) leaves the context
equal to MongoDB's. With Redis down or disabled every lookup is a miss and the text comes from MongoDB.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from travel_agent.backends.redis_store import RedisGateway
from travel_agent.chat.store import Message

log = logging.getLogger("travel_agent.chat.context_cache")

# Long enough to span a conversation's pauses; after that the next turn reads the text from MongoDB once.
TTL_SECONDS = 3600


def key(session_id: str) -> str:
    """The session id in braces is a Redis Cluster hash tag: every key of one session hashes to one slot, so
    a future multi-key command (or transaction) on a session's keys stays legal in a cluster."""
    return f"chat:context:{{{session_id}}}"


class ContextCache:
    def __init__(self, redis: RedisGateway | None, limit: int) -> None:
        self.redis = redis
        self.limit = limit

    @property
    def enabled(self) -> bool:
        return self.redis is not None

    def get(self, session_id: str) -> dict[str, Message]:
        """The cached messages by id ({} on a miss, with Redis down or disabled)."""
        if self.redis is None:
            return {}
        raw = self.redis.run("get context", lambda r: r.get(key(session_id)), fallback=None)
        if raw is None:
            return {}
        try:
            items = json.loads(raw)["messages"]
            return {item["id"]: _decode(session_id, item) for item in items}
        except (ValueError, LookupError, TypeError) as exc:
            # Written by another release, or damaged: MongoDB has the truth, and the next put replaces it.
            log.warning("ignoring an unreadable context entry for a session: %s", type(exc).__name__)
            return {}

    def put(self, session_id: str, messages: Iterable[Message]) -> None:
        """Keep these (stored) messages, the newest ``limit + 1`` by position: the next turn's context and
        its question. Replaces the entry: another turn's put in between only costs a miss."""
        if self.redis is None:
            return
        newest = sorted({m.id: m for m in messages}.values(), key=lambda m: m.seq)[-(self.limit + 1) :]
        entry = json.dumps({"messages": [_encode(m) for m in newest]})
        self.redis.run("set context", lambda r: r.set(key(session_id), entry, ex=TTL_SECONDS), fallback=None)

    def drop(self, session_id: str) -> None:
        if self.redis is not None:
            self.redis.run("drop context", lambda r: r.delete(key(session_id)), fallback=None)


def _encode(message: Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "seq": message.seq,
        "role": message.role,
        "content": message.content,
        "created_at": message.created_at.isoformat(),
        "reply_to": message.reply_to,
    }


def _decode(session_id: str, item: dict[str, Any]) -> Message:
    return Message(
        item["id"],
        session_id,
        item["seq"],
        item["role"],
        item["content"],
        datetime.fromisoformat(item["created_at"]),
        item["reply_to"],
    )
