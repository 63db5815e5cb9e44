"""The chat: conversations in MongoDB, their recent context cached in Redis, answered by an agent."""

from __future__ import annotations

from travel_agent.agent.provider import build_agent
from travel_agent.chat.context_cache import ContextCache
from travel_agent.chat.idempotency import IdempotencyStore
from travel_agent.chat.indexes import Indexes
from travel_agent.chat.service import ChatService
from travel_agent.chat.store import ChatStore
from travel_agent.config import Settings
from travel_agent.mongo import MongoGateway
from travel_agent.redis_store import RedisGateway


def build_chat(settings: Settings, mongo: MongoGateway, redis: RedisGateway | None) -> ChatService:
    """One per worker; touches no network (the agent's HTTP pool connects on first use)."""
    return ChatService(
        ChatStore(mongo), Indexes(mongo), ContextCache(redis, settings.chat_history_messages),
        IdempotencyStore(mongo, lease_seconds=settings.idempotency_lease_seconds), build_agent(settings),
        settings.chat_heartbeat_seconds)
