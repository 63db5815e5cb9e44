"""A streamed chat cut by the shutdown drain ends as a plain request does: 503 with a retry hint (the final
`error` event carries code 503 and retry_after), on SIGTERM, SIGHUP (reload) and SIGTTOU (one worker fewer)
alike. Real gunicorn with the offline agent typing slowly, so the reply outlasts the drain."""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Callable
from typing import Any

import pytest
import requests
from tests.support.chat import STREAM, blocks, parse_block

pytestmark = pytest.mark.slow

# The drain answers stragglers GRACEFUL_TIMEOUT_SECONDS - DRAIN_MARGIN_SECONDS (1 s) after the signal; the
# offline agent's reply, a word every 0.4 s, takes far longer.
ENV = {
    "GRACEFUL_TIMEOUT_SECONDS": "4",
    "DRAIN_MARGIN_SECONDS": "3",
    "OFFLINE_CHUNK_DELAY_MS": "400",
    "STARTUP_RETRIES": "1",
    "REDIS_URL": None,
}


def stream_until_first_chunk(service: Any) -> tuple[threading.Event, list[tuple[str, Any]], threading.Thread]:
    """Start a streamed chat in a thread; returns once its first chunk arrived. The events land in the list."""
    events: list[tuple[str, Any]] = []
    first_chunk = threading.Event()

    def run() -> None:
        body = {"message": "Two weeks in Japan for a family of four, mid-range, in April"}
        with requests.post(service.base_url + STREAM, json=body, stream=True, timeout=30) as response:
            assert response.status_code == 200
            for block in blocks(response.iter_content(chunk_size=None)):
                events.append(parse_block(block))
                if events[-1][0] == "chunk":
                    first_chunk.set()
        first_chunk.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert first_chunk.wait(15), events
    return first_chunk, events, thread


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGTTOU], ids=lambda sig: sig.name)
def test_a_stream_cut_by_the_drain_ends_with_503_and_a_retry_hint(
    make_mongo: Callable[..., Any],
    make_gunicorn: Callable[..., Any],
    wait_until: Callable[..., Any],
    sig: signal.Signals,
) -> None:
    service = make_gunicorn(mongo_uri=make_mongo().uri, env=ENV)
    _, events, thread = stream_until_first_chunk(service)
    if sig == signal.SIGTTOU:
        # One worker fewer stops the oldest: the one serving the stream, once a second one exists.
        (oldest,) = service.worker_pids()
        service.signal(signal.SIGTTIN)
        service.wait_for_workers(2)
    service.signal(sig)
    thread.join(15)
    assert not thread.is_alive()
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "start" and "chunk" in kinds and kinds[-1] == "error", kinds
    error = events[-1][1]
    assert error["code"] == 503, error
    assert error["retry_after"] >= 1 and "retry" in error["message"].lower(), error
    assert "took too long" not in json.dumps(error)
    if sig == signal.SIGTTOU:
        wait_until(lambda: oldest not in service.worker_pids(), 10, message="the drained worker did not exit")
