"""The console's pure parts: redaction, session cookies, percentiles from histogram buckets."""

from __future__ import annotations

from travel_agent.console import access, traffic
from travel_agent.console.records import MESSAGE_LIMIT, redact

TOKEN = "console-token-0123456789abcdef"


def test_credentials_in_urls_never_pass() -> None:
    text = "lost mongodb://admin:hunter2@db.internal:27017/x and redis://:s3cret@cache:6379/0"
    cleaned = redact(text)
    assert "hunter2" not in cleaned and "s3cret" not in cleaned
    assert "mongodb://***@db.internal:27017/x" in cleaned and "redis://***@cache:6379/0" in cleaned
    assert len(redact("x" * 5000)) == MESSAGE_LIMIT


def test_session_cookie_is_bound_to_the_token_and_expires() -> None:
    value = access.new_session(TOKEN, now=1_000_000)
    assert TOKEN not in value
    assert access.valid_session(TOKEN, value, now=1_000_010)
    assert not access.valid_session(TOKEN + "x", value, now=1_000_010)  # a new token logs everyone out
    assert not access.valid_session(TOKEN, value, now=1_000_000 + access.SESSION_SECONDS + 1)
    issued, _, mac = value.partition(".")
    assert not access.valid_session(TOKEN, f"{int(issued) + 1}.{mac}", now=1_000_010)
    for junk in (None, "", ".", "abc.def", "1" * 40 + ".x"):
        assert not access.valid_session(TOKEN, junk, now=1_000_010)


def test_quantiles_interpolate_inside_a_bucket() -> None:
    bounds = list(traffic.BOUNDS)
    cumulative = [0.0] * len(bounds)
    # 10 requests between 0.1 and 0.25 s, 10 between 1 and 2.5 s.
    for i, bound in enumerate(bounds):
        cumulative[i] = (10 if bound >= 0.25 else 0) + (10 if bound >= 2.5 else 0)
    assert traffic.quantile(cumulative, 0.5) == 0.25
    p95 = traffic.quantile(cumulative, 0.95)
    assert p95 is not None and 1.0 < p95 < 2.5
    assert traffic.quantile([0.0] * len(bounds), 0.5) is None


def test_difference_keeps_only_routes_that_moved() -> None:
    before = {"/a": [1.0, 1.0], "/b": [2.0, 0.0]}
    now = {"/a": [1.0, 1.0], "/b": [5.0, 1.0], "/c": [1.0, 0.0]}
    assert traffic.difference(now, before) == {"/b": [3.0, 1.0], "/c": [1.0, 0.0]}
