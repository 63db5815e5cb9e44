"""The send fast path (api/chat_fast_send.py) answers exactly as the Flask route does.

Every case goes to two apps built alike on the same servers, one with ``SEND_FAST_PATH=false``; their answers
(status line, every header, the body's bytes) and the log lines each request left must be the same once the
ids only one side can know (session, message, time, request id) are put aside. Flask's ``request_started``
signal tells which requests the fast path answered itself: a plain send must not reach Flask, anything
unusual must.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import flask
import pytest
from flask import Flask
from tests.support.chat import API_KEY, MODEL, SEND

from tools.harness.envelope import assert_envelope
from tools.harness.upstream import UpstreamServer
from travel_agent.api.chat_schemas import MAX_MESSAGE_CHARS
from travel_agent.observability.metrics import ROUTE_KEY
from travel_agent.request_context import ERROR_MESSAGE_KEY
from travel_agent.services import EXTENSION_KEY

VOLATILE_FIELDS = ("session_id", "message_id", "created_at")


@dataclass
class Side:
    """One app, how many requests Flask dispatched, and the sessions and keys of this side's conversation."""

    app: Flask
    dispatched: list[str] = field(default_factory=list)
    environ: dict[str, Any] = field(default_factory=dict)  # the last request's, as the app left it
    names: dict[str, str] = field(default_factory=dict)  # "<session>", "<key>" ... -> this side's value

    def post(self, case: Case, request_id: str) -> tuple[str, list[tuple[str, str]], bytes]:
        """The status line as sent ("404 NOT FOUND"), the headers but Content-Length (and, as two more, the
        route label and error message the metrics and console record), the body with this side's ids replaced,
        marked " [flask]" when Flask dispatched the request."""
        headers = {"X-Request-ID": request_id} | {k: self.names.get(v, v) for k, v in case.headers.items()}
        data = case.body
        for placeholder, value in self.names.items():
            data = data.replace(placeholder.encode(), value.encode())
        before = len(self.dispatched)
        response = self.app.test_client().open(
            SEND,
            method=case.method,
            data=data,
            headers=headers,
            content_type=case.content_type,
            environ_base={"REMOTE_ADDR": case.address},
        )
        raw = response.get_data()
        if response.status_code == 200 and case.method == "POST":
            answer = json.loads(raw)
            for name in VOLATILE_FIELDS:
                raw = raw.replace(json.dumps(answer[name]).encode(), f'"<{name}>"'.encode())
            if case.remember:
                self.names[case.remember] = answer["session_id"]
        assert int(response.headers["Content-Length"]) == len(response.get_data())
        kept = [(k, v) for k, v in response.headers.items() if k != "Content-Length"]
        # What the metrics and the console read from the request: its route label and error message.
        seen = self.environ
        kept += [("(route)", str(seen.get(ROUTE_KEY))), ("(error message)", str(seen.get(ERROR_MESSAGE_KEY)))]
        case_reached_flask = len(self.dispatched) > before
        return response.status, kept, raw + (b" [flask]" if case_reached_flask else b"")


@dataclass
class Case:
    name: str
    body: bytes = b""
    content_type: str | None = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    method: str = "POST"
    status: int = 200
    fast: bool = False  # answered without Flask when the fast path is on
    remember: str | None = None  # keep the answer's session id under this placeholder
    address: str = "127.0.0.1"


def message(text: Any, **more: Any) -> bytes:
    return json.dumps({"message": text} | more).encode()


LONG = "x" * MAX_MESSAGE_CHARS
CASES = [
    Case("new session", message("Plan 3 days in Lisbon for two in May"), fast=True, remember="<session>"),
    Case("follow-up", message("Make it cheaper", session_id="<session>"), fast=True),
    Case("null session id, message padded", message("  Rome in June  ", session_id=None), fast=True),
    Case("charset parameter", message("Kyoto"), content_type="application/json; charset=utf-8", fast=True),
    Case("not ASCII", message("東京で3日間、予算は10万円"), fast=True),
    Case("the longest message", message(LONG), fast=True),
    Case("a key repeated: the last one counts", b'{"message": 1, "message": "Oslo"}', fast=True),
    Case("unknown session: the turn's own 404", message("hi", session_id="no-such-session"), status=404, fast=True),
    Case("keyed", message("Paris on a budget"), headers={"Idempotency-Key": "<key>"}, fast=True),
    Case("keyed replay", message("Paris on a budget"), headers={"Idempotency-Key": "<key>"}, fast=True),
    Case(
        "key with another body: the turn's own 422",
        message("Berlin"),
        headers={"Idempotency-Key": "<key>"},
        status=422,
        fast=True,
    ),
    Case("key of invisible characters", message("hi"), headers={"Idempotency-Key": "two words"}, status=422),
    Case("empty key", message("hi"), headers={"Idempotency-Key": ""}, status=422),
    Case("key too long", message("hi"), headers={"Idempotency-Key": "k" * 256}, status=422),
    Case("not JSON", b'{"message": ', status=400),
    Case("not UTF-8", b'{"message": "\xff"}', status=400),
    Case("a byte order mark", b'\xef\xbb\xbf{"message": "hi"}', status=400),
    Case("an integer too long to load", b'{"message": 1' + b"1" * 5000 + b"}", status=400),
    Case("nested too deep", b"[" * 100_000 + b"]" * 100_000, status=413),
    Case("nested deep but small enough", b"[" * 30_000 + b"]" * 30_000, status=400),
    Case("an array", b'["hi"]', status=422),
    Case("an unknown field", message("hi", extra=1), status=422),
    Case("no message", b'{"session_id": "abc"}', status=422),
    Case("only whitespace", message(" \n\t "), status=422),
    Case("one character too many", message(LONG + "y"), status=422),
    Case("a number", message(42), status=422),
    Case("an operator object", message({"$ne": None}), status=422),
    Case("an unpaired surrogate", b'{"message": "\\ud800"}', status=422),
    Case("a surrogate in the session id", b'{"message": "hi", "session_id": "\\udfff"}', status=422),
    Case("an empty session id", message("hi", session_id=""), status=422),
    Case("a session id too long", message("hi", session_id="s" * 129), status=422),
    Case("a session id that is a number", message("hi", session_id=7), status=422),
    Case("an empty body", b"", status=422),
    Case("plain text", b"hi", content_type="text/plain", status=415),
    Case("no content type", message("hi"), content_type=None, status=415),
    Case("a +json type", message("Vienna"), content_type="application/merge-patch+json"),
    Case("too large", message("x" * 70_000), status=413),
    Case("GET", method="GET", content_type=None, status=405),
]


