"""The conversation every chat benchmark holds: the same messages, in the same order, for the service and the floor."""

from __future__ import annotations

# Turn 1 starts a session; the next turns continue it. The offline agent answers each from what was said so far.
MESSAGES = [
    "Hi! We are two adults planning a trip to Lisbon for 5 days in May.",
    "Our budget is about 2000 EUR in total, mid-range hotels are fine.",
    "We love food markets, museums and a day at the beach. What would you suggest?",
]
SEND_PATH = "/api/chat/send"
