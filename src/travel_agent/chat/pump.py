"""Runs the agent so that the request keeps time whatever the agent does, and a stream shows life.

Two ways, chosen per call (``detached_pieces`` for a streamed turn's runner, ``agent_text`` for a send):

* **Inline**, in a gevent worker: the request's own greenlet runs the agent, and its reads of the upstream
  wait through ``agent.waiting``, which keeps the request's deadline and writes the stream's heartbeats to the
  client while the model thinks. One greenlet per chat: a worker holds thousands of them waiting on a model.
* **Beside the request** (``ReplyPump``) elsewhere (a threaded test server, the Flask test client): the agent's
  text pieces come through a queue; while waiting, the request sends heartbeats (a stream must show life at
  least every 15 s) and gives up at its deadline even if the agent is stuck inside a read: the request answers
  504 on time, and the abandoned agent stops at its next piece or at its own socket timeout (the same budget).
"""

from __future__ import annotations

import contextvars
import logging
import queue
import threading
from collections.abc import Callable, Iterable, Iterator

from travel_agent.agent import waiting
from travel_agent.agent.budget import time_left
from travel_agent.agent.errors import crashed
from travel_agent.agent.waiting import ClientGone
from travel_agent.cooperative import gevent_patched
from travel_agent.errors import BudgetExceeded, TravelAgentError

log = logging.getLogger("travel_agent.chat.pump")

_END = object()
# Pieces the agent may run ahead of the request. Bounded, so an upstream that sends faster than the client
# reads waits (back-pressure) instead of piling its text up in the worker's memory.
QUEUE_PIECES = 64
# How often a producer blocked on a full queue looks whether the request is still listening.
OFFER_POLL_SECONDS = 0.25


class ReplyPump:
    def __init__(self, produce: Callable[[], Iterable[str]], heartbeat_seconds: float) -> None:
        self._pieces: queue.Queue[object] = queue.Queue(maxsize=QUEUE_PIECES)
        self._abandoned = threading.Event()
        self._heartbeat = heartbeat_seconds
        # A new thread or greenlet starts with empty context variables: copy the request's, so the agent
        # sees its deadline (for its socket timeouts) and its log lines carry the request id.
        context = contextvars.copy_context()
        if gevent_patched():
            # A bare greenlet: a patched Thread adds a Thread object, its Events and locks and a tracked
            # Greenlet to each of the thousands of chats a worker holds (docs/PERFORMANCE.md, "Held streams").
            import gevent

            gevent.spawn_raw(context.run, self._run, produce)
        else:
            threading.Thread(target=context.run, args=(self._run, produce), name="reply-pump", daemon=True).start()

    def _run(self, produce: Callable[[], Iterable[str]]) -> None:
        try:
            pieces = iter(produce())
            try:
                for piece in pieces:
                    if not self._offer(piece):
                        return  # nobody is listening any more: stop reading the upstream
            finally:
                close = getattr(pieces, "close", None)
                if close is not None:
                    close()  # a generator closes its upstream response
        except TravelAgentError as exc:
            self._offer(exc)
        except Exception as exc:  # noqa: BLE001  (a provider's bug must end the turn with an error, not hang it)
            self._offer(crashed(exc))
        else:
            self._offer(_END)

    def _offer(self, item: object) -> bool:
        """Queue ``item``, waiting while the queue is full; False once the request stopped listening."""
        while not self._abandoned.is_set():
            try:
                self._pieces.put(item, timeout=OFFER_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def pieces(self) -> Iterator[str | None]:
        """The agent's text pieces as they come, and None each time ``heartbeat_seconds`` pass without one.
        Raises the agent's error, or BudgetExceeded when the agent's share of the budget is spent."""
        try:
            while True:
                left = time_left()
                wait = self._heartbeat if left is None else min(self._heartbeat, left)
                if wait <= 0:
                    raise BudgetExceeded()
                try:
                    piece = self._pieces.get(timeout=wait)
                except queue.Empty:
                    if left is not None and wait >= left:
                        log.warning("the agent did not finish within the request's budget")
                        raise BudgetExceeded() from None
                    yield None
                    continue
                if piece is _END:
                    return
                if isinstance(piece, TravelAgentError):
                    raise piece
                assert isinstance(piece, str)
                yield piece
        finally:
            self._abandoned.set()  # also when the client went away (GeneratorExit at a yield)

    def text(self) -> str:
        """The whole reply, within the budget."""
        return "".join(piece for piece in self.pieces() if piece is not None)


def detached_pieces(
    produce: Callable[[], Iterable[str]], heartbeat_seconds: float, beat: Callable[[], None]
) -> Iterator[str | None]:
    """A turn's text pieces for a runner that no client waits on (``chat.turns``): inline in a gevent worker,
    ``beat`` called from inside the waits every ``heartbeat_seconds`` of silence (the runner renews its lease
    there); elsewhere through the pump, whose None items the caller turns into ``beat`` calls."""
    if waiting.inline_possible():
        return _inline(produce, waiting.Wait(heartbeat_seconds, beat))
    return ReplyPump(produce, heartbeat_seconds).pieces()


def agent_text(produce: Callable[[], Iterable[str]], heartbeat_seconds: float) -> str:
    """A whole reply, within the budget."""
    if waiting.inline_possible():
        return "".join(_inline(produce, waiting.Wait()))
    return ReplyPump(produce, heartbeat_seconds).text()


def _inline(produce: Callable[[], Iterable[str]], wait: waiting.Wait) -> Iterator[str]:
    """The agent's pieces produced in this greenlet, with the pump's guarantees: the budget kept between pieces
    (and, by ``agent.waiting``, within every read of the upstream), an unexpected crash turned into a 502."""
    pieces: Iterator[str] | None = None
    try:
        with waiting.waiting(wait):
            pieces = iter(produce())
        while True:
            left = time_left()
            if left is not None and left <= 0:
                log.warning("the agent did not finish within the request's budget")
                raise BudgetExceeded()
            with waiting.waiting(wait):
                piece = next(pieces, _END)
            if piece is _END:
                return
            assert isinstance(piece, str)
            wait.sent()  # a piece reaches the client now: the next heartbeat is due a full interval later
            yield piece
    except (TravelAgentError, ClientGone):
        raise
    except Exception as exc:  # as in the pump: a provider's bug ends the turn with an error, not a 500
        raise crashed(exc) from exc
    finally:
        close = getattr(pieces, "close", None)
        if close is not None:
            close()  # a generator closes its upstream response (also when the client left)
