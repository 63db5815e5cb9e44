"""``plain_send`` and ``plain_idempotency_key`` (the send fast path's checks, decided without marshmallow)
agree with the schemas Flask's route loads: neither accepts what its schema refuses, nor loads it differently,
nor refuses what its schema accepts (which would only cost speed, but would mean the two drifted apart)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from hypothesis import given, settings
from hypothesis import strategies as st

from travel_agent.api.chat_schemas import (
    MAX_MESSAGE_CHARS,
    MAX_SESSION_ID_CHARS,
    IdempotencyHeaderSchema,
    SendSchema,
    plain_idempotency_key,
    plain_send,
)

SCHEMA, HEADERS = SendSchema(), IdempotencyHeaderSchema()

# Text near each bound, with whitespace, non-ASCII and unpaired surrogates (which JSON can carry).
characters = st.sampled_from(
    [" ", "\t", "\n", "\u3000", "\u00a0", "a", "Z", "é", "東", "😀", "\ud800", "\udfff", "$", "{", "\x00"]
)
texts = st.one_of(
    st.text(characters, max_size=12),
    st.builds(
        lambda pad, core, tail: pad + core + tail,
        st.text(characters, max_size=3),
        st.sampled_from(
            ["x" * n for n in (MAX_MESSAGE_CHARS - 1, MAX_MESSAGE_CHARS, MAX_MESSAGE_CHARS + 1)]
            + ["s" * n for n in (MAX_SESSION_ID_CHARS, MAX_SESSION_ID_CHARS + 1)]
        ),
        st.text(characters, max_size=3),
    ),
)
json_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    texts,
    st.lists(texts, max_size=2),
    st.dictionaries(texts, texts, max_size=2),
)
bodies = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "message": st.one_of(texts, json_values),
            "session_id": st.one_of(texts, json_values),
            "extra": json_values,
        },
    ),
    json_values,
)


def schema_load(data: Any) -> tuple[str, str | None] | None:
    try:
        loaded = SCHEMA.load(data)
    except ma.ValidationError:
        return None
    return loaded["message"], loaded["session_id"]


@settings(max_examples=3000, deadline=None)
@given(bodies)
def test_plain_send_answers_what_the_schema_answers(body: Any) -> None:
    assert plain_send(body) == schema_load(body)


def test_the_bounds_themselves() -> None:
    longest = "m" * MAX_MESSAGE_CHARS
    for body in (
        {"message": longest},
        {"message": f"  {longest}\n"},
        {"message": "x", "session_id": None},
        {"message": "x", "session_id": "s" * MAX_SESSION_ID_CHARS},
        {"message": "x", "session_id": " "},
        {"message": longest + "m"},
        {"message": " "},
        {"message": "x", "session_id": ""},
        {"message": "x", "session_id": "s" * (MAX_SESSION_ID_CHARS + 1)},
        {"message": "\ud83d"},
        {},
        {"message": "x", "session": "typo"},
        ["message"],
        "message",
        None,
    ):
        assert plain_send(body) == schema_load(body), body


@settings(max_examples=2000, deadline=None)
@given(st.one_of(st.text(max_size=300), st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7F), max_size=260)))
def test_plain_idempotency_key_accepts_what_the_header_schema_accepts(value: str) -> None:
    try:
        HEADERS.load({"Idempotency-Key": value})
        accepted = True
    except ma.ValidationError:
        accepted = False
    assert plain_idempotency_key(value) == accepted
