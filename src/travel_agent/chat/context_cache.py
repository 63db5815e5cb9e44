"""The recent context of a session cached in Redis, tagged with the session's version so it is never stale.

Every stored message bumps the session's ``version`` in MongoDB (after the insert). An entry tagged ``v`` holds
at least every message counted up to ``v``, so a turn whose own message made the version ``v + 1`` may use an
entry tagged ``v`` plus its own message, and nothing else. Any other write in between changes the version and
the entry is simply not used: that is the invalidation, and it holds even when Redis was down while the write
happened (a delete sent to a dead Redis would be lost; a version kept in MongoDB is not). With Redis down or
disabled every read is a miss and the context comes from MongoDB.
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

# Long enough to span a conversation's pauses; after that the next turn reads MongoDB once.
TTL_SECONDS = 3600


def key(session_id: str) -> str:
    return f"chat:context:{session_id}"


def merge(messages: Iterable[Message], limit: int) -> list[Message]:
    """The last ``limit`` distinct messages in position order (an entry may already hold a newer one)."""
    unique = {message.id: message for message in messages}
    return sorted(unique.values(), key=lambda message: message.seq)[-limit:]


class ContextCache:
    def __init__(self, redis: RedisGateway | None, limit: int) -> None:
        self.redis = redis
        self.limit = limit

    def get(self, session_id: str, version: int) -> list[Message] | None:
        """The cached messages if the entry is tagged ``version``, else None (a miss)."""
        if self.redis is None:
            return None
        raw = self.redis.run("get context", lambda r: r.get(key(session_id)), fallback=None)
        if raw is None:
            return None
        try:
            entry = json.loads(raw)
            if entry["version"] != version:
                return None
            return [_decode(session_id, item) for item in entry["messages"]]
        except (ValueError, LookupError, TypeError) as exc:
            # Written by another release, or damaged: MongoDB has the truth, and the next put replaces it.
            log.warning("ignoring an unreadable context entry for a session: %s", type(exc).__name__)
            return None

    def put(self, session_id: str, version: int, messages: Iterable[Message]) -> None:
        if self.redis is None:
            return
        entry = json.dumps({"version": version, "messages": [_encode(m) for m in merge(messages, self.limit)]})
        self.redis.run("set context", lambda r: r.set(key(session_id), entry, ex=TTL_SECONDS), fallback=None)

    def drop(self, session_id: str) -> None:
        if self.redis is not None:
            self.redis.run("drop context", lambda r: r.delete(key(session_id)), fallback=None)


def _encode(message: Message) -> dict[str, Any]:
    return {"id": message.id, "seq": message.seq, "role": message.role, "content": message.content,
            "created_at": message.created_at.isoformat(), "reply_to": message.reply_to}


def _decode(session_id: str, item: dict[str, Any]) -> Message:
    return Message(item["id"], session_id, item["seq"], item["role"], item["content"],
                   datetime.fromisoformat(item["created_at"]), item["reply_to"])
