"""The reason phrases the service writes (formats.py) are the same on every supported Python: 3.13 renamed
four of http.HTTPStatus's."""

from __future__ import annotations

from http import HTTPStatus

import pytest

from travel_agent.formats import phrase, status_line


@pytest.mark.parametrize(
    ("code", "expected"),
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
def test_the_phrase_does_not_depend_on_the_interpreter(code: int, expected: str) -> None:
    assert phrase(code) == expected
    assert status_line(code) == f"{code} {expected.upper()}"


def test_every_other_status_keeps_pythons_phrase() -> None:
    kept = {413, 414, 416, 422}
    assert all(phrase(s.value) == s.phrase for s in HTTPStatus if s.value not in kept)


def test_a_code_that_is_not_a_status_has_a_phrase_all_the_same() -> None:
    assert phrase(299) == "Unknown"
