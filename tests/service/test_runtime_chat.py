"""The runtime's promises with the real chat route and a real OpenAI-compatible upstream: the chat budget
ends in a 504 on time, one worker holds many slow chats at once, and a SIGTERM lets chats in flight finish."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from tests.support.chat import SEND, session_path

from tools.harness.envelope import assert_envelope
from tools.harness.upstream import UpstreamServer

pytestmark = pytest.mark.slow


def send(service: Any, message: str) -> tuple[requests.Response, float]:
    started = time.monotonic()
    response = requests.post(service.base_url + SEND, json={"message": message}, timeout=30)
    return response, time.monotonic() - started


def test_chat_slower_than_its_budget_gets_504_on_time_and_keeps_the_message(
    chat_stack: Callable[..., Any], upstream: UpstreamServer
) -> None:
    _, _, service = chat_stack(AGENT_PROVIDER="openai", CHAT_TIMEOUT_SECONDS="3")
    upstream.delay = 10
    response, seconds = send(service, "plan Lisbon for me")
    body = assert_envelope(response, 504)
    assert 2.5 <= seconds <= 3.5, seconds
    # The user's message was stored before the agent was called, and stays, marked unanswered.
    history = requests.get(service.base_url + session_path(body["session_id"]), timeout=5).json()["messages"]
    assert [(m["role"], m["content"], m.get("status")) for m in history] == [
        ("user", "plan Lisbon for me", "unanswered")
    ]
    upstream.delay = 0
    after, _ = send(service, "and now?")
    assert after.status_code == 200 and after.json()["reply"] == "echo: and now?"


def test_one_worker_holds_60_concurrent_chats_with_a_1s_upstream(
    chat_stack: Callable[..., Any], upstream: UpstreamServer
) -> None:
    _, _, service = chat_stack(AGENT_PROVIDER="openai")
    assert len(service.worker_pids()) == 1
    upstream.delay = 1
    started = time.monotonic()
    with ThreadPoolExecutor(60) as pool:
        results = list(pool.map(lambda i: send(service, f"trip number {i}"), range(60)))
    wall = time.monotonic() - started
    assert [r.status_code for r, _ in results] == [200] * 60
    assert [r.json()["reply"] for r, _ in results] == [f"echo: trip number {i}" for i in range(60)]
    assert wall < 5.0, wall


def test_sigterm_with_5_chats_in_flight_lets_them_finish(
    chat_stack: Callable[..., Any], upstream: UpstreamServer, wait_until: Callable[..., Any]
) -> None:
    _, _, service = chat_stack(AGENT_PROVIDER="openai", GRACEFUL_TIMEOUT_SECONDS="20")
    upstream.delay = 2.5
    with ThreadPoolExecutor(5) as pool:
        calls = [pool.submit(send, service, f"chat {i}") for i in range(5)]
        wait_until(lambda: upstream.in_flight == 5, 5, message="the five chats never reached the upstream")
        service.terminate()
        results = [call.result() for call in calls]
    assert [r.status_code for r, _ in results] == [200] * 5
    assert sorted(r.json()["reply"] for r, _ in results) == [f"echo: chat {i}" for i in range(5)]
    assert service.wait_exit(15) == 0
    output = service.log_text()
    assert "5 request(s) in flight" in output
    assert output.index("Redis connection pool closed") < output.index("MongoDB client closed")
