"""The reason phrases the service writes are the same on every supported Python (3.13 renamed four)."""

from __future__ import annotations

from http import HTTPStatus

import pytest

from travel_agent.http_status import status_phrase


@pytest.mark.parametrize(
    ("code", "phrase"),
    [
        (413, "Request Entity Too Large"),
        (414, "Request-URI Too Long"),
        (416, "Requested Range Not Satisfiable"),
        (422, "Unprocessable Entity"),
        (400, "Bad Request"),
        (503, "Service Unavailable"),
        (504, "Gateway Timeout"),
    ],
)
def test_the_phrase_does_not_depend_on_the_interpreter(code: int, phrase: str) -> None:
    assert status_phrase(code) == phrase


def test_every_other_status_keeps_pythons_phrase() -> None:
    kept = {413, 414, 416, 422}
    assert all(status_phrase(s.value) == s.phrase for s in HTTPStatus if s.value not in kept)


def test_a_code_that_is_not_a_status_is_refused_as_httpstatus_refuses_it() -> None:
    with pytest.raises(ValueError):
        status_phrase(299)
