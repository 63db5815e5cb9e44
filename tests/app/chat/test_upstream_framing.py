"""A streamed upstream body forwarded as it arrives, whatever its framing: chunked, or without any (the body
ends when the upstream closes the connection). Before, the second kind reached the client 16 KiB at a time:
at a word each 0.3 s, the first chunk came after some 6 s. This runs the reply pump's path (threads, the
Flask test client); tests/service/test_upstream_dependency.py runs gunicorn's inline one."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from tests.support.chat import STREAM, blocks, parse_block

from tools.harness.upstream import UpstreamServer

WORD_SECONDS = 0.3
MESSAGE = "one two three four five six"


@pytest.mark.parametrize("framing", ["close", "chunked"])
def test_each_word_reaches_the_client_as_it_arrives(
    openai_app: Callable[..., Flask], upstream: UpstreamServer, framing: str
) -> None:
    upstream.configure(framing=framing, chunk_delay=WORD_SECONDS)
    client = openai_app(CHAT_TIMEOUT_SECONDS=20).test_client()
    started = time.monotonic()
    arrivals: list[tuple[float, str]] = []
    with client.post(STREAM, json={"message": MESSAGE}, buffered=False) as response:
        body: Iterator[str] = iter(blocks(response.response))  # type: ignore[arg-type]
        for block in body:
            kind, data = parse_block(block)
            arrivals.append((time.monotonic() - started, kind))
            if kind in ("done", "error"):
                break
    kinds = [kind for _, kind in arrivals]
    assert kinds[-1] == "done", kinds
    chunk_times = [at for at, kind in arrivals if kind == "chunk"]
    assert len(chunk_times) == len(MESSAGE.split()) + 1  # "echo:" and each word
    # The first piece comes at once, and the last about a word's pause after the one before: none waited to
    # fill a buffer (the whole answer takes 6 pauses, 1.8 s).
    assert chunk_times[0] < 1.0, arrivals
    assert chunk_times[-1] - chunk_times[-2] > WORD_SECONDS / 2, arrivals
    assert chunk_times[-1] - chunk_times[0] > 4 * WORD_SECONDS, arrivals
