"""Closed-loop conversation clients: a unique message each turn, the reply checked, every acknowledgement kept.

Three kinds: ``send`` (a new message per attempt), ``idem`` (an Idempotency-Key, the same message retried with
the same key after a failure) and ``stream`` (server-sent events). The upstream echoes the last user message, so
a reply that is not ``"echo: " + own message`` belongs to another request: cross-talk. An answer marked
``degraded`` is the offline assistant's (the model could not answer): its text is not an echo, its session is
still checked. Every message carries
its conversation's tag, so a prompt that mixes tags is cross-talk in the context (see ``verify``).
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import requests

from tools.harness.envelope import envelope_problem

SEND, STREAM = "/api/chat/send", "/api/chat/stream"
# The statuses the service may answer a chat with under faults; 409 only to a retry of an Idempotency-Key.
ALLOWED = frozenset({200, 502, 503, 504})
IDEM_ALLOWED = ALLOWED | {409}
ECHO = "echo: "
CONNECTION, TIMEOUT, CUT = "connection", "timeout", "cut"


@dataclass
class Sample:
    """One request: when, what came back, and whether it broke the contract."""

    client: str
    kind: str
    started: float  # time.monotonic()
    ended: float
    status: int | None  # the HTTP status; a stream's in-band error code, or 200 once "done"
    error: str | None = None  # CONNECTION (refused, reset), TIMEOUT (no answer in time), CUT (stream ended early)
    bad: str | None = None  # a status outside the allowed set, or an answer that is not the JSON promised
    crosstalk: str | None = None
    degraded: bool = False  # answered by the offline assistant in the model's place

    @property
    def latency(self) -> float:
        return self.ended - self.started

    @property
    def outcome(self) -> str:
        return self.error if self.error is not None else str(self.status)


@dataclass(frozen=True)
class Ack:
    """A message the service answered 200: it and its reply must be in the session's history afterwards."""

    client: str
    session_id: str
    message: str
    message_id: str
    reply: str
    at: float


@dataclass
class Recorder:
    """What every client saw; appended to from the client threads."""

    samples: list[Sample] = field(default_factory=list)
    acks: list[Ack] = field(default_factory=list)
    sessions: dict[str, str] = field(default_factory=dict)  # session id -> conversation tag
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, sample: Sample, ack: Ack | None = None, session: tuple[str, str] | None = None) -> None:
        with self.lock:
            self.samples.append(sample)
            if ack is not None:
                self.acks.append(ack)
            if session is not None:
                self.sessions.setdefault(*session)

    def since(self, moment: float) -> list[Sample]:
        with self.lock:
            return [s for s in self.samples if s.started >= moment]


@dataclass
class Outcome:
    """What one attempt gave the conversation: its sample, the session it now knows, and the reply if any."""

    sample: Sample
    session_id: str | None
    reply: tuple[str, str] | None = None  # (message id, reply text) on success
    retry_after: float = 0.0


