"""The chat: conversations in MongoDB, their recent context cached in Redis, answered by an agent."""
