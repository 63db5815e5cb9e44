"""An OpenAI-compatible chat-completions client: bounded by the request's budget, retried, behind a breaker.

requests (urllib3 underneath) talks through plain Python sockets, which gevent patches, so a slow upstream
parks one greenlet, never the worker. Every call's socket timeouts come from the request's remaining budget.
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from collections.abc import Iterator, Sequence
from contextlib import closing
from contextvars import ContextVar
from typing import Any

import requests
from urllib3.exceptions import DecodeError, ProtocolError, ReadTimeoutError
from urllib3.exceptions import SSLError as Urllib3SSLError

from travel_agent import request_context
from travel_agent.agent import waiting
from travel_agent.agent.budget import MIN_CALL_SECONDS, require_time, time_left
from travel_agent.agent.errors import AgentError, AgentUnavailable, CircuitOpen, ReplyTooLong, UpstreamRefused
from travel_agent.agent.interface import Turn
from travel_agent.agent.upstream_calls import UpstreamCall, outcome_of
from travel_agent.agent.upstream_http import SmallBufferAdapter
from travel_agent.config import Settings
from travel_agent.errors import BudgetExceeded
from travel_agent.resilience.breaker import CircuitBreaker, State
from travel_agent.resilience.recent_calls import RecentCalls

log = logging.getLogger("travel_agent.agent.openai")

# The request id of the turn that took an upstream's circuit trial in check_available(); the agent's call runs in
# the request's context or a copy of it (chat/pump.py), so its first attempt knows it may go. Keyed by request
# id, since a gevent worker serves the next request of a kept-alive connection in the same context; one per
# upstream, so a trial of the first never lets a call past the second's open circuit.
_TRIAL_HOLDERS: dict[str, ContextVar[str | None]] = {
    upstream: ContextVar(f"upstream_trial_holder_{upstream}", default=None) for upstream in ("primary", "fallback")
}

SYSTEM_PROMPT = (
    "You are a friendly, practical travel-planning assistant. Help the traveller plan their trip: destination, "
    "dates or length of stay, who is travelling, budget, and a day-by-day outline. Ask briefly for what is still "
    "missing, keep answers concise, and never invent bookings or prices you cannot know."
)
BACKOFF_BASE_SECONDS = 0.2
BACKOFF_CAP_SECONDS = 2.0
BROKE_OFF = "The travel assistant's answer broke off. Please try again."
# The upstream's body is read as it arrives, at most this much at a time, with a turn of the event loop after
# each read: a read returns what has come (whatever the framing: chunked, or a body that ends when the
# connection closes), never waits to fill the piece.
READ_CHUNK_BYTES = 16 * 1024
# Bytes of a body (or of one stream line) per character of MAX_REPLY_CHARS: JSON may escape a character as
# \uXXXX, or two of them for one outside the BMP; plus room for the envelope around the text.
BYTES_PER_CHAR = 12
ENVELOPE_BYTES = 64 * 1024


class OpenAIAgent:
    """``POST {OPENAI_BASE_URL}/chat/completions`` with the system prompt, the history and the new message.

    ``upstream`` is "primary" (OPENAI_BASE_URL, OPENAI_MODEL, OPENAI_API_KEY) or "fallback" (the OPENAI_FALLBACK_
    trio): the same client, limits and budget either way, with its own breaker and metrics label."""

    def __init__(self, settings: Settings, breaker: CircuitBreaker, upstream: str = "primary") -> None:
        fallback = upstream == "fallback"
        base_url = settings.openai_fallback_base_url if fallback else settings.openai_base_url
        assert base_url is not None
        api_key = settings.openai_fallback_api_key if fallback else settings.openai_api_key
        self.upstream = upstream
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = (settings.openai_fallback_model if fallback else None) or settings.openai_model
        self.stream_usage = settings.openai_stream_usage
        self.recent = RecentCalls()
        self._trial_holder = _TRIAL_HOLDERS[upstream]
        self.max_retries = settings.openai_max_retries
        self.connect_timeout = settings.openai_connect_timeout_seconds
        self.default_budget = settings.chat_timeout_seconds
        self.max_reply_chars = settings.max_reply_chars
        self.max_body_bytes = settings.max_reply_chars * BYTES_PER_CHAR + ENVELOPE_BYTES
        self.breaker = breaker
        self.session = requests.Session()
        # urllib3's own retries are off: ours below know the budget, the back-off and the breaker. The pool keeps
        # as many connections as the worker admits requests: a smaller one makes every chat past it open a new
        # connection (a TLS handshake to a real upstream) and log a warning as it throws it away (the capacity
        # benchmark, docs/PERFORMANCE.md). Connections are opened on demand, so an idle worker holds few.
        adapter = SmallBufferAdapter(pool_connections=1, pool_maxsize=settings.max_in_flight, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        # requests' "Accept: */*" and "Connection: keep-alive" say what HTTP/1.1 assumes anyway; every header is
        # kept twice (requests' and urllib3's copy) while a chat waits on the model.
        for name in ("Accept", "Connection"):
            self.session.headers.pop(name, None)
        if api_key:
            self.session.headers["Authorization"] = f"Bearer {api_key}"

    def reply(self, history: Sequence[Turn], message: str) -> str:
        call = UpstreamCall(self.upstream, self.recent, self.model)
        try:
            content = self._reply(history, message, call)
        except BaseException as exc:
            call.finish(outcome_of(exc))
            raise
        call.text_arrived()  # a send's first text is its whole answer
        call.finish("ok")
        return content

    def _reply(self, history: Sequence[Turn], message: str, call: UpstreamCall) -> str:
        # Streamed at the HTTP level even though the completion is not: the body is read here, bounded.
        with closing(self._post(self._payload(history, message, stream=False), stream=True)) as response:
            body = self._read_body(response)
            try:
                completion = json.loads(body)
                content = completion["choices"][0]["message"]["content"]
            except (ValueError, LookupError, TypeError) as exc:
                raise self._broken("the answer was not a chat completion", exc) from exc
        if not isinstance(content, str):
            raise self._broken("the answer had no text", None)
        if len(content) > self.max_reply_chars:
            raise self._too_long()
        call.used(completion.get("usage") if isinstance(completion, dict) else None)
        return content  # verbatim: the upstream's text is the reply

    def stream(self, history: Sequence[Turn], message: str) -> Iterator[str]:
        """The reply's text pieces as the upstream streams them. Retries happen only before the first piece."""
        call = UpstreamCall(self.upstream, self.recent, self.model)
        try:
            response = self._post(self._payload(history, message, stream=True), stream=True)
            with closing(response):
                for piece in self._deltas(response, call):
                    call.text_arrived()
                    yield piece
        except BaseException as exc:
            call.finish(outcome_of(exc))
            raise
        call.finish("ok")

    def check_available(self) -> None:
        """Refuse at once while the circuit is open. After its cool-down the first turn to ask takes the trial
        here, before it stores anything: otherwise every turn arriving until one reached the upstream would
        pass this check, store its question, and only then be refused."""
        holder = request_context.request_id()
        if holder is not None and self._trial_holder.get() == holder:
            return  # this request already holds the trial (a keyed send asks twice)
        if not self.breaker.allow():
            raise CircuitOpen(retry_after=self.breaker.retry_after())
        if self.breaker.state is not State.CLOSED:
            self._trial_holder.set(holder)  # allowed while not closed: this turn is the trial

    def close(self) -> None:
        self.session.close()

    # -- the request --------------------------------------------------------------------------------------

    def _payload(self, history: Sequence[Turn], message: str, *, stream: bool) -> dict[str, Any]:
        messages = [{"role": "system", "content": SYSTEM_PROMPT}]
        messages += [{"role": turn.role, "content": turn.content} for turn in history]
        messages.append({"role": "user", "content": message})
        payload: dict[str, Any] = {"model": self.model, "messages": messages, "stream": stream}
        if stream and self.stream_usage:
            payload["stream_options"] = {"include_usage": True}  # a last event with the token counts
        return payload

    def _post(self, payload: dict[str, Any], *, stream: bool) -> requests.Response:
        """One call, retried on 429, 5xx and connection failures while attempts and the budget remain."""
        attempt = 0
        holder = request_context.request_id()
        while True:
            holds_trial = attempt == 0 and holder is not None and self._trial_holder.get() == holder
            if not holds_trial and not self.breaker.allow():
                raise CircuitOpen(retry_after=self.breaker.retry_after())
            try:
                return self._attempt(payload, stream, require_time(self.default_budget))
            except _Retryable as retry:
                attempt += 1
                wait = max(retry.wait, _backoff(attempt))
                left = time_left()
                if attempt > self.max_retries or (left is not None and wait + MIN_CALL_SECONDS >= left):
                    raise retry.error from None  # out of attempts or of time: the mapped status, not a 504
                if self.breaker.refusing():
                    # This failure opened the circuit (or it was a failed trial): a retry after the back-off
                    # would only be refused, so answer now instead of sleeping first.
                    raise AgentUnavailable(retry_after=self.breaker.retry_after()) from None
            log.info("model upstream: retrying in %.2f s (attempt %d of %d)", wait, attempt + 1, self.max_retries + 1)
            waiting.sleep(wait)  # a stream waiting inline keeps sending its heartbeats

    def _attempt(self, payload: dict[str, Any], stream: bool, budget: float) -> requests.Response:
        """The response when usable; ``_Retryable`` for what another attempt may cure; else the mapped error."""
        # Connecting cannot send heartbeats: a stream waiting inline sends the one that would fall due meanwhile.
        waiting.beat_if_due_within(min(self.connect_timeout, budget))
        try:
            response = self.session.post(
                self.url, json=payload, stream=stream, timeout=(min(self.connect_timeout, budget), budget)
            )
        except requests.ReadTimeout as exc:
            raise self._hung(exc) from exc
        except requests.ConnectionError as exc:  # refused, reset, DNS, or ConnectTimeout
            self.breaker.record_failure()
            log.warning("model upstream unreachable: %s", type(exc).__name__)
            raise _Retryable(AgentUnavailable("The travel assistant is unreachable. Please retry shortly.")) from exc
        status = response.status_code
        if status < 400:
            self.breaker.record_success()
            return response
        wait = _retry_after(response)
        response.close()
        log.warning("model upstream answered %s", status)
        retry_after = max(1, math.ceil(wait or 2))
        if status == 429:  # alive but rationing: back off, and tell the client when to come back
            self.breaker.record_success()
            raise _Retryable(
                AgentUnavailable("The travel assistant is busy. Please retry shortly.", retry_after=retry_after), wait
            )
        if status >= 500:
            self.breaker.record_failure()
            raise _Retryable(AgentUnavailable(retry_after=retry_after) if status == 503 else AgentError(), wait)
        self.breaker.record_success()  # it answered; our request was wrong (key, model, URL): do not retry
        raise UpstreamRefused()

    # -- the stream ---------------------------------------------------------------------------------------

    def _chunks(self, response: requests.Response) -> Iterator[bytes]:
        """The body as it arrives, turning the event loop after every piece and keeping to the budget.

        gevent switches greenlets only when a read would block: an upstream that sends as fast as the socket
        allows keeps it readable, and without the explicit turn this greenlet would hold the worker (every other
        request, /health/live, the budget's timers) for as long as the upstream kept sending.

        ``read1``, not requests' ``iter_content``: that fills each piece before handing it on, so a body without
        chunked framing (it ends when the upstream closes the connection: legal HTTP, and what some servers and
        proxies send) reached the client 16 KiB at a time, seconds after each word arrived.
        """
        raw = response.raw
        while True:
            try:
                chunk = raw.read1(READ_CHUNK_BYTES, decode_content=True)
            except ProtocolError as exc:  # as requests' iter_content reports them, for the callers below
                raise requests.exceptions.ChunkedEncodingError(exc) from exc
            except ReadTimeoutError as exc:
                raise requests.ConnectionError(exc) from exc
            except DecodeError as exc:
                raise requests.exceptions.ContentDecodingError(exc) from exc
            except Urllib3SSLError as exc:
                raise requests.exceptions.SSLError(exc) from exc
            if not chunk:
                return
            yield chunk
            time.sleep(0)  # gevent.sleep(0) once patched: let the loop run
            left = time_left()
            if left is not None and left <= 0:
                # Whoever waits for this answer has given up (the request answered 504): stop reading.
                raise self._hung(TimeoutError("the upstream was still sending at the deadline"))

    def _read_body(self, response: requests.Response) -> bytes:
        body = bytearray()
        try:
            for chunk in self._chunks(response):
                body += chunk
                if len(body) > self.max_body_bytes:
                    raise self._too_long()
        except requests.RequestException as exc:
            raise self._broken("the answer broke off", exc, BROKE_OFF) from exc
        return bytes(body)

    def _lines(self, response: requests.Response) -> Iterator[bytes]:
        """The stream's lines; a line longer than any answer allowed could be (no newline ever) is refused."""
        pending = b""
        for chunk in self._chunks(response):
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                yield line.rstrip(b"\r")
            if len(pending) > self.max_body_bytes:
                raise self._too_long()
        if pending:
            yield pending.rstrip(b"\r")

    def _deltas(self, response: requests.Response, call: UpstreamCall) -> Iterator[str]:
        finished = False
        length = 0
        try:
            for line in self._lines(response):
                if not line.startswith(b"data:"):
                    continue  # blank separators, comments, event names
                data = line[len(b"data:") :].strip()
                if data == b"[DONE]":
                    return
                content, done = self._delta(data, call)
                finished = finished or done
                length += len(content)
                if length > self.max_reply_chars:
                    raise self._too_long()
                if content:
                    yield content
        except requests.ConnectionError as exc:
            if exc.args and isinstance(exc.args[0], ReadTimeoutError):  # how requests reports a body read timeout
                raise self._hung(exc) from exc
            raise self._broken("the stream broke off", exc, BROKE_OFF) from exc
        except requests.RequestException as exc:  # ChunkedEncodingError: the connection dropped mid-body
            raise self._broken("the stream broke off", exc, BROKE_OFF) from exc
        if not finished:  # some servers end with a finish_reason and no [DONE]; ending with neither is a break
            raise self._broken("the stream ended before the answer did", None, BROKE_OFF)

    def _delta(self, data: bytes, call: UpstreamCall) -> tuple[str, bool]:
        try:
            event = json.loads(data)
            if event.get("usage"):  # the last event, with stream_options.include_usage
                call.used(event["usage"])
            choices = event.get("choices") or [{}]  # a usage-only event has none
            content = choices[0].get("delta", {}).get("content") or ""
            finished = bool(choices[0].get("finish_reason"))
        except (ValueError, AttributeError, LookupError) as exc:
            raise self._broken("a stream event was not a chat completion chunk", exc) from exc
        if not isinstance(content, str):
            raise self._broken("a stream event had no text", None)
        return content, finished

    # -- failures -----------------------------------------------------------------------------------------

    def _hung(self, exc: BaseException) -> BudgetExceeded:
        """The upstream said nothing for the rest of the budget (its read timeout)."""
        self.breaker.record_failure()
        log.warning("model upstream timed out with the request's budget: %s", type(exc).__name__)
        return BudgetExceeded()

    def _too_long(self) -> ReplyTooLong:
        # Not counted by the breaker: the upstream is up, and one runaway answer says nothing about the next.
        log.warning("model upstream answer longer than MAX_REPLY_CHARS (%d): turn failed", self.max_reply_chars)
        return ReplyTooLong()

    def _broken(self, what: str, exc: BaseException | None, message: str | None = None) -> AgentError:
        self.breaker.record_failure()
        log.warning("model upstream answer unusable: %s (%s)", what, type(exc).__name__ if exc else "-")
        return AgentError(message)


class _Retryable(Exception):
    """An attempt failed in a way another attempt may cure; ``error`` is what to raise if none follows."""

    def __init__(self, error: AgentError, wait: float | None = None) -> None:
        super().__init__(error.message)
        self.error = error
        self.wait = wait or 0.0


def _backoff(attempt: int) -> float:
    """Exponential back-off with jitter (half fixed, half random), so retrying workers do not stampede."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (attempt - 1))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def _retry_after(response: requests.Response) -> float | None:
    """The upstream's Retry-After in seconds (OpenAI also sends retry-after-ms); None when absent or a date."""
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        raw = response.headers.get(name)
        if raw:
            try:
                seconds = float(raw) / scale
            except ValueError:
                continue  # an HTTP date: rare from model servers, and our own back-off still applies
            if math.isfinite(seconds):  # float() also reads "inf" and "nan", and math.ceil(inf) raises
                return max(0.0, seconds)
    return None
