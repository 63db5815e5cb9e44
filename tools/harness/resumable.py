"""A client (for tests and the chaos run) that follows a streamed turn to its end, resuming after every cut
(a lost connection, a `resume` event), as the chat page does: what it assembles must be the stored answer."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import requests

STREAM = "/api/chat/stream"


def blocks(chunks: Iterable[bytes]) -> Iterable[str]:
    """SSE blocks from a byte stream as they complete (for timing what arrives when)."""
    buffer = ""
    for chunk in chunks:
        buffer += chunk.decode()
        while "\n\n" in buffer:
            block, buffer = buffer.split("\n\n", 1)
            yield block


@dataclass
class Followed:
    start: dict[str, Any] = field(default_factory=dict)
    text: str = ""
    end: tuple[str, Any] | None = None
    last_id: str | None = None
    resumes: int = 0
    restarts: int = 0
    kinds: list[str] = field(default_factory=list)
    first_event_s: list[float] = field(default_factory=list)  # per resume: seconds to its first event


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
    after each cut; ``stop_after_chunks`` cuts the first connection by itself after that many chunks. A POST
    cut before its `start` is sent again (with an Idempotency-Key in ``headers`` it joins the same turn)."""
    followed = Followed()
    deadline = time.monotonic() + deadline_seconds
    while not followed.start and time.monotonic() < deadline:
        try:
            with requests.post(
                base_url + STREAM, json={"message": message}, headers=headers, stream=True, timeout=(5, 30)
            ) as response:
                if response.status_code != 200:
                    time.sleep(0.2)
                    continue
                if read(response, followed, stop_after_chunks):
                    return followed
        except requests.RequestException:
            time.sleep(0.2)
    if not followed.start:
        raise AssertionError(f"no stream started within {deadline_seconds} s")
    return resume_until_end(resume_base or base_url, followed, deadline - time.monotonic(), headers)


def resume_until_end(
    base_url: str, followed: Followed, seconds: float = 30.0, headers: dict[str, str] | None = None
) -> Followed:
    """Resume ``followed`` at ``base_url`` with its last event id, again after each cut, until its turn ends;
    each resume's wait for its first event is kept in ``followed.first_event_s``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        followed.resumes += 1
        extra = {} if followed.last_id is None else {"Last-Event-ID": followed.last_id}
        sent = time.monotonic()
        first: list[float] = []
        try:
            url = base_url + followed.start["resume_url"]
            with requests.get(url, headers=(headers or {}) | extra, stream=True, timeout=(5, 30)) as response:
                if response.status_code == 200:
                    done = read(response, followed, on_event=lambda _kind, seen=first: _note_first(seen))
                    if first:
                        followed.first_event_s.append(first[0] - sent)
                    if done:
                        return followed
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise AssertionError(f"the turn did not end within {seconds} s: {followed}")


def _note_first(seen: list[float]) -> None:
    if not seen:
        seen.append(time.monotonic())
