"""travel_agent: the backend of an AI travel-planning chat, built not to fall over."""

__version__ = "2.0.0"
