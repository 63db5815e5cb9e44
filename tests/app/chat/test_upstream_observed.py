"""The model seen and counted: real turns against the real fake upstream, then /metrics, /health and the
console read as an operator would (nothing here feeds a recorder itself)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from tests.support.chat import SEND, STREAM, parse_sse
from tests.support.scrape import Samples, scrape, value

from tools.harness import wait_until
from tools.harness.upstream import UpstreamServer
from travel_agent.console.records import ConsoleRecords
from travel_agent.services import EXTENSION_KEY

CONSOLE_TOKEN = "kT3vQ9xw-Lm2Rp8sZ5nB7yH4"  # random-looking: the console refuses weak tokens
CHAT_ROUTE = {"send": "/api/chat/send", "stream": "/api/chat/stream"}


def delta(before: Samples, after: Samples) -> Callable[..., float]:
    return lambda name, **labels: value(after, name, **labels) - value(before, name, **labels)


def records_of(app: Flask) -> ConsoleRecords:
    svc = app.extensions[EXTENSION_KEY]
    found: ConsoleRecords = next(h.__self__ for h in svc.heartbeat_hooks if isinstance(h.__self__, ConsoleRecords))
    return found


def console_state(client: FlaskClient) -> dict[str, Any]:
    state: dict[str, Any] = client.get("/console/state", headers={"Authorization": f"Bearer {CONSOLE_TOKEN}"}).json
    return state


def test_real_turns_are_counted_by_upstream_outcome_latency_and_tokens(
    openai_app: Callable[..., Flask], upstream: UpstreamServer
) -> None:
    client = openai_app(OPENAI_MAX_RETRIES=0, BREAKER_FAILURE_THRESHOLD=10).test_client()
    before = scrape(client)
    assert client.post(SEND, json={"message": "Seoul in spring"}, buffered=True).status_code == 200
    events = parse_sse(client.post(STREAM, json={"message": "Busan"}, buffered=True).get_data(as_text=True))
    assert events[-1][0] == "done"
    upstream.fail_status = 500
    assert client.post(SEND, json={"message": "Jeju"}, buffered=True).status_code == 502
    changed = delta(before, scrape(client))
    assert changed("travel_agent_upstream_requests_total", upstream="primary", outcome="ok") == 2
    assert changed("travel_agent_upstream_requests_total", upstream="primary", outcome="error") == 1
    assert changed("travel_agent_upstream_request_duration_seconds_count", upstream="primary", outcome="ok") == 2
    assert changed("travel_agent_upstream_first_token_seconds_count", upstream="primary") == 2
    # The fake upstream counts words: "echo: Seoul in spring" and "echo: Busan" are 4 and 2 completion tokens.
    assert changed("travel_agent_upstream_tokens_total", upstream="primary", kind="completion") == 6
    assert changed("travel_agent_upstream_tokens_total", upstream="primary", kind="prompt") > 0
    assert changed("travel_agent_chat_turns_total", mode="send", outcome="answered") == 1
    assert changed("travel_agent_chat_turns_total", mode="stream", outcome="answered") == 1
    assert changed("travel_agent_chat_turns_total", mode="send", outcome="502") == 1
    assert value(scrape(client), "travel_agent_circuit_state", dependency="upstream") == 0


def test_degraded_turns_and_the_second_upstream_have_their_own_series(
    openai_app: Callable[..., Flask], upstream: UpstreamServer
) -> None:
    with UpstreamServer() as second:
        client = openai_app(
            AGENT_FALLBACK="offline", OPENAI_FALLBACK_BASE_URL=second.base_url, OPENAI_MAX_RETRIES=0
        ).test_client()
        before = scrape(client)
        upstream.fail_status = 503
        assert client.post(SEND, json={"message": "Hanoi"}, buffered=True).get_json()["degraded"] is False
        second.fail_status = 500
        assert client.post(SEND, json={"message": "Hue"}, buffered=True).get_json()["degraded"] is True
        after = scrape(client)
    changed = delta(before, after)
    assert changed("travel_agent_upstream_requests_total", upstream="primary", outcome="unavailable") == 2
    assert changed("travel_agent_upstream_requests_total", upstream="fallback", outcome="ok") == 1
    assert changed("travel_agent_upstream_requests_total", upstream="fallback", outcome="error") == 1
    assert changed("travel_agent_chat_turns_total", mode="send", outcome="answered") == 1
    assert changed("travel_agent_chat_turns_total", mode="send", outcome="degraded") == 1
    assert value(after, "travel_agent_circuit_state", dependency="upstream_fallback") == 0


def test_a_stream_ending_in_an_error_event_is_the_failed_request_it_is(
    openai_app: Callable[..., Flask], upstream: UpstreamServer
) -> None:
    app = openai_app(CONSOLE_TOKEN=CONSOLE_TOKEN, OPENAI_MAX_RETRIES=0, BREAKER_FAILURE_THRESHOLD=10)
    client = app.test_client()
    before = scrape(client)
    records_of(app).sample_history()
    upstream.configure(mode="stream_break", break_after=1)
    response = client.post(STREAM, json={"message": "one two three"}, headers={"X-Request-ID": "rid-broken-1"})
    assert response.status_code == 200
    events = parse_sse(response.get_data(as_text=True))
    assert events[-1][0] == "error" and events[-1][1]["code"] == 502
    response.close()  # the middleware records the request when its body is closed, as gunicorn does
    changed = delta(before, scrape(client))
    # The status line said 200 and the request counter keeps it; the error event is counted as what it was.
    assert changed("travel_agent_http_requests_total", method="POST", route=CHAT_ROUTE["stream"], status="200") == 1
    assert changed("travel_agent_stream_errors_total", route=CHAT_ROUTE["stream"], status="502") == 1
    assert changed("travel_agent_chat_turns_total", mode="stream", outcome="502") == 1
    records_of(app).sample_history()
    state = console_state(client)
    errors = {e["request_id"]: e for e in state["errors"]}
    assert errors["rid-broken-1"]["status"] == 502 and errors["rid-broken-1"]["route"] == CHAT_ROUTE["stream"]
    row = next(r for r in state["traffic"]["routes"] if r["route"] == CHAT_ROUTE["stream"])
    assert row["requests"] == 1 and row["error_rate"]["5xx"] == 1.0


def test_the_console_model_card_shows_real_calls_errors_and_latency(
    openai_app: Callable[..., Flask], upstream: UpstreamServer
) -> None:
    app = openai_app(CONSOLE_TOKEN=CONSOLE_TOKEN, OPENAI_MAX_RETRIES=0, BREAKER_FAILURE_THRESHOLD=10)
    client = app.test_client()
    records = records_of(app)
    records.sample_history()
    upstream.delay = 0.2
    for message in ("Accra", "Kumasi"):
        assert client.post(SEND, json={"message": message}, buffered=True).status_code == 200
    upstream.configure(delay=0.0, fail_status=500)
    assert client.post(SEND, json={"message": "Tamale"}, buffered=True).status_code == 502
    records.sample_history()
    card = next(d for d in console_state(client)["dependencies"] if d["key"] == "upstream")
    assert card["status"] == "failing" and card["message"] == "1 of 3 call(s) failed in the last minute", card
    assert card["latency_ms"] >= 2 * 200 / 3  # two calls of at least 0.2 s and a quick failure, averaged
    assert card["circuits"] == {str(records.pid): "closed"}


def test_health_tells_the_model_check_and_its_unavailability_degrades_without_failing(
    openai_app: Callable[..., Flask], upstream: UpstreamServer
) -> None:
    app = openai_app(OPENAI_MAX_RETRIES=0, BREAKER_FAILURE_THRESHOLD=2, HEALTH_CACHE_SECONDS=0.1)
    client = app.test_client()
    assert client.post(SEND, json={"message": "Nairobi"}, buffered=True).status_code == 200
    wait_until(lambda: client.get("/health").get_json()["checks"]["upstream"]["status"] == "healthy", 2)
    body = client.get("/health").get_json()
    assert body["status"] == "healthy"
    assert body["checks"]["upstream"] == {
        "status": "healthy",
        "message": "1 call(s) in the last minute, all answered",
        "circuit": "closed",
    }
    upstream.fail_status = 500
    for _ in range(2):
        assert client.post(SEND, json={"message": "Mombasa"}, buffered=True).status_code == 502
    wait_until(lambda: client.get("/health").get_json()["checks"]["upstream"]["status"] == "unavailable", 2)
    response = client.get("/health")
    body = response.get_json()
    assert response.status_code == 200 and body["status"] == "degraded"
    assert body["checks"]["upstream"] == {
        "status": "unavailable",
        "message": "Circuit open: chat turns are refused",
        "circuit": "open",
    }
    assert body["checks"]["mongodb"]["status"] == "healthy"
    assert client.get("/health/ready").status_code == 200  # the model never takes the service out of rotation
