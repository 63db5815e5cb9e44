"""Two instances sharing MongoDB and Redis: a turn running on one is resumed on the other, live through the
turn's Redis Stream, and, with Redis stopped, at a coarser grain from the MongoDB checkpoints. What the client
had plus what it resumed is exactly the stored answer, with no gap and no repeat."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import requests
from tests.support.chat import STREAM, session_path

from tools.harness.resumable import Followed, read

pytestmark = pytest.mark.slow

MESSAGE = "Weekend in Rome"  # the offline reply: 79 words, one every 0.1 s
ENV = {"OFFLINE_CHUNK_DELAY_MS": "100", "STARTUP_RETRIES": "1"}


def resume_once(base_url: str, followed: Followed) -> tuple[float, Followed]:
    """Resume at ``base_url``; the seconds until its first event, and the followed turn once it ended."""
    headers = {"Last-Event-ID": followed.last_id} if followed.last_id else {}
    started = time.monotonic()
    first: list[float] = []
    with requests.get(base_url + followed.start["resume_url"], headers=headers, stream=True, timeout=30) as response:
        assert response.status_code == 200, response.text
        assert read(response, followed, on_event=lambda _kind: first.append(time.monotonic()) if not first else None)
    return first[0] - started, followed


def stored_answers(base_url: str, session_id: str) -> list[str]:
    messages = requests.get(base_url + session_path(session_id), timeout=10).json()["messages"]
    return [m["content"] for m in messages if m["role"] == "assistant"]


@pytest.mark.parametrize("redis_up", [True, False], ids=["through-redis", "redis-down"])
def test_a_turn_running_on_one_instance_is_resumed_live_on_the_other(
    make_mongo: Callable[..., Any], make_redis: Callable[..., Any], make_gunicorn: Callable[..., Any], redis_up: bool
) -> None:
    mongo, redis = make_mongo(), make_redis()
    one, two = (make_gunicorn(mongo_uri=mongo.uri, redis_url=redis.url, env=ENV) for _ in range(2))
    followed = Followed()
    with requests.post(one.base_url + STREAM, json={"message": MESSAGE}, stream=True, timeout=30) as response:
        read(response, followed, stop_after_chunks=3)  # then the connection is dropped
    had = followed.text
    if not redis_up:
        redis.stop()
    waited, followed = resume_once(two.base_url, followed)
    assert followed.end is not None and followed.end[0] == "done", followed
    # The whole answer arrived on the second instance while the first still wrote it: live, not a replay.
    assert stored_answers(one.base_url, followed.start["session_id"]) == [followed.text]
    assert followed.text.startswith(had) and len(followed.text) > len(had)
    assert followed.kinds.count("done") == 1 and "restart" not in followed.kinds
    assert waited < 2.0, waited  # the first event of the resume (generous: a loaded machine)
    assert "took a turn over" not in one.log_file_text() + two.log_file_text()
