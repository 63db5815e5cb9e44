"""A dead worker's turn on the OpenAI-compatible agent: continued from its partial answer by prefill (the
partial answer sent back as a trailing assistant message), or, with TURN_TAKEOVER=restart, restarted, which
the stream announces with a `restart` event. Either way the client ends with the one stored answer."""

from __future__ import annotations

import signal
from collections.abc import Callable
from typing import Any

import pytest
import requests
from tests.support.chat import STREAM, session_path

from tools.harness.resumable import Followed, read, resume_until_end
from tools.harness.upstream import UpstreamServer

pytestmark = pytest.mark.slow

MESSAGE = "one two three four five six seven eight nine ten eleven twelve"
ANSWER = "echo: " + MESSAGE


def kill_mid_answer(service: Any) -> Followed:
    followed = Followed()
    with requests.post(service.base_url + STREAM, json={"message": MESSAGE}, stream=True, timeout=30) as response:
        read(response, followed, stop_after_chunks=2)
        (worker,) = service.worker_pids()
        service.kill_worker(worker, signal.SIGKILL)
    service.wait_for_workers(1)
    return followed


@pytest.mark.parametrize("mode", ["continue", "restart"])
def test_a_dead_workers_openai_turn_is_continued_by_prefill_or_restarted(
    chat_stack: Callable[..., Any], upstream: UpstreamServer, mode: str
) -> None:
    _mongo, _redis, service = chat_stack(AGENT_PROVIDER="openai", TURN_LEASE_SECONDS="2", TURN_TAKEOVER=mode)
    upstream.chunk_delay = 0.3
    followed = kill_mid_answer(service)
    had = followed.text
    assert had and ANSWER.startswith(had)
    resumed = resume_until_end(service.base_url, followed)
    assert resumed.end is not None and resumed.end[0] == "done", resumed
    assert resumed.text == ANSWER
    messages = requests.get(service.base_url + session_path(followed.start["session_id"]), timeout=10).json()
    assert [m["content"] for m in messages["messages"] if m["role"] == "assistant"] == [ANSWER]
    last = upstream.requests[-1]["json"]["messages"][-1]
    if mode == "continue":
        assert resumed.restarts == 0
        assert last["role"] == "assistant" and had in last["content"] and ANSWER.startswith(last["content"])
        assert upstream.requests[-1]["json"]["continue_final_message"] is True
    else:
        assert resumed.restarts == 1 and "restart" in resumed.kinds
        assert last == {"role": "user", "content": MESSAGE}
