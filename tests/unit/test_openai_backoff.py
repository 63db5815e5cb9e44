"""The OpenAI client's back-off and Retry-After reading (pure functions; the client itself is tested against a
real upstream in tests/app/chat)."""

from __future__ import annotations

import pytest
import requests

from travel_agent.agent.openai_client import BACKOFF_CAP_SECONDS, _backoff, _retry_after


def test_backoff_grows_is_jittered_and_capped() -> None:
    for attempt, ceiling in ((1, 0.2), (2, 0.4), (3, 0.8), (10, BACKOFF_CAP_SECONDS)):
        waits = {_backoff(attempt) for _ in range(50)}
        assert all(ceiling / 2 <= wait <= ceiling for wait in waits)
        assert len(waits) > 1  # jittered, so workers retrying together spread out


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "3"}, 3.0),
        ({"retry-after-ms": "1500", "Retry-After": "2"}, 1.5),
        ({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, None),
        ({}, None),
        # float() reads these too; math.ceil(inf) raised OverflowError in the middle of a turn.
        ({"Retry-After": "inf"}, None),
        ({"Retry-After": "1e400"}, None),
        ({"retry-after-ms": "nan", "Retry-After": "4"}, 4.0),
    ],
)
def test_retry_after_in_seconds(headers: dict[str, str], expected: float | None) -> None:
    response = requests.Response()
    response.headers.update(headers)
    assert _retry_after(response) == expected
