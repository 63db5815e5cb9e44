"""A hostile or broken model upstream cannot take a worker down: a huge completion is a 502, a stream that
floods valid chunks or sends one endless line is ended on time (its budget, or the reply's size cap) while
/health/live on the same worker keeps answering within a second. Real gunicorn, one worker, a real upstream."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from tests.support.chat import SEND, STREAM, blocks, parse_block
from tests.support.service import OPENAI_AGAINST

from tools.harness.envelope import assert_envelope
from tools.harness.upstream import UpstreamServer

pytestmark = pytest.mark.slow

BUDGET = 3.0


class LivenessProbe:
    """Polls /health/live from another thread and keeps the slowest answer (a failure counts as 99 s)."""

    def __init__(self, base_url: str) -> None:
        self.url = base_url + "/health/live"
        self.slowest = 0.0
        self.probes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                ok = requests.get(self.url, timeout=5).status_code == 200
            except requests.RequestException:
                ok = False
            self.slowest = max(self.slowest, time.monotonic() - started if ok else 99.0)
            self.probes += 1
            self._stop.wait(0.1)

    def __enter__(self) -> LivenessProbe:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.fixture
def service(
    make_mongo: Callable[..., Any], make_gunicorn: Callable[..., Any], upstream: UpstreamServer
) -> Iterator[Any]:
    yield make_gunicorn(
        mongo_uri=make_mongo().uri,
        workers=1,
        env={
            **OPENAI_AGAINST,
            "OPENAI_BASE_URL": upstream.base_url,
            "CHAT_TIMEOUT_SECONDS": str(BUDGET),
            "MAX_REPLY_CHARS": "20000",
        },
    )


def timed_stream(service: Any) -> tuple[float, list[tuple[str, Any]]]:
    started = time.monotonic()
    with requests.post(
        service.base_url + STREAM, json={"message": "Anywhere warm"}, stream=True, timeout=BUDGET + 10
    ) as response:
        assert response.status_code == 200
        events = [parse_block(block) for block in blocks(response.iter_content(chunk_size=None))]
    return time.monotonic() - started, events


def test_a_huge_completion_is_a_502_not_a_500(service: Any, upstream: UpstreamServer) -> None:
    upstream.configure(mode="huge", huge_chars=17_000_000)
    (worker,) = service.worker_pids()
    with LivenessProbe(service.base_url) as probe:
        response = requests.post(service.base_url + SEND, json={"message": "Everything about Peru"}, timeout=30)
    body = assert_envelope(response, 502)
    assert "too long" in body["message"]
    assert probe.slowest < 1.0, probe.slowest
    assert rss_mb(worker) < 250, rss_mb(worker)
    upstream.configure(mode="echo")
    assert requests.post(service.base_url + SEND, json={"message": "and now?"}, timeout=10).status_code == 200


@pytest.mark.parametrize(("mode", "code"), [("flood", 504), ("flood_text", 502), ("endless_line", 502)])
def test_a_flooding_stream_ends_on_time_and_the_worker_stays_live(
    service: Any, upstream: UpstreamServer, mode: str, code: int
) -> None:
    upstream.configure(mode=mode)
    (worker,) = service.worker_pids()
    with LivenessProbe(service.base_url) as probe:
        took, events = timed_stream(service)
    assert events[0][0] == "start" and events[-1][0] == "error", [kind for kind, _ in events][-5:]
    assert events[-1][1]["code"] == code, events[-1]
    assert took < BUDGET + 0.5, took
    # Probed all along (every 0.1 s plus the answer's time), each answer within a second.
    assert probe.probes >= took / 0.5 and probe.slowest < 1.0, (probe.probes, probe.slowest)
    print(
        f"{mode}: ended {code} after {took:.2f} s; {probe.probes} probes, slowest {probe.slowest * 1000:.0f} ms;"
        f" worker RSS {rss_mb(worker):.0f} MB"
    )
    assert rss_mb(worker) < 250, rss_mb(worker)
    assert service.worker_pids() == [worker]  # not killed by the watchdog
