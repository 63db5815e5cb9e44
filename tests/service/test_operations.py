"""Operations against real gunicorn: /metrics summed over workers, JSON logs, the healthcheck command, Sentry."""

from __future__ import annotations

import gzip
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from signal import SIGKILL
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from tests.support.service import FAST, FAULT_APP

from tools.harness import REPO_ROOT, free_port
from travel_agent import __version__

pytestmark = pytest.mark.slow


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every line of a server's output but the harness's own markers, parsed; fails on the first that is not
    one JSON object."""
    parsed = []
    for line in text.splitlines():
        if line.startswith("=== harness"):
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            pytest.fail(f"not a JSON line: {line!r}")
        assert isinstance(obj, dict), line
        parsed.append(obj)
    return parsed


def access_lines(service: Any, path: str) -> list[dict[str, Any]]:
    return [o for o in json_lines(service.log_text()) if o["logger"] == "gunicorn.access" and o["path"] == path]


def scrape(base_url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = requests.get(base_url + "/metrics", timeout=10)
    assert response.status_code == 200
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def test_two_workers_forty_requests_one_scrape(
    make_mongo: Callable[..., Any],
    make_redis: Callable[..., Any],
    make_gunicorn: Callable[..., Any],
    wait_until: Callable[..., Any],
) -> None:
    # The probes' access lines say which worker served each (they are left out of the log by default).
    service = make_gunicorn(
        mongo_uri=make_mongo().uri,
        redis_url=make_redis().url,
        workers=2,
        env=FAST | {"LOG_FORMAT": "json", "ACCESS_LOG_PROBES": "true"},
    )

    def every_worker_serves() -> bool:
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda _: requests.get(service.base_url + "/health/live", timeout=5).close(), range(8)))
        return set(service.worker_pids()) <= {line["pid"] for line in access_lines(service, "/health/live")}

    wait_until(every_worker_serves, 30, interval=0.2, message="a worker never served")
    with ThreadPoolExecutor(8) as pool:
        statuses = list(
            pool.map(lambda _: requests.get(service.base_url + "/health/ready", timeout=10).status_code, range(40))
        )
    assert statuses == [200] * 40
    served_by = {line["pid"] for line in access_lines(service, "/health/ready")}
    assert len(served_by) == 2, "all 40 went to one worker: this run proves no aggregation"

    samples = scrape(service.base_url)
    route = {("method", "GET"), ("route", "/health/ready")}
    assert samples[("travel_agent_http_requests_total", frozenset(route | {("status", "200")}))] == 40
    assert samples[("travel_agent_http_request_duration_seconds_count", frozenset(route))] == 40
    buckets = sorted(
        (float(dict(labels)["le"]), v)
        for (name, labels), v in samples.items()
        if name == "travel_agent_http_request_duration_seconds_bucket" and route <= labels
    )
    assert len(buckets) == 15 and buckets[-1] == (float("inf"), 40)
    assert [v for _, v in buckets] == sorted(v for _, v in buckets), "buckets are cumulative"
    assert samples[("travel_agent_dependency_up", frozenset({("dependency", "mongodb")}))] == 1
    # Each worker samples its in-flight count every second, the scraping one at the scrape: once the other
    # worker's sample follows its last request, only the scrape itself is in flight.
    wait_until(
        lambda: in_flight(service.base_url) == 1,
        5,
        interval=0.2,
        message="the idle worker's in-flight sample never came back to 0",
    )

    # A worker killed outright: its counts stay in the totals, its live gauges are dropped in child_exit.
    metrics_dir = Path(wait_until(lambda: _logged_metrics_dir(service), 5))
    victim = sorted(served_by)[0]
    assert (metrics_dir / f"gauge_livesum_{victim}.db").exists()
    service.kill_worker(victim, SIGKILL)
    wait_until(lambda: victim not in service.worker_pids() and len(service.worker_pids()) == 2, 30)
    wait_until(
        lambda: not (metrics_dir / f"gauge_livesum_{victim}.db").exists(),
        10,
        message="child_exit did not mark the dead worker",
    )
    # Booted before the teardown's SIGTERM: a worker signalled while loading the app would hang the exit.
    wait_until(every_worker_serves, 30, interval=0.2, message="the replacement worker never served")
    samples = scrape(service.base_url)
    assert samples[("travel_agent_http_requests_total", frozenset(route | {("status", "200")}))] == 40


def in_flight(base_url: str) -> float:
    return scrape(base_url)[("travel_agent_http_requests_in_flight", frozenset())]


def test_in_flight_gauge_counts_held_requests_on_every_worker(
    make_mongo: Callable[..., Any], make_gunicorn: Callable[..., Any], wait_until: Callable[..., Any]
) -> None:
    service = make_gunicorn(mongo_uri=make_mongo().uri, app=FAULT_APP, workers=2, env=FAST)
    service.wait_for_workers(2)
    held = [
        threading.Thread(target=lambda: requests.get(service.base_url + "/_test/sleep?seconds=4", timeout=10))
        for _ in range(6)
    ]
    for thread in held:
        thread.start()
    try:
        # Six held requests, spread over both workers by the kernel, plus the scrape: the worker that answers
        # the scrape counts its own exactly, the other one's sample is at most a second old.
        wait_until(
            lambda: in_flight(service.base_url) == 7,
            3,
            interval=0.2,
            message="the held requests never all showed in the gauge",
        )
    finally:
        for thread in held:
            thread.join(15)
    wait_until(
        lambda: in_flight(service.base_url) == 1, 3, interval=0.2, message="the finished requests stayed in the gauge"
    )


def _logged_metrics_dir(service: Any) -> str | None:
    for line in json_lines(service.log_text()):
        if line["message"].startswith("metrics directory "):
            return str(line["message"].removeprefix("metrics directory "))
    return None


def test_json_logs_every_line_of_a_real_run(
    make_mongo: Callable[..., Any], make_redis: Callable[..., Any], make_gunicorn: Callable[..., Any]
) -> None:
    service = make_gunicorn(
        mongo_uri=make_mongo().uri,
        redis_url=make_redis().url,
        app=FAULT_APP,
        env=FAST | {"LOG_FORMAT": "json", "ACCESS_LOG_SKIP_PATHS": "/health/live"},
    )
    # No response object kept: until it is collected, its socket stays open and holds the stopping worker
    # for the keep-alive time (gunicorn #2297).
    echoed = requests.get(service.base_url + "/health", timeout=10, headers={"X-Request-ID": "trace-me-42"}).headers
    assert echoed["X-Request-ID"] == "trace-me-42"
    assert requests.get(service.base_url + "/no/such/path", timeout=10).status_code == 404
    assert requests.get(service.base_url + "/_test/boom", timeout=10).status_code == 500
    assert requests.get(service.base_url + "/_test/thread-crash", timeout=10).status_code == 202
    service.wait_for_log("uncaught RuntimeError in thread doomed")
    service.terminate()
    assert service.wait_exit() == 0

    lines = json_lines(service.log_text())
    messages = [line["message"] for line in lines]
    for expected in (
        "Starting gunicorn",
        "Booting worker",
        "starting travel_agent",
        "Handling signal: term",
        "MongoDB client closed",
        "Shutting down: Master",
    ):
        assert any(m.startswith(expected) for m in messages), f"no {expected!r} line"
    assert all({"ts", "level", "logger", "pid", "request_id", "message"} <= line.keys() for line in lines)
    [access] = [line for line in lines if line["logger"] == "gunicorn.access" and line["path"] == "/health"]
    assert access["method"] == "GET" and access["status"] == 200 and access["request_id"] == "trace-me-42"
    assert isinstance(access["duration_ms"], float) and access["duration_ms"] >= 0
    # The harness polled /health/live until the server was ready: ACCESS_LOG_SKIP_PATHS kept those out.
    assert not [line for line in lines if line.get("path") == "/health/live"]
    for message in ("unhandled exception", "uncaught RuntimeError in thread doomed"):
        [crash] = [line for line in lines if message in line["message"]]
        assert "RuntimeError" in crash["exc_info"], "the stack trace is inside the one JSON object"
    json_lines(service.log_file_text())  # the app's own log file too


def healthcheck(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, float]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "travel_agent", "healthcheck", *args],
        cwd=REPO_ROOT,
        env=dict(os.environ) | (env or {}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.returncode, done.stdout.strip(), time.monotonic() - started


def test_healthcheck_exit_codes(
    make_mongo: Callable[..., Any],
    make_redis: Callable[..., Any],
    make_gunicorn: Callable[..., Any],
    wait_until: Callable[..., Any],
) -> None:
    mongo, redis = make_mongo(), make_redis()
    secrets = {"API_KEYS": "key-Xq7Lm3pR9vT2wKb8z", "CONSOLE_TOKEN": "console-Tq8vX2mLp4Rz9wKbN3"}
    service = make_gunicorn(mongo_uri=mongo.uri, redis_url=redis.url, env=FAST | secrets)
    url = service.base_url + "/health"
    assert healthcheck("--url", url)[:2] == (0, "healthy")
    # Without --url it probes 127.0.0.1:$PORT, as in the container, PORT read as serve reads it.
    assert healthcheck(env={"PORT": str(service.port)})[:2] == (0, "healthy")
    fullwidth = str(service.port).translate({ord(d): 0xFF10 + int(d) for d in "0123456789"})
    assert healthcheck(env={"PORT": fullwidth})[:2] == (0, "healthy")
    # The master's one start-up line of what is on, without a secret anywhere in the output.
    output = service.log_text()
    started = [line for line in output.splitlines() if "travel_agent on: " in line]
    assert len(started) == 1 and "API_KEYS=1 key(s)" in started[0] and "CONSOLE_TOKEN=set" in started[0], output
    assert "REDIS=on (REDIS_URL)" in started[0]
    assert not any(secret in output for secret in secrets.values())
    redis.kill()
    wait_until(lambda: requests.get(url, timeout=5).json()["status"] == "degraded", 15)
    assert healthcheck("--url", url)[:2] == (0, "degraded")
    mongo.kill()
    wait_until(lambda: requests.get(url, timeout=5).status_code == 503, 15)
    assert healthcheck("--url", url)[:2] == (1, "unhealthy")


def test_healthcheck_absent_or_hung_service_fails_within_its_timeout() -> None:
    code, _, elapsed = healthcheck("--url", f"http://127.0.0.1:{free_port()}/health")
    assert code == 1
    with socket.socket() as hung:  # accepts connections (the backlog does) and never answers
        hung.bind(("127.0.0.1", 0))
        hung.listen(8)
        code, _, hung_elapsed = healthcheck(
            "--url", f"http://127.0.0.1:{hung.getsockname()[1]}/health", "--timeout", "1"
        )
    assert code == 1
    # Bounded by the command's own timeout plus interpreter start-up, not by the caller's patience.
    assert hung_elapsed < elapsed + 5


class _SentrySink(BaseHTTPRequestHandler):
    """Receives what the Sentry SDK sends (envelopes, gzip-compressed) and keeps the events."""

    events: list[dict[str, Any]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        for line in body.splitlines():
            try:
                item = json.loads(line)
            except ValueError:
                continue
            if isinstance(item, dict) and "exception" in item:
                self.events.append(item)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def sentry_sink() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    events: list[dict[str, Any]] = []
    handler = type("Sink", (_SentrySink,), {"events": events})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://publickey@127.0.0.1:{server.server_address[1]}/42", events
    server.shutdown()
    server.server_close()


def test_sentry_receives_unexpected_errors_without_personal_data(
    make_mongo: Callable[..., Any],
    make_gunicorn: Callable[..., Any],
    wait_until: Callable[..., Any],
    sentry_sink: tuple[str, list[dict[str, Any]]],
) -> None:
    dsn, events = sentry_sink
    service = make_gunicorn(
        mongo_uri=make_mongo().uri, app=FAULT_APP, env=FAST | {"SENTRY_DSN": dsn, "SENTRY_ENVIRONMENT": "ci"}
    )
    response = requests.get(
        service.base_url + "/_test/boom",
        timeout=10,
        headers={"Cookie": "session=secret-cookie", "Authorization": "Bearer secret-token"},
    )
    assert response.status_code == 500
    wait_until(lambda: events, 15, message="Sentry never received the error")
    [event] = events
    assert event["environment"] == "ci" and event["release"] == f"travel_agent@{__version__}"
    assert "RuntimeError" in json.dumps(event["exception"])
    sent = json.dumps(event)
    for private in ("secret-cookie", "secret-token", "127.0.0.1:" + str(service.port) + "/_test/boom?"):
        assert private not in sent
    assert "ip_address" not in json.dumps(event.get("user", {}))
