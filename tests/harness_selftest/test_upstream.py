"""Self-tests of the fake OpenAI upstream: a real HTTP server, exercised with real HTTP clients."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from tools.harness.upstream import UpstreamServer, split_words

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def upstream() -> Iterator[UpstreamServer]:
    with UpstreamServer() as server:
        yield server


def chat(
    server: UpstreamServer, text: str, *, stream: bool = False, timeout: float = 10, **extra: Any
) -> requests.Response:
    """One whole chat-completions call, read to the end (a stream too)."""
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": text}]
    body = {"model": "gpt-test", "messages": messages, "stream": stream, **extra}
    return requests.post(f"{server.base_url}/chat/completions", json=body, timeout=timeout)


def sse_events(response: requests.Response) -> list[str]:
    """The ``data:`` payloads of an event stream, in order."""
    events = []
    for block in response.text.split("\n\n"):
        if block.strip():
            assert block.startswith("data: "), block
            events.append(block[len("data: ") :])
    return events


def read_stream(server: UpstreamServer, text: str) -> tuple[list[str], BaseException | None]:
    """Read a stream line by line, returning the data payloads received before it ended or broke."""
    received: list[str] = []
    body = {"model": "gpt-test", "stream": True, "messages": [{"role": "user", "content": text}]}
    try:
        with requests.post(f"{server.base_url}/chat/completions", json=body, stream=True, timeout=10) as response:
            assert response.status_code == 200
            for line in response.iter_lines():
                if line:
                    received.append(line.decode()[len("data: ") :])
    except requests.RequestException as exc:
        return received, exc
    return received, None


def test_echo_non_stream_has_the_openai_shape(upstream: UpstreamServer) -> None:
    response = chat(upstream, "hello there")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["id"].startswith("chatcmpl-")
    assert isinstance(body["created"], int)
    assert body["model"] == "gpt-test"
    assert body["choices"] == [
        {"index": 0, "message": {"role": "assistant", "content": "echo: hello there"}, "finish_reason": "stop"}
    ]
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0


def test_echo_uses_the_last_user_message(upstream: UpstreamServer) -> None:
    messages = [
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "echo: first"},
        {"role": "user", "content": [{"type": "text", "text": "second "}, {"type": "text", "text": "part"}]},
    ]
    response = requests.post(f"{upstream.base_url}/chat/completions", json={"messages": messages}, timeout=10)
    assert response.json()["choices"][0]["message"]["content"] == "echo: second part"


def test_stream_is_server_sent_chunks_ending_in_done(upstream: UpstreamServer) -> None:
    response = chat(upstream, "one two three four", stream=True)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    events = sse_events(response)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(event) for event in events[:-1]]
    assert {chunk["object"] for chunk in chunks} == {"chat.completion.chunk"}
    assert len({chunk["id"] for chunk in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-1]["choices"][0] == {"index": 0, "delta": {}, "finish_reason": "stop"}
    assert all(chunk["choices"][0]["finish_reason"] is None for chunk in chunks[:-1])
    pieces = [chunk["choices"][0]["delta"].get("content", "") for chunk in chunks]
    assert len([piece for piece in pieces if piece]) >= 4
    assert "".join(pieces) == "echo: one two three four"


def test_stream_can_end_with_a_usage_chunk(upstream: UpstreamServer) -> None:
    response = chat(upstream, "count me", stream=True, stream_options={"include_usage": True})
    events = sse_events(response)
    usage_chunk = json.loads(events[-2])
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"]["completion_tokens"] == 3


def test_split_words_joins_back() -> None:
    for text in ["echo: a b", "  lead and trail  ", "", "x"]:
        assert "".join(split_words(text)) == text


def test_delay_is_applied_before_answering(upstream: UpstreamServer) -> None:
    upstream.delay = 0.4
    start = time.monotonic()
    assert chat(upstream, "slow").status_code == 200
    assert 0.4 <= time.monotonic() - start < 3.0


def test_chunk_delay_spaces_out_the_stream(upstream: UpstreamServer) -> None:
    upstream.chunk_delay = 0.1
    start = time.monotonic()
    received, error = read_stream(upstream, "a b c d")  # "echo: ", "a ", "b ", "c ", "d": four gaps
    assert error is None and received[-1] == "[DONE]"
    assert 0.4 <= time.monotonic() - start < 3.0


def test_fail_next_fails_that_many_then_recovers(upstream: UpstreamServer) -> None:
    upstream.fail_next(500, 2)
    first, second, third = (chat(upstream, f"try {n}") for n in range(3))
    assert [first.status_code, second.status_code, third.status_code] == [500, 500, 200]
    error = first.json()["error"]
    assert error["type"] == "server_error" and error["message"]
    assert "Retry-After" not in first.headers
    assert third.json()["choices"][0]["message"]["content"] == "echo: try 2"


def test_rate_limit_carries_retry_after(upstream: UpstreamServer) -> None:
    upstream.fail_next(429, retry_after=2)
    response = chat(upstream, "too fast", stream=True)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "2"
    assert response.headers["retry-after-ms"] == "2000"
    assert response.json()["error"]["code"] == "rate_limit_exceeded"
    assert chat(upstream, "later").status_code == 200


def test_fail_status_holds_until_cleared(upstream: UpstreamServer) -> None:
    upstream.fail_status = 503
    assert [chat(upstream, "x").status_code for _ in range(3)] == [503, 503, 503]
    upstream.fail_status = None
    assert chat(upstream, "x").status_code == 200


def test_hang_holds_the_request_and_stop_returns_promptly() -> None:
    server = UpstreamServer(mode="hang").start()
    outcome: queue.Queue[object] = queue.Queue()

    def call() -> None:
        try:
            outcome.put(chat(server, "anyone?", timeout=30))
        except requests.RequestException as exc:
            outcome.put(exc)

    caller = threading.Thread(target=call, daemon=True)
    caller.start()
    try:
        server.wait_for_requests(1, timeout=5)
        assert outcome.empty() and server.in_flight == 1
    finally:
        start = time.monotonic()
        server.stop()
        stop_took = time.monotonic() - start
    assert stop_took < 1.5
    result = outcome.get(timeout=5)
    assert isinstance(result, requests.ConnectionError), result
    caller.join(5)


def test_leaving_hang_mode_releases_the_held_request(upstream: UpstreamServer) -> None:
    upstream.mode = "hang"
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(chat, upstream, "held")
        upstream.wait_for_requests(1, timeout=5)
        assert not pending.done()
        upstream.mode = "echo"
        assert pending.result(timeout=5).json()["choices"][0]["message"]["content"] == "echo: held"


def test_stop_closes_idle_keep_alive_connections_fast(upstream: UpstreamServer) -> None:
    with requests.Session() as session:
        url = f"{upstream.base_url}/chat/completions"
        assert session.post(url, json={"messages": []}, timeout=5).status_code == 200
        start = time.monotonic()
        upstream.stop()
        assert time.monotonic() - start < 1.5
        with pytest.raises(requests.ConnectionError):
            session.post(url, json={"messages": []}, timeout=5)


def test_stream_break_drops_the_connection_mid_stream(upstream: UpstreamServer) -> None:
    upstream.mode = "stream_break"
    upstream.break_after = 2
    received, error = read_stream(upstream, "a b c d e f")
    assert isinstance(error, requests.exceptions.ChunkedEncodingError), error
    contents = [json.loads(data)["choices"][0]["delta"].get("content") for data in received]
    assert contents == ["", "echo: ", "a "]
    assert "[DONE]" not in received


def test_sixty_slow_requests_are_served_concurrently(upstream: UpstreamServer) -> None:
    upstream.delay = 1.0
    start = time.monotonic()
    with ThreadPoolExecutor(60) as pool:
        responses = list(pool.map(lambda n: chat(upstream, f"caller {n}", timeout=20), range(60)))
    elapsed = time.monotonic() - start
    assert [r.json()["choices"][0]["message"]["content"] for r in responses] == [f"echo: caller {n}" for n in range(60)]
    assert 1.0 <= elapsed < 4.0  # serialised, this would take a minute


def test_sixty_slow_streams_do_not_cross_talk(upstream: UpstreamServer) -> None:
    upstream.chunk_delay = 0.2
    with ThreadPoolExecutor(60) as pool:
        results = list(pool.map(lambda n: read_stream(upstream, f"stream {n} here"), range(60)))
    for n, (received, error) in enumerate(results):
        assert error is None
        text = "".join(json.loads(data)["choices"][0]["delta"].get("content", "") for data in received[:-1])
        assert text == f"echo: stream {n} here"


def test_requests_are_recorded(upstream: UpstreamServer) -> None:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "remember me"}], "temperature": 0.2}
    headers = {"Authorization": "Bearer sk-test-123", "X-Request-Id": "abc"}
    requests.post(f"{upstream.base_url}/chat/completions", json=body, headers=headers, timeout=10)
    requests.post(f"{upstream.base_url}/nope", json=body, timeout=10)
    first, second = upstream.wait_for_requests(2, timeout=5)
    assert first["method"] == "POST" and first["path"] == "/v1/chat/completions"
    assert first["json"] == body
    assert first["headers"]["authorization"] == "Bearer sk-test-123"
    assert first["headers"]["Authorization"] == "Bearer sk-test-123"
    assert first["headers"].get("x-request-id") == "abc"
    assert second["path"] == "/v1/nope"
    upstream.clear_requests()
    assert upstream.requests == []


def test_bad_requests_get_openai_errors(upstream: UpstreamServer) -> None:
    unknown = requests.post(f"{upstream.base_url}/completions", json={"prompt": "x"}, timeout=10)
    assert unknown.status_code == 404 and unknown.json()["error"]["type"] == "invalid_request_error"
    garbled = requests.post(f"{upstream.base_url}/chat/completions", data=b"{not json", timeout=10)
    assert garbled.status_code == 400 and "error" in garbled.json()
    assert upstream.requests[-1]["json"] is None


def test_unknown_settings_are_refused(upstream: UpstreamServer) -> None:
    with pytest.raises(ValueError):
        upstream.mode = "sulk"
    with pytest.raises(TypeError):
        upstream.configure(speed=3)
    assert upstream.mode == "echo"


def test_base_url_needs_a_running_server() -> None:
    server = UpstreamServer()
    with pytest.raises(RuntimeError):
        _ = server.base_url
    with server:
        assert server.base_url.startswith("http://127.0.0.1:") and server.base_url.endswith("/v1")


@pytest.mark.parametrize(
    "entry", [["-m", "tools.harness.upstream"], ["tools/harness/upstream.py"]], ids=["module", "script"]
)
def test_runs_as_its_own_process(entry: list[str]) -> None:
    proc = subprocess.Popen(
        [sys.executable, *entry, "--port", "0", "--delay", "0.2"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: lines.put(proc.stdout.readline() if proc.stdout else ""), daemon=True).start()
        base_url = lines.get(timeout=20).strip()
        assert base_url.startswith("http://127.0.0.1:"), f"no base URL printed, got {base_url!r}"
        start = time.monotonic()
        response = requests.post(
            f"{base_url}/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]}, timeout=10
        )
        assert response.json()["choices"][0]["message"]["content"] == "echo: hi"
        assert time.monotonic() - start >= 0.2
    finally:
        proc.terminate()
        _out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
