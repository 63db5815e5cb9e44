"""The deterministic offline travel assistant: ``reply(history, message)`` and its word-by-word stream."""

from travel_agent.agent.offline.conversation import reply, reply_chunks
from travel_agent.agent.offline.itinerary import MAX_DAY_LINES
from travel_agent.agent.offline.places import warm
from travel_agent.agent.offline.state import forget

__all__ = ["MAX_DAY_LINES", "forget", "reply", "reply_chunks", "warm"]
