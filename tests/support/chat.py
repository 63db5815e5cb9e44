"""Helpers for chat tests: paths and an SSE parser (in-process or over HTTP)."""

from __future__ import annotations

import json
from typing import Any

from tools.harness.resumable import blocks

__all__ = ["blocks"]  # one SSE block splitter for the tests and the harness

SEND = "/api/chat/send"
MODEL = "travel-test-model"
API_KEY = "sk-test-0123456789"
STREAM = "/api/chat/stream"


def session_path(session_id: str) -> str:
    return f"/api/chat/sessions/{session_id}"


def parse_sse(text: str) -> list[tuple[str, Any]]:
    """(event, data) pairs in order; a comment block is ("comment", its text)."""
    return [event for block in text.split("\n\n") if block.strip() for event in [parse_block(block)]]


def parse_block(block: str) -> tuple[str, Any]:
    lines = block.strip("\n").split("\n")
    if all(line.startswith(":") for line in lines):
        return "comment", "\n".join(line[1:].strip() for line in lines)
    fields = dict(line.split(": ", 1) for line in lines)
    return fields["event"], json.loads(fields["data"])


def chunks_text(events: list[tuple[str, Any]]) -> str:
    return "".join(data["text"] for kind, data in events if kind == "chunk")
