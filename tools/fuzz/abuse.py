"""Raw HTTP abuse: each case sends bytes no proper client would, and must get a clean 4xx or a closed connection."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from tools.fuzz.wire import Exchange, exchange, request
from tools.harness.envelope import envelope_problem

SEND = "/api/chat/send"
LIVE = "/health/live"
REFUSED = frozenset({"4xx", "closed"})  # the default: refused cleanly, by the app or by gunicorn


@dataclass(frozen=True)
class Case:
    name: str
    what: str
    data: bytes
    allowed: frozenset[str] = REFUSED  # of "2xx", "4xx", "closed" (no answer), "held" (still waiting)
    options: dict[str, Any] = field(default_factory=dict)  # for wire.exchange
    parallel: int = 1  # connections doing the same at once


def _json(body: str | bytes, **headers: str) -> bytes:
    raw = body.encode() if isinstance(body, str) else body
    return request("POST", SEND, raw, headers)


def _chunked(chunks: bytes, **headers: str) -> bytes:
    head = request("POST", SEND, b"", {"Content-Type": "application/json", "Transfer-Encoding": "chunked"} | headers)
    return head + chunks


VALID = json.dumps({"message": "A week in Kyoto"}).encode()
CASES: tuple[Case, ...] = (
    Case("garbage-request-line", "a request line that is not HTTP", b"GARBAGE\r\n\r\n"),
    Case("http-0.9", "a request line without a version", b"GET /health/live\r\n\r\n"),
    Case("unknown-version", "HTTP/9.9", b"GET /health/live HTTP/9.9\r\nHost: x\r\n\r\n"),
    Case("nul-in-request-line", "a NUL byte in the path", b"GET /health\x00/live HTTP/1.1\r\nHost: x\r\n\r\n"),
    Case("bad-method-token", "a method with characters HTTP forbids", b"G(T / HTTP/1.1\r\nHost: x\r\n\r\n"),
    Case("unknown-method", "a well-formed method nobody serves", request("BREW", "/api/chat/send")),
    Case("huge-url", "a 20 KB path", request("GET", "/api/chat/sessions/" + "a" * 20_000)),
    Case("huge-query", "a 20 KB query string", request("GET", LIVE + "?q=" + "b" * 20_000)),
    Case("huge-header", "one 20 KB header", request("GET", LIVE, headers={"X-Big": "c" * 20_000})),
    Case("many-headers", "300 headers", request("GET", LIVE, headers={f"X-H{i}": "v" for i in range(300)})),
    Case(
        "large-legal-headers",
        "90 headers of 8,000 bytes: within gunicorn's limits, so served",
        request("GET", LIVE, headers={f"X-L{i}": "d" * 8000 for i in range(90)}),
        frozenset({"2xx", "4xx"}),
    ),
    Case(
        "space-in-header-name",
        "a header name with a space",
        b"GET /health/live HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\nConnection: close\r\n\r\n",
    ),
    Case(
        "obs-fold",
        "a folded (continued) header line",
        b"GET /health/live HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n  folded\r\nConnection: close\r\n\r\n",
    ),
    Case(
        "header-without-colon",
        "a header line without a colon",
        b"GET /health/live HTTP/1.1\r\nHost: x\r\nnocolon\r\nConnection: close\r\n\r\n",
    ),
    Case(
        "invalid-utf8-path",
        "raw bytes 0xff 0xfe in the path",
        b"GET /api/chat/sessions/\xff\xfe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    ),
    Case("invalid-utf8-percent-path", "%ff%fe in the path", request("GET", "/api/chat/sessions/%ff%fe")),
    Case("invalid-utf8-json", "invalid UTF-8 inside a JSON string", _json(b'{"message": "\xff\xfe caf\xe9"}')),
    Case("lone-surrogate-json", "a lone UTF-16 surrogate escaped in JSON", _json('{"message": "hi \\ud800 there"}')),
    Case(
        "nul-in-json",
        "a NUL escaped in the message: a legal string, so answered",
        _json('{"message": "a\\u0000b"}'),
        frozenset({"2xx", "4xx"}),
    ),
    Case("deep-json-array", "30,000 nested arrays (60 KB, within the body limit)", _json("[" * 30_000 + "]" * 30_000)),
    Case(
        "deep-json-object",
        "12,000 nested objects as the message (60 KB; Python 3.13 loads 8,000)",
        _json('{"message": ' + '{"":' * 12_000 + "1" + "}" * 12_001),
    ),
    Case(
        "deep-json-over-limit", "50,000 nested arrays (100 KB, over the body limit)", _json("[" * 50_000 + "]" * 50_000)
    ),
    Case("huge-integer", "a 5,000-digit number as the message", _json('{"message": 1' + "0" * 5000 + "}")),
    Case("huge-float", "1e999999 as the message", _json('{"message": 1e999999}')),
    Case("nan", "NaN (not JSON) as the message", _json('{"message": NaN}')),
    Case("json-not-object", "a JSON array as the body", _json("[1, 2, 3]")),
    Case("json-null", "null as the body", _json("null")),
    Case("truncated-json", "a body cut in the middle of a string", _json('{"message": "Lis')),
    Case(
        "wrong-content-type",
        "a JSON body sent as text/plain",
        request("POST", SEND, VALID, {"Content-Type": "text/plain"}),
    ),
    Case("body-over-limit", "a 100 KB body (MAX_BODY_BYTES is 64 KiB)", _json('{"message": "' + "e" * 100_000 + '"}')),
    Case(
        "content-length-over-limit",
        "Content-Length 10 MB, a few bytes sent",
        request("POST", SEND, b"", {"Content-Type": "application/json", "Content-Length": "10000000"}) + b"{}",
        options={"half_close": True},
    ),
    Case("content-length-negative", "Content-Length -1", _json(VALID, **{"Content-Length": "-1"})),
    Case("content-length-not-a-number", "Content-Length abc", _json(VALID, **{"Content-Length": "abc"})),
    Case(
        "content-length-twice",
        "two different Content-Length headers",
        request("POST", SEND, b"", {"Content-Type": "application/json", "Content-Length": "5"})[:-2]
        + b"Content-Length: 7\r\n\r\n"
        + b"{}{}{}{",
    ),
    Case(
        "content-length-short",
        "Content-Length smaller than the body (the rest reads as a second request)",
        _json(VALID, **{"Content-Length": "5"}),
    ),
    Case(
        "truncated-body",
        "Content-Length 100, 20 bytes, then the client's side closes",
        _json(b'{"message": "Lisbon ', **{"Content-Length": "100"}),
        options={"half_close": True},
    ),
    Case(
        "truncated-body-held",
        "Content-Length 100, 20 bytes, then silence (the client keeps the socket 3 s)",
        _json(b'{"message": "Lisbon ', **{"Content-Length": "100"}),
        REFUSED | {"held"},
        options={"wait": 3.0},
    ),
    Case("chunked-garbage", "a chunk size that is not hex", _chunked(b"zz\r\n{}\r\n0\r\n\r\n")),
    Case(
        "chunked-garbage-keep-alive",
        "a chunk size that is not hex on a kept-alive connection",
        _chunked(b"zz\r\n{}\r\n0\r\n\r\n").replace(b"Connection: close", b"Connection: keep-alive"),
    ),
    Case(
        "chunked-huge-size",
        "a chunk size of 2^64-1",
        _chunked(b"FFFFFFFFFFFFFFFF\r\n{}\r\n0\r\n\r\n"),
        options={"half_close": True},
    ),
    Case(
        "chunked-unterminated",
        "a valid chunk, then the client's side closes",
        _chunked(b"2\r\n{}\r\n"),
        options={"half_close": True},
    ),
    Case(
        "chunked-and-content-length",
        "both Transfer-Encoding and Content-Length (request smuggling)",
        _chunked(b"2\r\n{}\r\n0\r\n\r\n", **{"Content-Length": "4"}),
    ),
    Case(
        "chunked-over-limit",
        "a 100 KB chunked body without Content-Length",
        _chunked(b"%x\r\n" % 100_000 + b"{" + b" " * 99_999 + b"\r\n0\r\n\r\n"),
    ),
    Case(
        "idempotency-key-latin1",
        "an Idempotency-Key with bytes outside ASCII",
        request("POST", SEND, VALID, {"Content-Type": "application/json", "Idempotency-Key": "k\xe9y\xff"}),
    ),
    Case(
        "slow-headers",
        "40 connections sending a header byte every 0.25 s for 4 s (slowloris), then leaving",
        request("GET", LIVE) + b"X-Trickle: " + b"z" * 100,
        frozenset({"held", "closed"}),
        options={"trickle": 0.25, "send_for": 4.0, "wait": 0.5},
        parallel=40,
    ),
    Case(
        "slow-body",
        "a valid chat message trickled 8 bytes every 0.1 s: slow, but answered",
        _json(VALID),
        frozenset({"2xx"}),
        options={"trickle": 0.1, "trickle_bytes": 8, "wait": 15.0},
    ),
)


def judge(case: Case, result: Exchange) -> str | None:
    """Why this answer breaks the promise, or None when it is a clean refusal (or an allowed answer)."""
    if any(code >= 500 for code in result.statuses):
        return f"a server error: {result.describe()}"
    if b"Traceback" in result.raw:
        return "a stack trace in the answer"
    if result.statuses:
        first = result.statuses[0]
        kind = "2xx" if 200 <= first < 300 else "4xx" if 400 <= first < 500 else str(first)
        if kind not in case.allowed:
            return f"answered {first}, expected {sorted(case.allowed)}"
        if b"application/json" in result.raw.split(b"\r\n\r\n", 1)[0]:
            return _envelope_problem(result, first)
        return None
    kind = "closed" if (result.closed or result.reset) else "held"
    if kind not in case.allowed:
        return f"{result.describe()}, expected {sorted(case.allowed)}"
    return None


def _envelope_problem(result: Exchange, status: int) -> str | None:
    """A JSON answer from the app: an error must be the envelope with its own status."""
    if status < 400:
        return None
    try:
        body = json.loads(result.body.split(b"\r\nHTTP/1.")[0])
    except ValueError:
        return "a JSON error that is not JSON"
    return envelope_problem(status, body)


def run_case(port: int, case: Case) -> dict[str, Any]:
    """Run one case (on ``parallel`` connections at once) and judge every connection."""
    with ThreadPoolExecutor(case.parallel) as pool:
        results = list(pool.map(lambda _: exchange(port, case.data, **case.options), range(case.parallel)))
    problems = sorted({problem for r in results if (problem := judge(case, r)) is not None})
    return {
        "case": case.name,
        "what": case.what,
        "connections": case.parallel,
        "answer": results[0].describe(),
        "seconds": round(max(r.seconds for r in results), 2),
        "ok": not problems,
        "problems": problems,
    }