@pytest.fixture
def sides(build_app: Callable[..., Flask]) -> Callable[..., tuple[Side, Side]]:
    """``sides(**settings)``: (fast path on, fast path off), alike otherwise."""

    def build(**settings: Any) -> tuple[Side, Side]:
        built = []
        for on in ("true", "false"):
            side = Side(build_app(SEND_FAST_PATH=on, **settings))
            flask.request_started.connect(
                lambda sender, side=side, **_: side.dispatched.append("x"), side.app, weak=False
            )
            side.names["<key>"] = str(uuid.uuid4())  # each side its own Idempotency-Key (one database)
            side.app.wsgi_app = _keeping_environ(side, side.app.wsgi_app)  # type: ignore[method-assign]
            built.append(side)
        return built[0], built[1]

    return build


def _keeping_environ(side: Side, app: Callable[..., Any]) -> Callable[..., Any]:
    """The app, keeping each request's environ for the test (the test client hands the app a copy)."""

    def keep(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        side.environ = environ
        return app(environ, start_response)

    return keep


def log_lines(text: str, request_id: str) -> list[str]:
    """The log lines a request left, without their time, process id or the request id itself."""
    return [
        re.sub(r"^\S+ \S+ (\w+) \[\d+\]", r"\1", line).replace(request_id, "<rid>")
        for line in text.splitlines()
        if request_id in line
    ]


def test_every_case_is_answered_alike_and_only_plain_sends_skip_flask(
    sides: Callable[..., tuple[Side, Side]], log_file: Callable[[], str]
) -> None:
    fast, slow = sides()
    for index, case in enumerate(CASES):
        ids = {side: f"case-{index}-{uuid.uuid4().hex}" for side in ("fast", "slow")}  # an X-Request-ID to echo
        got_fast, got_slow = fast.post(case, ids["fast"]), slow.post(case, ids["slow"])
        status, headers, body = got_fast
        assert int(status.split()[0]) == case.status, (case.name, body[:300])
        assert body.endswith(b" [flask]") != case.fast, (
            case.name,
            "answered by Flask" if case.fast else "answered without Flask",
        )
        assert got_slow[2].endswith(b" [flask]"), case.name  # the fast path off: every request is Flask's
        normal = [
            (
                status,
                [(k, v.replace(ids[s], "<rid>")) for k, v in h],
                b.replace(ids[s].encode(), b"<rid>").removesuffix(b" [flask]"),
            )
            for s, (status, h, b) in (("fast", got_fast), ("slow", got_slow))
        ]
        assert normal[0] == normal[1], case.name
        logged = log_file()
        assert log_lines(logged, ids["fast"]) == log_lines(logged, ids["slow"]), case.name


def test_api_keys_are_checked_before_anything_and_each_key_has_its_own_idempotency_keys(
    sides: Callable[..., tuple[Side, Side]],
) -> None:
    keys = ("k" * 16, "j" * 16)
    fast, slow = sides(API_KEYS=",".join(keys))
    cases = [
        Case("no key", message("hi"), status=401),
        Case("a wrong key", message("hi"), headers={"Authorization": "Bearer " + "w" * 16}, status=401),
        Case("not a bearer token", message("hi"), headers={"Authorization": "Basic " + keys[0]}, status=401),
        Case("a wrong key and a bad body", b"{", headers={"Authorization": "Bearer nope"}, status=401),
        Case("a key", message("Lima"), headers={"Authorization": "Bearer " + keys[0]}, fast=True),
        Case(
            "first key, keyed",
            message("Quito"),
            headers={"Authorization": "Bearer " + keys[0], "Idempotency-Key": "<key>"},
            fast=True,
        ),
        # The same Idempotency-Key under another API key is another request, not a replay of the first.
        Case(
            "second key, same Idempotency-Key and body",
            message("Quito"),
            headers={"Authorization": "Bearer " + keys[1], "Idempotency-Key": "<key>"},
            fast=True,
        ),
    ]
    for side in (fast, slow):
        answers = {case.name: side.post(case, f"keys-{uuid.uuid4().hex}") for case in cases}
        for case in cases:
            status, headers, body = answers[case.name]
            assert int(status.split()[0]) == case.status, (case.name, body[:200])
            assert body.endswith(b" [flask]") != (case.fast and side is fast), case.name
        assert ("Idempotent-Replayed", "true") not in answers["second key, same Idempotency-Key and body"][1]
    unauthorized = fast.post(cases[0], "keys-unauthorized")
    assert dict(unauthorized[1])["WWW-Authenticate"] == 'Bearer realm="travel_agent"'


@pytest.mark.parametrize("fast_path", ["true", "false"])
def test_a_request_is_counted_once_against_the_rate_limit_whichever_layer_answers(
    build_app: Callable[..., Flask], fast_path: str
) -> None:
    app = build_app(RATE_LIMIT="3/minute", SEND_FAST_PATH=fast_path)
    address = f"198.51.100.{uuid.uuid4().int % 250 + 1}-{uuid.uuid4().hex[:6]}"  # a counter of its own
    client = app.test_client()

    def send(body: bytes) -> int:
        return client.post(
            SEND, data=body, content_type="application/json", environ_base={"REMOTE_ADDR": address}
        ).status_code

    # A refused body is counted (the limit comes before the body, as in Flask), and only once.
    assert [send(b"{"), send(message("Nice")), send(message("Nice again")), send(message("Once more"))] == [
        400,
        200,
        200,
        429,
    ]
    refused = client.post(SEND, json={"message": "hi"}, environ_base={"REMOTE_ADDR": address})
    body = assert_envelope(refused, 429)
    assert body["message"] == "Too many requests: the limit is 3 per minute."
    assert 1 <= int(refused.headers["Retry-After"]) <= 60


def test_the_agents_errors_are_answered_alike(
    sides: Callable[..., tuple[Side, Side]], upstream: UpstreamServer, log_file: Callable[[], str]
) -> None:
    fast, slow = sides(
        AGENT_PROVIDER="openai",
        OPENAI_BASE_URL=upstream.base_url,
        OPENAI_API_KEY=API_KEY,
        OPENAI_MODEL=MODEL,
        OPENAI_MAX_RETRIES=0,
        BREAKER_FAILURE_THRESHOLD=100,
    )
    for code, expected in ((401, 502), (503, 503)):
        case = Case(f"upstream {code}", message("Plan a week in Peru"), status=expected, fast=True)
        answers = []
        for side in (fast, slow):
            upstream.fail_next(code)
            rid = f"upstream-{code}-{uuid.uuid4().hex[:8]}"
            status, headers, body = side.post(case, rid)
            assert status == f"{expected} {HTTPStatus(expected).phrase.upper()}", body
            answers.append((headers, json.loads(body.removesuffix(b" [flask]")), log_lines(log_file(), rid), rid))
        (h1, b1, l1, r1), (h2, b2, l2, r2) = answers
        assert [(k, v.replace(r1, "<rid>")) for k, v in h1] == [(k, v.replace(r2, "<rid>")) for k, v in h2]
        # The session the question was stored in is each side's own.
        assert b1.keys() == b2.keys() and {k: v for k, v in b1.items() if k not in ("session_id", "request_id")} == {
            k: v for k, v in b2.items() if k not in ("session_id", "request_id")
        }
        assert l1 == l2 and l1, l1


@pytest.fixture
def failing_send(build_app: Callable[..., Flask]) -> Iterator[Flask]:
    """An app whose chat send raises an error of no known kind. A stand-in (a mock), named as such: a bug
    cannot be provoked for real, and this is the one way to show what the fast path answers for one."""
    app = build_app()
    chat = app.extensions[EXTENSION_KEY].chat

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret internals /srv/app.py line 42")

    original = chat.send
    chat.send = broken
    yield app
    chat.send = original


def test_an_unexpected_error_is_a_500_that_reveals_nothing_and_is_logged_with_its_stack(
    failing_send: Flask, log_file: Callable[[], str]
) -> None:
    response = failing_send.test_client().post(SEND, json={"message": "hi"}, headers={"X-Request-ID": "boom-1"})
    body = assert_envelope(response, 500)
    assert body["message"] == "An unexpected error occurred. It has been logged."
    assert "secret" not in response.get_data(as_text=True)
    logged = log_file()
    assert "unhandled exception in POST /api/chat/send client=127.0.0.1 request_id=boom-1" in logged
    assert "RuntimeError: secret internals" in logged  # the stack is in the log, not the answer