class Conversation(threading.Thread):
    """One closed-loop client: conversations of ``turns`` messages, one after another, until ``stop``."""

    def __init__(
        self,
        name: str,
        kind: str,
        base_url: str,
        recorder: Recorder,
        stop: threading.Event,
        timeout: float,
        turns: int = 6,
        think: float = 0.01,
    ) -> None:
        super().__init__(name=f"chaos-{name}", daemon=True)
        self.tag_prefix, self.kind, self.base_url = name, kind, base_url
        self.recorder, self.stop_event, self.timeout = recorder, stop, timeout
        self.turns, self.think = turns, think
        self.http = requests.Session()

    def run(self) -> None:
        conversation = 0
        try:
            while not self.stop_event.is_set():
                conversation += 1
                tag = f"{self.tag_prefix}s{conversation}"
                session_id: str | None = None
                for turn in range(self.turns):
                    if self.stop_event.is_set():
                        break
                    session_id = self.turn(tag, turn, session_id)
        finally:
            self.http.close()

    def turn(self, tag: str, turn: int, session_id: str | None) -> str | None:
        """One turn; the idempotent kind retries it (same key, same message) up to twice."""
        attempts = 3 if self.kind == "idem" else 1
        key = str(uuid.uuid4()) if self.kind == "idem" else None
        message = f"{tag} t{turn} {secrets.token_hex(4)}"
        # A retry with an Idempotency-Key repeats the request exactly (the service refuses the key with
        # another body), even when the failed attempt named the session it stored the message in.
        asked_in = session_id
        for attempt in range(attempts):
            result = self.attempt(message, asked_in if key else session_id, key, retry=attempt > 0)
            session_id = result.session_id or session_id
            ack = None
            if result.reply is not None and session_id is not None:
                ack = Ack(self.tag_prefix, session_id, message, result.reply[0], result.reply[1], result.sample.ended)
            self.recorder.add(result.sample, ack, (session_id, tag) if session_id else None)
            pause = 0.1 if result.sample.error == CONNECTION else self.think
            self.stop_event.wait(max(pause, min(result.retry_after, 0.5)) if result.sample.status == 409 else pause)
            if result.reply is not None or self.stop_event.is_set():
                break
        return session_id

    def attempt(self, message: str, session_id: str | None, key: str | None, retry: bool) -> Outcome:
        body = {"message": message, "session_id": session_id}
        headers = {"Idempotency-Key": key} if key else {}
        allowed = IDEM_ALLOWED if retry else ALLOWED
        started = time.monotonic()
        sample = Sample(self.tag_prefix, self.kind, started, started, None)
        try:
            if self.kind == "stream":
                return self._stream(sample, body, session_id)
            response = self.http.post(self.base_url + SEND, json=body, headers=headers, timeout=(2, self.timeout))
        except requests.RequestException as exc:
            return Outcome(_failed(sample, exc), session_id)
        sample.ended, sample.status = time.monotonic(), response.status_code
        data = _json_body(response)
        if response.status_code != 200:
            return Outcome(*_refusal(sample, data, allowed, session_id), retry_after=_retry_after(response))
        if not isinstance(data, dict) or not {"session_id", "message_id", "reply"} <= data.keys():
            sample.bad = "200 without the documented answer"
            return Outcome(sample, session_id)
        sample.degraded = data.get("degraded") is True
        sample.crosstalk = _foreign(data["reply"], data["session_id"], message, session_id, sample.degraded)
        if sample.crosstalk:
            return Outcome(sample, session_id)
        return Outcome(sample, data["session_id"], (data["message_id"], data["reply"]))

    def _stream(self, sample: Sample, body: dict[str, Any], session_id: str | None) -> Outcome:
        with self.http.post(self.base_url + STREAM, json=body, stream=True, timeout=(2, self.timeout)) as response:
            if response.status_code != 200 or not response.headers.get("Content-Type", "").startswith(
                "text/event-stream"
            ):
                sample.ended, sample.status = time.monotonic(), response.status_code
                return Outcome(*_refusal(sample, _json_body(response), ALLOWED, session_id))
            events = _events(response)
        sample.ended = time.monotonic()
        text, final, known = "", None, session_id
        for event, data in events:
            if not isinstance(data, dict):
                sample.bad = f"a {event} event whose data is not a JSON object"
                return Outcome(sample, known)
            if event == "start":
                known = data.get("session_id") or known
                if session_id is not None and known != session_id:
                    sample.crosstalk = "stream started in another session"
                    return Outcome(sample, session_id)
            elif event == "chunk":
                text += str(data.get("text", ""))
            elif event in ("done", "error"):
                final = (event, data)
        if final is None:
            sample.error = CUT
            return Outcome(sample, known)
        event, data = final
        if event == "error":
            sample.status = data.get("code") if isinstance(data.get("code"), int) else None
            if sample.status not in ALLOWED or envelope_problem(sample.status, data) is not None:
                sample.bad = f"stream error event {data}"
            return Outcome(sample, known)
        sample.status = 200
        sample.degraded = data.get("degraded") is True
        sample.crosstalk = _foreign(text, data.get("session_id"), body["message"], session_id, sample.degraded)
        if sample.crosstalk or known is None:
            return Outcome(sample, known)
        return Outcome(sample, known, (str(data.get("message_id")), text))


def _events(response: requests.Response) -> list[tuple[str, Any]]:
    """The (event, data) pairs of a stream, up to where it ended (a broken connection just ends it)."""
    out: list[tuple[str, Any]] = []
    buffer = ""
    try:
        for chunk in response.iter_content(chunk_size=None):
            buffer += chunk.decode("utf-8", errors="replace")
            while "\n\n" in buffer:
                block, buffer = buffer.split("\n\n", 1)
                lines = [line for line in block.split("\n") if line and not line.startswith(":")]
                fields = dict(line.split(": ", 1) for line in lines if ": " in line)
                if "event" in fields:
                    try:
                        out.append((fields["event"], json.loads(fields.get("data", ""))))
                    except ValueError:
                        out.append((fields["event"], None))
    except requests.RequestException:
        pass  # reported as a cut stream: no final event
    return out


def _failed(sample: Sample, exc: requests.RequestException) -> Sample:
    sample.ended = time.monotonic()
    timed_out = isinstance(exc, requests.Timeout) and not isinstance(exc, requests.ConnectTimeout)
    sample.error = TIMEOUT if timed_out else CONNECTION
    return sample


def _json_body(response: requests.Response) -> Any:
    if not response.headers.get("Content-Type", "").startswith("application/json"):
        return None
    try:
        return response.json()
    except ValueError:
        return None


def _refusal(sample: Sample, data: Any, allowed: frozenset[int], session_id: str | None) -> tuple[Sample, str | None]:
    """An error answer: it must be an allowed status with the JSON envelope; it may name the session where the
    message was stored (unanswered), which a new conversation then continues."""
    if sample.status not in allowed:
        sample.bad = f"status {sample.status}"
    elif envelope_problem(sample.status, data) is not None:
        sample.bad = f"{sample.status} without the JSON error envelope"
    named = data.get("session_id") if isinstance(data, dict) else None
    if session_id is not None and named not in (None, session_id):
        sample.crosstalk = "error names another session"
    return sample, session_id or (named if isinstance(named, str) else None)


def _foreign(reply: str, answered_in: Any, message: str, session_id: str | None, degraded: bool) -> str | None:
    """Why this answer belongs to another request, or None."""
    if not degraded and reply != ECHO + message:
        return f"reply {reply[:80]!r} to {message!r}"
    if session_id is not None and answered_in != session_id:
        return "answered in another session"
    return None


def _retry_after(response: requests.Response) -> float:
    try:
        return float(response.headers.get("Retry-After", "0"))
    except ValueError:
        return 0.0
