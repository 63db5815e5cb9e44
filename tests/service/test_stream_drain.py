"""A streamed turn cut by a deploy is handed over, not failed: the draining worker checkpoints the partial
answer, gives its lease up and ends its client's stream with `resume`; the client resumes (on the new worker,
or on a new instance after a full stop) and gets exactly the rest. On SIGTERM, SIGHUP (reload) and SIGTTOU
(one worker fewer) alike. A SIGKILLed worker's turn is taken over once its lease runs out. Real gunicorn, the
offline agent typing slowly so the reply outlasts the drain."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests
from tests.support.chat import session_path

from tools.harness import wait_until
from tools.harness.resumable import Followed, read, resume_until_end

pytestmark = pytest.mark.slow

MESSAGE = "Lisbon"  # the offline reply: 57 words, a word every 0.1 s
# The drain cuts the turn GRACEFUL_TIMEOUT_SECONDS - DRAIN_MARGIN_SECONDS (1 s) after the signal.
ENV = {
    "GRACEFUL_TIMEOUT_SECONDS": "4",
    "DRAIN_MARGIN_SECONDS": "3",
    "OFFLINE_CHUNK_DELAY_MS": "100",
    "STARTUP_RETRIES": "1",
    "REDIS_URL": None,
}


def stored_answers(base_url: str, session_id: str) -> list[str]:
    messages = requests.get(base_url + session_path(session_id), timeout=10).json()["messages"]
    return [m["content"] for m in messages if m["role"] == "assistant"]


def stream_in_thread(service: Any) -> tuple[Followed, threading.Event, threading.Thread]:
    """Start a streamed chat in a thread that reads until the stream ends or stops short."""
    followed, first_chunk = Followed(), threading.Event()

    def run() -> None:
        with requests.post(service.base_url + "/api/chat/stream", json={"message": MESSAGE}, stream=True) as response:
            assert response.status_code == 200
            read(response, followed, on_event=lambda kind: kind == "chunk" and first_chunk.set())
        first_chunk.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert first_chunk.wait(15), followed
    return followed, first_chunk, thread


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGTTOU], ids=lambda sig: sig.name)
def test_a_stream_cut_by_the_drain_is_handed_over_and_resumed_to_the_whole_answer(
    make_mongo: Callable[..., Any], make_gunicorn: Callable[..., Any], sig: signal.Signals
) -> None:
    mongo = make_mongo()
    service = make_gunicorn(mongo_uri=mongo.uri, env=ENV)
    followed, _, thread = stream_in_thread(service)
    if sig == signal.SIGTTOU:
        # One worker fewer stops the oldest: the one serving the stream, once a second one exists.
        (oldest,) = service.worker_pids()
        service.signal(signal.SIGTTIN)
        service.wait_for_workers(2)
    service.signal(sig)
    thread.join(15)
    assert not thread.is_alive()
    assert followed.kinds[0] == "start" and "chunk" in followed.kinds and followed.kinds[-1] == "resume"
    assert followed.end is None and 0 < len(followed.text)
    if sig == signal.SIGTERM:
        service.wait_exit(15)
        service = make_gunicorn(mongo_uri=mongo.uri, env=ENV)  # a new instance, on the same database
    elif sig == signal.SIGTTOU:
        wait_until(lambda: oldest not in service.worker_pids(), 10, message="the drained worker did not exit")
    had = followed.text
    resumed = resume_until_end(service.base_url, followed)
    assert resumed.end is not None and resumed.end[0] == "done", resumed
    answers = stored_answers(service.base_url, followed.start["session_id"])
    assert answers == [resumed.text] and resumed.text.startswith(had) and len(resumed.text) > len(had)
    assert "took a turn over" in service.log_file_text()


def test_a_killed_workers_turn_is_taken_over_after_its_lease_and_answered_once(
    make_mongo: Callable[..., Any], make_gunicorn: Callable[..., Any]
) -> None:
    service = make_gunicorn(mongo_uri=make_mongo().uri, env=ENV | {"TURN_LEASE_SECONDS": "2"})
    followed = Followed()
    with requests.post(service.base_url + "/api/chat/stream", json={"message": MESSAGE}, stream=True) as response:
        read(response, followed, stop_after_chunks=3)
        (worker,) = service.worker_pids()
        service.kill_worker(worker, signal.SIGKILL)
        killed_at = time.monotonic()
    had = followed.text
    assert had and followed.end is None
    service.wait_for_workers(1)
    resumed = resume_until_end(service.base_url, followed)
    assert resumed.end is not None and resumed.end[0] == "done", resumed
    # Within the lease (2 s) plus the rest of the reply (~5 s of typing) and a worker's boot, on a loaded machine.
    assert time.monotonic() - killed_at < 30
    assert stored_answers(service.base_url, followed.start["session_id"]) == [resumed.text]
    assert resumed.text.startswith(had) and "took a turn over" in service.log_file_text()


def test_with_redis_a_killed_workers_turn_continues_from_what_any_client_was_shown(
    make_mongo: Callable[..., Any], make_redis: Callable[..., Any], make_gunicorn: Callable[..., Any]
) -> None:
    redis = make_redis()
    env = {k: v for k, v in ENV.items() if k != "REDIS_URL"} | {"TURN_LEASE_SECONDS": "2"}
    service = make_gunicorn(mongo_uri=make_mongo().uri, redis_url=redis.url, env=env)
    followed = Followed()
    with requests.post(service.base_url + "/api/chat/stream", json={"message": MESSAGE}, stream=True) as response:
        read(response, followed, stop_after_chunks=5)
        (worker,) = service.worker_pids()
        service.kill_worker(worker, signal.SIGKILL)
    had = followed.text
    service.wait_for_workers(1)
    resumed = resume_until_end(service.base_url, followed)
    assert resumed.end is not None and resumed.end[0] == "done", resumed
    assert stored_answers(service.base_url, followed.start["session_id"]) == [resumed.text]
    assert resumed.text.startswith(had) and resumed.restarts == 0
    assert "took a turn over" in service.log_file_text()
