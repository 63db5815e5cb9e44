"""Reading a session a page at a time: every message exactly once, newest page first, no turn split, bounds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from tests.support.chat import SEND, session_path

from tools.harness.envelope import assert_envelope
from tools.harness.upstream import UpstreamServer


def page(client: FlaskClient, session_id: str, **args: Any) -> dict[str, Any]:
    response = client.get(session_path(session_id), query_string=args)
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def shown(messages: list[dict[str, Any]]) -> list[tuple[str, str, str | None]]:
    return [(m["role"], m["content"], m.get("status")) for m in messages]


@pytest.fixture
def conversation(openai_app: Callable[..., Flask], upstream: UpstreamServer) -> tuple[FlaskClient, str]:
    """Six turns, the third unanswered (the upstream refused it): eleven messages."""
    client = openai_app().test_client()
    session_id = None
    for turn in range(6):
        if turn == 2:
            upstream.fail_next(400)
        response = client.post(SEND, json={"message": f"t{turn}"} | ({"session_id": session_id} if session_id else {}))
        assert response.status_code == (502 if turn == 2 else 200), response.get_json()
        session_id = session_id or response.get_json()["session_id"]
    assert session_id is not None
    return client, session_id


EVERYTHING = [
    ("user", "t0", "answered"),
    ("assistant", "echo: t0", None),
    ("user", "t1", "answered"),
    ("assistant", "echo: t1", None),
    ("user", "t2", "unanswered"),
    ("user", "t3", "answered"),
    ("assistant", "echo: t3", None),
    ("user", "t4", "answered"),
    ("assistant", "echo: t4", None),
    ("user", "t5", "answered"),
    ("assistant", "echo: t5", None),
]


def test_a_short_session_is_one_page(conversation: tuple[FlaskClient, str]) -> None:
    client, session_id = conversation
    body = page(client, session_id)  # the default page holds 100
    assert shown(body["messages"]) == EVERYTHING
    assert body["has_more"] is False and body["next_before"] is None


@pytest.mark.parametrize("limit", [2, 3, 4, 5])
def test_following_next_before_reads_every_message_once_without_splitting_a_turn(
    conversation: tuple[FlaskClient, str], limit: int
) -> None:
    client, session_id = conversation
    pages: list[list[dict[str, Any]]] = []
    body = page(client, session_id, limit=limit)
    while True:
        pages.append(body["messages"])
        assert 0 < len(body["messages"]) <= limit
        # Each page starts with a question: an answer never sits in a page without the question it answers.
        assert body["messages"][0]["role"] == "user"
        if not body["has_more"]:
            assert body["next_before"] is None
            break
        assert isinstance(body["next_before"], int)
        body = page(client, session_id, limit=limit, before=body["next_before"])
        assert len(pages) < 12, "the cursor does not move"
    read = [m for chunk in reversed(pages) for m in chunk]
    assert shown(read) == EVERYTHING  # statuses too: every answer was read with its question
    assert len({m["id"] for m in read}) == len(EVERYTHING)


def test_a_cursor_inside_a_turn_is_snapped_to_its_start(conversation: tuple[FlaskClient, str]) -> None:
    client, session_id = conversation
    newest = page(client, session_id, limit=2)
    assert shown(newest["messages"]) == EVERYTHING[-2:]
    cursor = newest["next_before"]
    # One past the cursor is the position of the newest question's answer: the same older page comes back,
    # not one that holds that question without its answer.
    assert page(client, session_id, limit=2, before=cursor + 1) == page(client, session_id, limit=2, before=cursor)
    assert page(client, session_id, limit=5, before=0)["messages"] == []
    assert shown(page(client, session_id, before=2**63 - 1)["messages"]) == EVERYTHING  # BSON's largest integer


@pytest.mark.parametrize(
    "query",
    [
        "limit=1",
        "limit=501",
        "limit=ten",
        "before=-1",
        "before=x",
        "limit=2.5",
        f"before={2**63}",
        "before=99999999999999999999999999",
        "limit=",
    ],
)
def test_bad_paging_arguments_are_422_naming_the_field(conversation: tuple[FlaskClient, str], query: str) -> None:
    client, session_id = conversation
    body = assert_envelope(client.get(f"{session_path(session_id)}?{query}"), 422)
    assert query.split("=")[0] in body["errors"]["query"], body


def test_paging_an_unknown_session_is_404(app: Flask) -> None:
    assert_envelope(app.test_client().get(session_path("no-such-session") + "?limit=5&before=9"), 404)
