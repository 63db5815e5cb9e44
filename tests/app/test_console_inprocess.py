"""The operator console in process: off without a token, its protection, its data, and no secret in either."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from travel_agent.console.records import ConsoleRecords
from travel_agent.services import EXTENSION_KEY

TOKEN = "console-Tq8vX2mLp4Rz9wKbN3"
SECRETS = {
    "API_KEYS": "api-key-secret-0123456789",
    "METRICS_TOKEN": "metrics-token-secret-0123456789",
    "OPENAI_API_KEY": "sk-openai-secret-0123456789",
    "CONSOLE_TOKEN": TOKEN,
}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def console_app(build_app: Callable[..., Flask]) -> Flask:
    return build_app(**SECRETS)


def test_without_a_token_there_is_no_console_and_the_log_says_how(
    build_app: Callable[..., Flask], log_file: Callable[[], str]
) -> None:
    client = build_app(CONSOLE_TOKEN=None).test_client()
    for path in ("/console", "/console/state", "/console/static/console.js"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.json["code"] == 404
    assert "console off: set CONSOLE_TOKEN" in log_file()


def test_a_console_token_must_look_like_a_secret() -> None:
    from travel_agent.config import ConfigError, Settings

    with pytest.raises(ConfigError, match="CONSOLE_TOKEN"):
        Settings.from_env({"CONSOLE_TOKEN": "short"})


def test_page_without_credentials_is_a_login_form_and_state_is_401(console_app: Flask) -> None:
    client = console_app.test_client()
    page = client.get("/console")
    assert page.status_code == 401
    assert b'<form method="post" action="/console/login">' in page.data
    state = client.get("/console/state")
    assert state.status_code == 401
    assert state.json["code"] == 401 and state.json["request_id"]
    assert client.get("/console/state", headers=bearer("wrong-token-0123456789abcdef")).status_code == 401


def test_wrong_token_is_refused_and_the_right_one_logs_in_with_a_strict_cookie(console_app: Flask) -> None:
    client = console_app.test_client()
    refused = client.post("/console/login", data={"token": TOKEN + "x"})
    assert refused.status_code == 401 and b"not right" in refused.data
    assert "Set-Cookie" not in refused.headers
    assert client.get("/console/state").status_code == 401
    accepted = client.post("/console/login", data={"token": TOKEN})
    assert accepted.status_code == 303 and accepted.headers["Location"].endswith("/console")
    cookie = accepted.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie  # plain HTTP here; over HTTPS the cookie is Secure (next test)
    assert TOKEN not in cookie
    assert client.get("/console").status_code == 200
    assert client.get("/console/state").status_code == 200
    client.post("/console/logout")
    assert client.get("/console/state").status_code == 401


def test_cookie_is_secure_over_https(console_app: Flask) -> None:
    client = console_app.test_client()
    accepted = client.post("/console/login", data={"token": TOKEN}, base_url="https://localhost")
    assert "Secure" in accepted.headers["Set-Cookie"]


def test_only_gets_and_the_login_post_exist(console_app: Flask) -> None:
    client = console_app.test_client()
    assert client.post("/console/state", headers=bearer(TOKEN)).status_code == 405
    assert client.delete("/console", headers=bearer(TOKEN)).status_code == 405


def test_page_and_state_carry_a_strict_csp_and_no_secret(console_app: Flask) -> None:
    client = console_app.test_client()
    client.get("/_test/boom", buffered=True)  # its exception text holds a password in a connection string
    page = client.get("/console", headers=bearer(TOKEN))
    state = client.get("/console/state", headers=bearer(TOKEN))
    for response in (page, state):
        assert response.status_code == 200
        csp = response.headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp
        assert response.headers["Cache-Control"] == "no-store"
        for secret in [*SECRETS.values(), "hunter2"]:
            assert secret.encode() not in response.data
    assert b"<script>" not in page.data and b" style=" not in page.data  # nothing the CSP would block


def test_state_shows_errors_with_request_ids_and_config(console_app: Flask) -> None:
    client = console_app.test_client()
    # Buffered: the middleware records a request when the server closes its body, as gunicorn always does.
    client.get("/_test/too-slow", headers={"X-Request-ID": "rid-slow-1"}, buffered=True)
    client.get("/_test/unavailable", headers={"X-Request-ID": "rid-down-1"}, buffered=True)
    client.get("/health", headers={"X-Request-ID": "rid-fine-1"}, buffered=True)
    body = client.get("/console/state", headers=bearer(TOKEN)).json
    errors = {e["request_id"]: e for e in body["errors"]}
    assert errors["rid-slow-1"]["status"] == 504 and errors["rid-slow-1"]["route"] == "/_test/too-slow"
    assert errors["rid-slow-1"]["message"] == "The request took too long and was stopped."
    assert errors["rid-down-1"]["status"] == 503
    assert "rid-fine-1" not in errors
    assert body["service"]["status"] == "healthy"
    assert {d["key"]: d["status"] for d in body["dependencies"]} == {
        "mongodb": "healthy",
        "redis": "healthy",
        "upstream": "disabled",
    }
    config = {item["name"]: item["value"] for group in body["config"] for item in group["items"]}
    assert config["API_KEYS"] == "1 key(s)" and config["CONSOLE_TOKEN"] == "set"
    assert len(body["workers"]) == 1 and body["workers"][0]["in_flight"] >= 1


def test_traffic_history_counts_each_route_between_samples(console_app: Flask) -> None:
    svc = console_app.extensions[EXTENSION_KEY]
    records = next(h.__self__ for h in svc.heartbeat_hooks if isinstance(h.__self__, ConsoleRecords))
    client = console_app.test_client()
    records.sample_history()
    for _ in range(3):
        client.get("/_test/too-slow", buffered=True)
    for _ in range(2):
        client.get("/health/live", buffered=True)
    records.sample_history()
    routes = {r["route"]: r for r in client.get("/console/state", headers=bearer(TOKEN)).json["traffic"]["routes"]}
    assert routes["/_test/too-slow"]["requests"] == 3 and routes["/_test/too-slow"]["timeouts_504"] == 3
    assert routes["/_test/too-slow"]["error_rate"]["5xx"] == 1.0
    assert routes["/health/live"]["requests"] == 2 and routes["/health/live"]["timeouts_504"] == 0
    assert not any(route.startswith("/console") for route in routes)


def test_a_failing_console_write_never_breaks_the_heartbeat(
    console_app: Flask, tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    svc = console_app.extensions[EXTENSION_KEY]
    records = next(h.__self__ for h in svc.heartbeat_hooks if isinstance(h.__self__, ConsoleRecords))
    records.directory = str(tmp_path / "gone" / "deeper")
    with caplog.at_level(logging.ERROR, "travel_agent.console"):
        svc.heartbeat()
    assert "console bookkeeping failed" in caplog.text


def test_the_login_form_is_the_only_non_json_body_accepted(console_app: Flask) -> None:
    client = console_app.test_client()
    form = {"token": TOKEN}
    assert client.post("/console/login", data=form).status_code == 303
    assert client.post("/api/_test/ping", data=form, headers=bearer(SECRETS["API_KEYS"])).status_code == 415
    assert client.post("/console/login", data="token=x", content_type="text/plain").status_code == 415


@pytest.mark.parametrize("cookie", ["\u00b2.x", "\u0663\u0661.x", "1" * 13 + ".x", ".", "", "abc", "-5.x"])
def test_a_malformed_session_cookie_is_a_login_form_not_a_500(console_app: Flask, cookie: str) -> None:
    """ "²".isdigit() is true and int("²") raises: that was a 500 with a stack trace on every request."""
    client = console_app.test_client()
    client.set_cookie("travel_agent_console", cookie, path="/console")
    assert client.get("/console").status_code == 401
    state = client.get("/console/state")
    assert state.status_code == 401 and state.json["code"] == 401


def test_wrong_tokens_from_one_address_are_throttled_with_retry_after(
    console_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    from travel_agent.console.view import LOGIN_FAILURES_ALLOWED, LOGIN_WINDOW_SECONDS

    attacker = console_app.test_client()
    attacker.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    with caplog.at_level(logging.INFO, "travel_agent.console"):
        for _ in range(LOGIN_FAILURES_ALLOWED):
            assert attacker.post("/console/login", data={"token": TOKEN + "x"}).status_code == 401
        refused = attacker.post("/console/login", data={"token": TOKEN + "x"})
        assert refused.status_code == 429 and b"Too many wrong tokens" in refused.data
        assert 1 <= int(refused.headers["Retry-After"]) <= LOGIN_WINDOW_SECONDS
        # Even the right token waits: while refused, a right guess would still be a guess.
        assert attacker.post("/console/login", data={"token": TOKEN}).status_code == 429
    assert caplog.text.count("console logins from 192.0.2.7 refused") == 1
    operator = console_app.test_client()
    operator.environ_base["REMOTE_ADDR"] = "192.0.2.8"
    assert operator.post("/console/login", data={"token": TOKEN}).status_code == 303


@pytest.mark.parametrize(
    "token",
    ["aaaaaaaaaaaaaaaaaaaa", "passwordpassword", "changeme-Xq7Lm3pR9v", "prod-console-123456789", "abababababababab"],
)
def test_a_weak_console_token_is_refused_at_start(token: str) -> None:
    from travel_agent.config import ConfigError, Settings

    with pytest.raises(ConfigError, match=r"CONSOLE_TOKEN: expected a random token") as caught:
        Settings.from_env({"CONSOLE_TOKEN": token})
    assert token not in str(caught.value) and "new-key" in str(caught.value)


def test_console_files_of_the_wrong_shape_are_skipped_and_logged(
    console_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    import json
    import os

    svc = console_app.extensions[EXTENSION_KEY]
    records = next(h.__self__ for h in svc.heartbeat_hooks if isinstance(h.__self__, ConsoleRecords))
    good_error = {"time": 1.0, "request_id": "r1", "method": "GET", "route": "/x", "status": 503, "message": "m"}
    files = {
        "history.json": [],  # a list: stayed broken until restart
        "started.json": ["not", "an", "object"],
        "worker-999001.json": {"pid": [1], "circuits": {}},
        "worker-999002.json": "text",
        "errors-999003.json": 5,
        "errors-999004.json": [{"time": "yesterday"}, good_error | {"pid": 999004}],
    }
    for name, content in files.items():
        with open(os.path.join(records.directory, name), "w", encoding="utf-8") as handle:
            json.dump(content, handle)
    with open(os.path.join(records.directory, "errors-999005.json"), "w", encoding="utf-8") as handle:
        handle.write("[" * 100_000 + "]" * 100_000)  # valid JSON that json.load cannot read (RecursionError)
    client = console_app.test_client()
    with caplog.at_level(logging.WARNING, "travel_agent.console"):
        state = client.get("/console/state", headers=bearer(TOKEN))
        assert state.status_code == 200, state.data
        assert [e["request_id"] for e in state.json["errors"]] == ["r1"]
        assert [w["pid"] for w in state.json["workers"]] == [records.pid]
        records.sample_history()  # the next sample replaces the broken history
        assert client.get("/console/state", headers=bearer(TOKEN)).status_code == 200
    for name in [*files, "errors-999005.json"]:
        assert f"console file {name} skipped" in caplog.text, name
    with open(os.path.join(records.directory, "history.json"), encoding="utf-8") as handle:
        assert isinstance(json.load(handle), dict)
