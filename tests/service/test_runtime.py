"""The gunicorn runtime: budgets ending in 504, deadlines in the drivers, load shedding, graceful drain,
the watchdog. Real gunicorn processes against real SecantusDB and redis-server."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tools.harness.envelope import assert_envelope

pytestmark = pytest.mark.slow


def timed_get(url: str, timeout: float = 15.0) -> tuple[requests.Response, float]:
    started = time.monotonic()
    response = requests.get(url, timeout=timeout)
    return response, time.monotonic() - started


# -- budgets ---------------------------------------------------------------------------------------------


def test_chat_budget_backstop_answers_504_on_time_and_the_worker_recovers(serve: Callable[..., Any]) -> None:
    service = serve(CHAT_TIMEOUT_SECONDS="3")
    response, seconds = timed_get(service.base_url + "/api/chat/_test/sleep?seconds=20")
    assert_envelope(response, 504)
    assert 2.5 <= seconds <= 3.5, seconds
    after, _ = timed_get(service.base_url + "/_test/mongo/find")
    assert after.status_code == 200
    assert "cut off by the budget backstop" in service.log_file_text()


def test_non_chat_routes_get_the_shorter_budget(serve: Callable[..., Any]) -> None:
    service = serve(REQUEST_TIMEOUT_SECONDS="1", CHAT_TIMEOUT_SECONDS="10")
    response, seconds = timed_get(service.base_url + "/_test/sleep?seconds=20")
    assert_envelope(response, 504)
    assert 0.9 <= seconds <= 1.5, seconds


def test_stream_past_its_budget_ends_with_an_error_event(serve: Callable[..., Any]) -> None:
    service = serve(CHAT_TIMEOUT_SECONDS="2")
    started = time.monotonic()
    with requests.get(
        service.base_url + "/api/chat/_test/stream?chunks=50&interval=0.2", stream=True, timeout=10
    ) as response:
        assert response.status_code == 200
        events = [line for line in response.iter_lines(decode_unicode=True) if line]
    assert time.monotonic() - started < 3.0
    assert events[0] == "data: 0"
    assert events[-2] == "event: error"
    final = json.loads(events[-1].removeprefix("data: "))
    assert (final["code"], final["error"]) == (504, "budget_exceeded")
    assert "event: done" not in events


def test_stuck_mongo_read_ends_on_time_and_the_next_request_succeeds(
    deps: tuple[Any, Any], serve: Callable[..., Any]
) -> None:
    mongo, _ = deps
    service = serve(REQUEST_TIMEOUT_SECONDS="2")
    assert requests.get(service.base_url + "/_test/mongo/find", timeout=5).status_code == 200
    mongo.fail_command(["find"], block_ms=10_000, times=1, app_name="travel_agent")
    response, seconds = timed_get(service.base_url + "/_test/mongo/find")
    assert response.status_code in (503, 504)
    assert_envelope(response, response.status_code)
    assert seconds < 2.5, seconds
    after, seconds = timed_get(service.base_url + "/_test/mongo/find")
    assert after.status_code == 200 and seconds < 1.0


def test_frozen_redis_request_completes_degraded_within_budget(
    deps: tuple[Any, Any], serve: Callable[..., Any], wait_until: Callable[..., Any]
) -> None:
    _, redis = deps
    service = serve(REQUEST_TIMEOUT_SECONDS="2")
    assert requests.get(service.base_url + "/_test/cache/k?value=1", timeout=5).json()["source"] == "redis"
    redis.freeze()
    try:
        # Redis's 5 s socket timeout is capped by the 2 s budget: the first request ends on time, degraded
        # (200 from the fallback) or, if the cache calls used the budget up, with a 504; never later.
        response, seconds = timed_get(service.base_url + "/_test/cache/k?value=2")
        assert seconds < 2.5, seconds
        if response.status_code == 200:
            assert response.json()["source"] == "fallback"
        else:
            assert_envelope(response, 504)

        # Once the breaker has seen the timeouts, requests complete degraded at once.
        def fast_fallback() -> bool:
            answer, took = timed_get(service.base_url + "/_test/cache/k?value=3")
            assert took < 2.5
            return answer.status_code == 200 and answer.json()["source"] == "fallback" and took < 0.1

        wait_until(fast_fallback, 15, message="requests never fell back fast while Redis was frozen")
    finally:
        redis.thaw()
    recovered = requests.get(service.base_url + "/_test/mongo/find", timeout=5)
    assert recovered.status_code == 200


# -- capacity and shedding -------------------------------------------------------------------------------


def test_one_worker_holds_60_concurrent_slow_chats(serve: Callable[..., Any]) -> None:
    service = serve()
    started = time.monotonic()
    with ThreadPoolExecutor(60) as pool:
        statuses = list(
            pool.map(
                lambda _: requests.get(service.base_url + "/api/chat/_test/sleep?seconds=1", timeout=10).status_code,
                range(60),
            )
        )
    assert statuses == [200] * 60
    assert time.monotonic() - started < 5.0


def in_flight(service: Any) -> int:
    count: int = requests.get(service.base_url + "/health/live", timeout=5).json()["in_flight"]
    return count


def test_past_the_in_flight_cap_the_excess_is_shed_fast(
    serve: Callable[..., Any], wait_until: Callable[..., Any]
) -> None:
    service = serve(MAX_IN_FLIGHT="10")
    url = service.base_url + "/api/chat/_test/sleep?seconds=3"
    with ThreadPoolExecutor(30) as pool:
        admitted = [pool.submit(timed_get, url) for _ in range(10)]
        # All ten running (the probe counts itself as the eleventh): the next request is over the cap.
        wait_until(lambda: in_flight(service) == 11, 5, message="the ten requests never all started")
        excess = list(pool.map(lambda _: timed_get(url), range(10)))
        live, _ = timed_get(service.base_url + "/health/live")
        ready, _ = timed_get(service.base_url + "/health/ready")
        done = [f.result() for f in admitted]
    for response, seconds in excess:
        assert_envelope(response, 503)
        assert response.headers["Retry-After"] == "1"
        assert seconds < 0.1, seconds
    assert [r.status_code for r, _ in done] == [200] * 10
    assert live.status_code == 200 and ready.status_code == 200
    # Shed before reaching Flask, and still counted under the route they asked for.
    counts = {
        (s.name, s.labels.get("route"), s.labels.get("status"), s.labels.get("reason")): s.value
        for family in text_string_to_metric_families(requests.get(service.base_url + "/metrics", timeout=5).text)
        for s in family.samples
    }
    assert counts[("travel_agent_http_requests_total", "/api/chat/_test/sleep", "503", None)] == 10
    assert counts[("travel_agent_http_requests_total", "/api/chat/_test/sleep", "200", None)] == 10
    assert counts[("travel_agent_shed_requests_total", None, None, "overload")] == 10


def test_a_body_that_does_not_arrive_in_time_is_a_408_and_frees_its_slot(
    serve: Callable[..., Any], wait_until: Callable[..., Any]
) -> None:
    service = serve(BODY_READ_TIMEOUT_SECONDS="1")
    conn = http.client.HTTPConnection("127.0.0.1", service.port, timeout=10)
    try:
        conn.putrequest("POST", "/api/chat/send")
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Content-Length", "100")
        conn.endheaders(b'{"message": ')  # 12 of the 100 bytes announced, then nothing
        started = time.monotonic()
        # The stalled request holds a slot while its body is awaited (the probe counts itself too).
        wait_until(lambda: in_flight(service) == 2, 2, interval=0.1, message="the stalled request never started")
        response = conn.getresponse()
        elapsed = time.monotonic() - started
        body = response.read()
    finally:
        conn.close()
    assert response.status == 408, body
    envelope = json.loads(body)
    assert envelope["code"] == 408 and envelope["request_id"] == response.getheader("X-Request-ID")
    assert "did not arrive within 1 seconds" in envelope["message"]
    assert 0.9 <= elapsed < 2.0, elapsed  # the body's own 1 s, not the chat budget
    assert in_flight(service) == 1  # released: only the probe itself
    # A body that arrives slowly but within the time is served as usual.
    slow = requests.post(
        service.base_url + "/api/chat/send",
        data=_trickle(b'{"message": "Rome"}', 0.05),
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert slow.status_code == 200 and "Rome" in slow.json()["reply"]


def _trickle(data: bytes, pause: float) -> Any:
    """A chunked body sent four bytes at a time."""
    for i in range(0, len(data), 4):
        time.sleep(pause)
        yield data[i : i + 4]


# -- drain -----------------------------------------------------------------------------------------------


def test_sigterm_lets_in_flight_requests_finish_and_closes_the_pools(
    serve: Callable[..., Any], wait_until: Callable[..., Any]
) -> None:
    service = serve(GRACEFUL_TIMEOUT_SECONDS="20")
    url = service.base_url + "/api/chat/_test/sleep?seconds=2.5"
    with ThreadPoolExecutor(5) as pool:
        calls = [pool.submit(timed_get, url) for _ in range(5)]
        wait_until(lambda: in_flight(service) == 6, 5, message="the five requests never all started")
        service.terminate()
        results = [c.result() for c in calls]
    assert [r.status_code for r, _ in results] == [200] * 5
    assert service.wait_exit(15) == 0
    output = service.log_text()
    assert "Draining (pid:" in output and "5 request(s) in flight" in output
    assert output.index("Redis connection pool closed") < output.index("MongoDB client closed")
    assert "travel_agent master exiting" in output


def test_sigterm_with_an_idle_keepalive_client_exits_long_before_graceful_timeout(serve: Callable[..., Any]) -> None:
    service = serve(GRACEFUL_TIMEOUT_SECONDS="20")
    conn = http.client.HTTPConnection("127.0.0.1", service.port, timeout=10)
    try:
        conn.request("GET", "/health/live")
        response = conn.getresponse()
        response.read()
        assert response.status == 200 and response.getheader("Connection", "").lower() != "close"
        started = time.monotonic()
        service.terminate()
        assert service.wait_exit(15) == 0
        assert time.monotonic() - started < 5.0
    finally:
        conn.close()
    output = service.log_text()
    assert "1 idle keep-alive connection(s) closed" in output
    assert "Redis connection pool closed" in output and "MongoDB client closed" in output


def test_request_still_running_at_the_drain_deadline_gets_503(
    serve: Callable[..., Any], wait_until: Callable[..., Any]
) -> None:
    # The worker notices an empty pool on a 1 s poll after the cut-off: the margin leaves time for that.
    service = serve(GRACEFUL_TIMEOUT_SECONDS="5", DRAIN_MARGIN_SECONDS="3")
    with ThreadPoolExecutor(1) as pool:
        call = pool.submit(timed_get, service.base_url + "/api/chat/_test/sleep?seconds=30")
        wait_until(lambda: in_flight(service) == 2, 5)
        terminated = time.monotonic()
        service.terminate()
        response, _ = call.result()
        answered_after = time.monotonic() - terminated
    assert_envelope(response, 503)
    assert response.headers["Retry-After"] == "1"
    assert 1.5 <= answered_after < 3.0, answered_after
    assert service.wait_exit(10) == 0
    output = service.log_text()
    assert "Drain deadline" in output, output[-3000:]
    assert "MongoDB client closed" in output, output[-3000:]


def test_ready_is_never_200_once_draining(serve: Callable[..., Any], wait_until: Callable[..., Any]) -> None:
    service = serve(GRACEFUL_TIMEOUT_SECONDS="20")
    with ThreadPoolExecutor(1) as pool:
        call = pool.submit(timed_get, service.base_url + "/api/chat/_test/sleep?seconds=2")
        wait_until(lambda: in_flight(service) == 2, 5)
        service.terminate()
        service.wait_for_log("Draining (pid:")
        try:
            status = requests.get(service.base_url + "/health/ready", timeout=5).status_code
        except requests.ConnectionError:
            status = None  # the listener is already closed: also "not ready"
        assert status in (503, None)
        assert call.result()[0].status_code == 200
    assert service.wait_exit(15) == 0


def test_ctrl_c_in_a_terminal_is_as_graceful_as_sigterm(
    serve: Callable[..., Any], wait_until: Callable[..., Any]
) -> None:
    service = serve(GRACEFUL_TIMEOUT_SECONDS="20")
    with ThreadPoolExecutor(2) as pool:
        calls = [pool.submit(timed_get, service.base_url + "/api/chat/_test/sleep?seconds=2") for _ in range(2)]
        wait_until(lambda: in_flight(service) == 3, 5)
        # A terminal's Ctrl+C sends SIGINT to the whole foreground process group: master and workers.
        os.killpg(service.master_pid, signal.SIGINT)
        assert [c.result()[0].status_code for c in calls] == [200, 200]
    assert service.wait_exit(15) == 0
    assert "MongoDB client closed" in service.log_text()


# -- worker failures ---------------------------------------------------------------------------------------


def test_sigkilled_worker_is_replaced_and_serves_within_10s(
    serve: Callable[..., Any], wait_until: Callable[..., Any]
) -> None:
    service = serve()
    (old,) = service.worker_pids()
    service.kill_worker(old)
    killed = time.monotonic()

    def serving_from_new_worker() -> bool:
        try:
            ok = requests.get(service.base_url + "/health/ready", timeout=2).status_code == 200
        except requests.RequestException:
            return False
        return ok and service.worker_pids() not in ([], [old])

    wait_until(serving_from_new_worker, 10, message="no new worker served within 10 s")
    assert time.monotonic() - killed < 10


def live(base_url: str) -> bool:
    """/health/live answered 200; a replacement worker still booting (a timeout, a refusal) is not yet live."""
    try:
        return requests.get(base_url + "/health/live", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def test_blocked_event_loop_is_killed_by_the_watchdog_with_stacks_logged(
    serve: Callable[..., Any], wait_until: Callable[..., Any]
) -> None:
    service = serve(GUNICORN_TIMEOUT="2")
    (old,) = service.worker_pids()
    with pytest.raises((requests.ConnectionError, requests.exceptions.ChunkedEncodingError)):
        requests.get(service.base_url + "/_test/spin?seconds=60", timeout=20)
    service.wait_for_log("WORKER TIMEOUT", timeout=10)
    match = service.wait_for_log(
        re.compile(
            r"aborted by the watchdog; the stack that blocked the loop:\n(?s:.*)"
            r"in spin"
        ),
        timeout=10,
    )
    assert match
    wait_until(lambda: service.worker_pids() not in ([], [old]), 10)
    wait_until(lambda: live(service.base_url), 20, message="the replacement worker never answered")
