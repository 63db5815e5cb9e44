"""Bad input on every chat route: each answer is the JSON envelope with the right status, never a 500."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from tests.support.chat import SEND, STREAM

from tools.harness.envelope import assert_envelope

ROUTES = [SEND, STREAM]
NOT_STRINGS = [{"$ne": None}, {"$gt": ""}, ["a"], 5, 1.5, True]


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "message"),
        ({"message": ""}, "message"),
        ({"message": "   \n\t "}, "message"),
        ({"message": "x" * 4001}, "message"),
        ({"message": None}, "message"),
        *[({"message": value}, "message") for value in NOT_STRINGS],
        *[({"message": "hi", "session_id": value}, "session_id") for value in NOT_STRINGS],
        ({"message": "hi", "session_id": ""}, "session_id"),
        ({"message": "hi", "session_id": "s" * 129}, "session_id"),
        ({"message": "hi", "admin": True}, "admin"),
        ({"message": "hi", "$where": "1"}, "$where"),
    ],
)
def test_invalid_fields_are_422_naming_the_field(app: Flask, route: str, body: dict[str, Any], field: str) -> None:
    response = app.test_client().post(route, json=body)
    errors = assert_envelope(response, 422)["errors"]
    assert list(errors["json"]) == [field], errors


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize(
    ("data", "field"),
    [
        ('{"message": "hi \\ud800 there"}', "message"),
        ('{"message": "\\udfff"}', "message"),
        ('{"message": "hi", "session_id": "s\\ud83d"}', "session_id"),
    ],
)
def test_an_unpaired_surrogate_is_422_and_nothing_is_stored(
    app: Flask, mongo_server: Any, route: str, data: str, field: str
) -> None:
    """Found by the raw-abuse run: JSON may escape half a surrogate pair, Python decodes it, and BSON could not
    encode it (a 500, after an empty session had been created)."""
    sessions = mongo_server.client()["travel_agent"]["chat_sessions"]
    before = sessions.count_documents({})
    response = app.test_client().post(route, data=data, content_type="application/json")
    assert list(assert_envelope(response, 422)["errors"]["json"]) == [field]
    assert sessions.count_documents({}) == before


def test_a_whole_surrogate_pair_is_just_an_emoji(app: Flask) -> None:
    response = app.test_client().post(SEND, data='{"message": "Beach \\ud83c\\udfd6"}', content_type="application/json")
    assert response.status_code == 200, response.get_json()


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("body", ["[]", '"hello"', "42", "null", '[{"message": "hi"}]'])
def test_a_body_that_is_not_an_object_is_422(app: Flask, route: str, body: str) -> None:
    assert_envelope(app.test_client().post(route, data=body, content_type="application/json"), 422)


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("data", [b'{"message": "hi"', b"{'message': 'hi'}", b'{"message": "\xff\xfe"}', b"\x00"])
def test_malformed_json_is_400(app: Flask, route: str, data: bytes) -> None:
    assert_envelope(app.test_client().post(route, data=data, content_type="application/json"), 400)


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize(
    "data",
    [
        '{"message": 1' + "0" * 5000 + "}",  # more digits than Python converts (a ValueError, not a JSONDecodeError)
        "[" * 30_000 + "]" * 30_000,  # nested deeper than the decoder recurses, within the 64 KiB limit
        # Objects 12,000 deep (60 KB): Python 3.13's decoder loads 8,000, where 3.11 and 3.12 stopped.
        '{"message": ' + '{"":' * 12_000 + "1" + "}" * 12_001,
    ],
)
def test_json_python_cannot_load_is_400(app: Flask, route: str, data: str) -> None:
    """Found by the raw-abuse run: webargs only catches JSONDecodeError, so these were 500s."""
    with pytest.raises((ValueError, RecursionError)):  # the premise, on the Python running the test
        json.loads(data)
    response = app.test_client().post(route, data=data, content_type="application/json")
    assert assert_envelope(response, 400)["errors"] == {"json": ["Invalid JSON body."]}


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"])
def test_a_body_that_is_not_json_is_415(app: Flask, route: str, content_type: str) -> None:
    response = app.test_client().post(route, data='{"message": "hi"}', content_type=content_type)
    assert_envelope(response, 415)


@pytest.mark.parametrize("route", ROUTES)
def test_a_body_over_the_size_limit_is_413(build_app: Callable[..., Flask], route: str) -> None:
    app = build_app(MAX_BODY_BYTES=2048)
    assert_envelope(app.test_client().post(route, json={"message": "x" * 3000}), 413)


def test_the_longest_message_counts_characters_after_trimming(app: Flask) -> None:
    client = app.test_client()
    message = "é" * 4000  # 4,000 characters, 8,000 bytes
    response = client.post(SEND, json={"message": f"  {message}\n"})
    assert response.status_code == 200
    stored = client.get(f"/api/chat/sessions/{response.get_json()['session_id']}").get_json()["messages"][0]
    assert stored["content"] == message


def test_a_null_session_id_starts_a_new_session(app: Flask) -> None:
    response = app.test_client().post(SEND, json={"message": "hi", "session_id": None})
    assert response.status_code == 200 and len(response.get_json()["session_id"]) == 32


@pytest.mark.parametrize("key", ["", "has space", "naïve", "k" * 256, "tab\there"])
def test_a_malformed_idempotency_key_is_422(app: Flask, key: str) -> None:
    response = app.test_client().post(SEND, json={"message": "hi"}, headers={"Idempotency-Key": key})
    errors = assert_envelope(response, 422)["errors"]
    assert list(errors["headers"]) == ["Idempotency-Key"]


def test_the_idempotency_key_is_read_whatever_the_case_of_its_name(app: Flask) -> None:
    # The view skips the header's parsing when the header is absent: a name in another case is not absent.
    client = app.test_client()
    errors = assert_envelope(client.post(SEND, json={"message": "hi"}, headers={"idempotency-key": "a b"}), 422)
    assert list(errors["errors"]["headers"]) == ["Idempotency-Key"]
    first = client.post(SEND, json={"message": "hi"}, headers={"IDEMPOTENCY-KEY": "case-1"})
    again = client.post(SEND, json={"message": "hi"}, headers={"idempotency-key": "case-1"})
    assert first.status_code == again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()


def test_an_operator_in_the_path_is_just_an_unknown_session(app: Flask) -> None:
    client = app.test_client()
    for path in ('/api/chat/sessions/{"$ne":null}', "/api/chat/sessions/%7B%22%24ne%22%3A1%7D"):
        assert_envelope(client.get(path), 404)
        assert_envelope(client.delete(path), 404)


@pytest.mark.parametrize(
    ("method", "path"), [("get", SEND), ("put", SEND), ("get", STREAM), ("post", "/api/chat/sessions/abc")]
)
def test_wrong_methods_are_405(app: Flask, method: str, path: str) -> None:
    assert_envelope(getattr(app.test_client(), method)(path, json={"message": "hi"}), 405)
