"""The MongoDB and Redis round trips of each chat operation, counted by the drivers
(``tools/benchmarks/round_trips.py``) and pinned: a change that adds one fails here, and must say in
``ChatService``'s docstring which guarantee needs it (and update docs/PERFORMANCE.md)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask

from tools.benchmarks.round_trips import count_redis_of, measure, register_mongo_listener

TURN = {"findAndModify chat_sessions": 1, "insert chat_messages": 2, "aggregate chat_messages": 1}
PLAIN = TURN | {"find chat_sessions": 1}  # the answer's confirm
KEYED = TURN | {"insert chat_idempotency": 1, "update chat_idempotency": 1}  # the claim; complete is the confirm
READ = {"aggregate chat_sessions": 1}


@pytest.mark.parametrize("redis_on", [True, False], ids=["with-redis", "without-redis"])
def test_each_chat_operation_makes_exactly_its_round_trips(build_app: Callable[..., Flask], redis_on: bool) -> None:
    register_mongo_listener()  # before the app's client exists: PyMongo gives it to clients built afterwards
    app = build_app() if redis_on else build_app(REDIS_URL=None)
    count_redis_of(app)
    found = measure(app)
    follow_up = {"GET": 1, "SET": 1} if redis_on else {}
    new_session = {"SET": 1} if redis_on else {}  # nothing cached to read for a session made this turn
    # A streamed turn's text and its end go to the turn's Redis Stream (chat/turn_runner.py): one pipelined
    # round trip (two XADD and the EXPIRE) for a reply that takes less than TURN_RELAY_SECONDS; a longer one adds
    # at most one append per TURN_RELAY_SECONDS and one MongoDB checkpoint per TURN_CHECKPOINT_SECONDS.
    relayed = {"XADD": 2, "EXPIRE": 1} if redis_on else {}
    expected = {
        "send, new session": (PLAIN, new_session),
        "send, follow-up": (PLAIN, follow_up),
        "keyed send, new session": (KEYED, new_session),
        "keyed send, follow-up": (KEYED, follow_up),
        "stream, follow-up": (PLAIN, follow_up | relayed),
        "session read": (READ, {}),
    }
    got = {name: (counted.mongo, counted.redis) for name, counted in found.items()}
    assert got == expected
