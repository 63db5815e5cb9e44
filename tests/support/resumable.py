"""A client that follows a streamed turn to its end, resuming after every cut (a lost connection, a `resume`
event), the way the chat page does: what it assembles must be exactly the stored answer."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests
from tests.support.chat import STREAM, blocks


@dataclass
class Followed:
    start: dict[str, Any] = field(default_factory=dict)
    text: str = ""
    end: tuple[str, Any] | None = None
    last_id: str | None = None
    resumes: int = 0
    restarts: int = 0
    kinds: list[str] = field(default_factory=list)


def read(
    response: requests.Response,
    followed: Followed,
    stop_after_chunks: int | None = None,
    on_event: Callable[[str], None] | None = None,
) -> bool:
    """Read events into ``followed``; True once the turn ended (done/error), False when the stream stopped
    short (a `resume` event, a cut connection, or ``stop_after_chunks`` chunks read)."""
    import json

    chunks = 0
    try:
        for block in blocks(response.iter_content(chunk_size=None)):
            lines = block.strip("\n").split("\n")
            if all(line.startswith(":") for line in lines):
                continue
            fields = dict(line.split(": ", 1) for line in lines)
            kind, data = fields["event"], json.loads(fields["data"])
            followed.kinds.append(kind)
            if on_event is not None:
                on_event(kind)
            if kind == "start":
                followed.start = data
            elif kind == "chunk":
                followed.text += data["text"]
                chunks += 1
            elif kind == "restart":
                followed.text, followed.restarts = "", followed.restarts + 1
            if kind != "resume":
                followed.last_id = fields.get("id", followed.last_id)
            if kind in ("done", "error"):
                followed.end = (kind, data)
                return True
            if kind == "resume":
                return False
            if stop_after_chunks is not None and chunks >= stop_after_chunks:
                return False
    except requests.RequestException:
        return False
    return False


def follow(
    base_url: str,
    message: str,
    *,
    headers: dict[str, str] | None = None,
    stop_after_chunks: int | None = None,
    deadline_seconds: float = 60.0,
    resume_base: str | None = None,
) -> Followed:
    """Ask ``message`` and follow its turn to the end, resuming (at ``resume_base``, default the same server)
    after each cut; ``stop_after_chunks`` cuts the first connection by itself after that many chunks."""
    followed = Followed()
    deadline = time.monotonic() + deadline_seconds
    try:
        with requests.post(
            base_url + STREAM, json={"message": message}, headers=headers, stream=True, timeout=(5, 30)
        ) as response:
            assert response.status_code == 200, response.text
            if read(response, followed, stop_after_chunks):
                return followed
    except requests.RequestException:
        pass
    if not followed.start:
        raise AssertionError("the stream was cut before its start event")
    return resume_until_end(resume_base or base_url, followed, deadline - time.monotonic(), headers)


def resume_until_end(
    base_url: str, followed: Followed, seconds: float = 30.0, headers: dict[str, str] | None = None
) -> Followed:
    """Resume ``followed`` at ``base_url`` with its last event id, again after each cut, until its turn ends."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        followed.resumes += 1
        extra = {} if followed.last_id is None else {"Last-Event-ID": followed.last_id}
        try:
            url = base_url + followed.start["resume_url"]
            with requests.get(url, headers=(headers or {}) | extra, stream=True, timeout=(5, 30)) as response:
                if response.status_code == 200 and read(response, followed):
                    return followed
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise AssertionError(f"the turn did not end within {seconds} s: {followed}")
