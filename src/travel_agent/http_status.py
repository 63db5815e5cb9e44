"""The reason phrase of each HTTP status, the same on every Python the service runs on.

Python 3.13 renamed four of ``http.HTTPStatus``'s phrases after RFC 9110 (413 "Content Too Large", 414 "URI Too
Long", 416 "Range Not Satisfiable", 422 "Unprocessable Content"). The envelope's ``status`` and the status lines
the service writes itself keep the names they have always had, so an answer does not change with
the interpreter (clients may match on them). Imports nothing of ours: every layer may use it.
"""

from __future__ import annotations

from http import HTTPStatus

_KEPT = {
    413: "Request Entity Too Large",
    414: "Request-URI Too Long",
    416: "Requested Range Not Satisfiable",
    422: "Unprocessable Entity",
}


def status_phrase(code: int) -> str:
    """The phrase of ``code``; a ValueError for a code that is not an HTTP status, as ``HTTPStatus`` raises."""
    return _KEPT.get(code) or HTTPStatus(code).phrase
