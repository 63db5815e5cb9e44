"""A real OpenAI-compatible chat-completions server for tests: echoes, or is slow, failing, hanging or breaking on cue.

Runs on real OS threads (``ThreadingHTTPServer``), so it serves many slow requests at once in a test process that
gevent has not monkey-patched; it uses only the standard library so it can also run as its own process:
``python -m tools.harness.upstream --port 0 --delay 1`` prints its base URL as the first line of stdout.
"""

from __future__ import annotations

import argparse
import signal
import socket
import sys
import threading
import time
from collections import deque
from http.server import ThreadingHTTPServer
from pathlib import Path
from socketserver import TCPServer
from typing import Any

if not __package__:  # run as a script (``python tools/harness/upstream.py``): make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tools.harness.upstream_http import (
    CHAT_PATH,
    DEFAULT_MODEL,
    FRAMINGS,
    MODES,
    Handler,
    Headers,
    Plan,
    hard_close,
    split_words,
)

__all__ = ["CHAT_PATH", "DEFAULT_MODEL", "FRAMINGS", "MODES", "Headers", "UpstreamServer", "split_words"]


class _Setting:
    """An attribute of UpstreamServer that reads and writes its settings under the lock."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, server: UpstreamServer | None, owner: type | None = None) -> Any:
        return self if server is None else server._get(self.name)

    def __set__(self, server: UpstreamServer, value: Any) -> None:
        server.configure(**{self.name: value})


class UpstreamServer:
    """``POST /v1/chat/completions`` on 127.0.0.1; every knob may be changed from any thread while it serves.

    ``mode``: "echo" answers ``"echo: " + last user message``; "hang" accepts and never answers until the mode
    changes or the server stops; "stream_break" sends ``break_after`` stream chunks, then drops the connection.
    ``delay`` is slept before answering, ``chunk_delay`` between stream chunks; ``fail_status`` fails every
    request, ``fail_next`` only the next few.
    Hostile modes, for a broken or malicious upstream: "huge" answers a completion of ``huge_chars`` characters
    (streamed: in one chunk event); "flood" streams valid chunk events with empty content without end, as fast
    as the socket takes them, "flood_text" the same with one character of content each; "endless_line" sends
    ``data: `` and then bytes without ever a newline. The endless ones stop when the client goes away.
    "drip" sends a whole answer, status line and headers included, one byte every ``chunk_delay`` seconds (0.1
    when unset), so that no read of the client's ever waits long enough for its socket timeout; it stops when
    the client goes away.
    ``framing`` "close" streams without chunked framing, closing the connection at the end (see FRAMINGS).
    ``requests`` records every request as {method, path, headers, json}.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        mode: str = "echo",
        delay: float = 0.0,
        chunk_delay: float = 0.0,
        break_after: int = 2,
        fail_status: int | None = None,
        retry_after: float | None = None,
        huge_chars: int = 17_000_000,
        framing: str = "chunked",
    ) -> None:
        self._address = (host, port)
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._server: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: dict[socket.socket, threading.Thread] = {}
        self._requests: list[dict[str, Any]] = []
        self._failures: deque[tuple[int, float | None]] = deque()
        self._in_flight = 0
        self._sequence = 0
        self._settings: dict[str, Any] = {}
        self.configure(
            mode=mode,
            delay=delay,
            chunk_delay=chunk_delay,
            break_after=break_after,
            fail_status=fail_status,
            retry_after=retry_after,
            huge_chars=huge_chars,
            framing=framing,
        )

    # -- lifecycle ------------------------------------------------------------------------------------------

    def start(self) -> UpstreamServer:
        with self._cond:
            if self._server is not None:
                return self
            self._stopping.clear()
            self._server = _HTTPServer(self, self._address)
            # A later start() (after stop(): a killed upstream coming back) listens on the same address.
            self._address = (self._address[0], int(self._server.server_address[1]))
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="upstream", daemon=True
            )
            self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        """Stop at once: hanging and delayed requests are dropped, open connections closed, threads joined (bounded)."""
        with self._cond:
            server, thread = self._server, self._thread
            if server is None or thread is None:
                return
            self._server = self._thread = None
            self._stopping.set()
            self._cond.notify_all()
            connections = dict(self._connections)
        server.shutdown()
        server.server_close()
        for conn in connections:
            hard_close(conn)  # wakes handler threads blocked reading a kept-alive connection
        deadline = time.monotonic() + timeout
        for worker in [thread, *connections.values()]:
            worker.join(max(0.0, deadline - time.monotonic()))

    def __enter__(self) -> UpstreamServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        server = self._server
        if server is None:
            raise RuntimeError("UpstreamServer is not running; call start() first")
        return int(server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self._address[0]}:{self.port}"

    @property
    def base_url(self) -> str:
        """What an OpenAI client takes as its base URL, e.g. ``http://127.0.0.1:51234/v1``."""
        return f"{self.url}/v1"

    # -- behaviour ------------------------------------------------------------------------------------------

    def configure(self, **changes: Any) -> None:
        """Change several settings at once (mode, delay, chunk_delay, break_after, fail_status, retry_after)."""
        unknown = set(changes) - {
            "mode",
            "delay",
            "chunk_delay",
            "break_after",
            "fail_status",
            "retry_after",
            "huge_chars",
            "framing",
        }
        if unknown:
            raise TypeError(f"unknown upstream settings: {sorted(unknown)}")
        if changes.get("mode", "echo") not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {changes['mode']!r}")
        if changes.get("framing", "chunked") not in FRAMINGS:
            raise ValueError(f"framing must be one of {FRAMINGS}, not {changes['framing']!r}")
        with self._cond:
            self._settings.update(changes)
            self._cond.notify_all()  # a hanging request re-reads the mode

    def fail_next(self, status: int, n: int = 1, *, retry_after: float | None = None) -> None:
        """Answer the next ``n`` requests with ``status`` and an OpenAI-style error body, then behave as before."""
        with self._cond:
            self._failures.extend([(status, retry_after)] * n)

    def reset(self) -> None:
        """Back to a plain, fast echo server; the request log is kept (see ``clear_requests``)."""
        with self._cond:
            self._failures.clear()
        self.configure(
            mode="echo",
            delay=0.0,
            chunk_delay=0.0,
            break_after=2,
            fail_status=None,
            retry_after=None,
            huge_chars=17_000_000,
            framing="chunked",
        )

    mode = _Setting()
    delay = _Setting()
    chunk_delay = _Setting()
    break_after = _Setting()
    fail_status = _Setting()
    retry_after = _Setting()
    huge_chars = _Setting()
    framing = _Setting()

    def _get(self, name: str) -> Any:
        with self._cond:
            return self._settings[name]

    # -- observation ----------------------------------------------------------------------------------------

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Every request so far, oldest first: {"method", "path", "headers" (case-insensitive), "json"}."""
        with self._cond:
            return list(self._requests)

    @property
    def in_flight(self) -> int:
        """Chat requests received and not yet answered (hanging ones included)."""
        with self._cond:
            return self._in_flight

    def clear_requests(self) -> None:
        with self._cond:
            self._requests.clear()

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Block until at least ``count`` requests were received; TimeoutError after ``timeout`` seconds."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._requests) >= count, timeout):
                raise TimeoutError(f"upstream saw {len(self._requests)} requests, not {count}, within {timeout}s")
            return list(self._requests)

    # -- used by the handler threads ------------------------------------------------------------------------

    def _track(self, conn: socket.socket) -> bool:
        with self._cond:
            if self._stopping.is_set():
                return False
            self._connections[conn] = threading.current_thread()
            return True

    def _untrack(self, conn: socket.socket) -> None:
        with self._cond:
            self._connections.pop(conn, None)

    def _record(self, method: str, path: str, headers: Headers, payload: Any, *, answering: bool = False) -> int:
        # Counted in flight under the same lock as the record, so a test that saw the request also sees it pending.
        with self._cond:
            self._requests.append({"method": method, "path": path, "headers": headers, "json": payload})
            self._sequence += 1
            self._in_flight += answering
            self._cond.notify_all()
            return self._sequence

    def _wait_out_hang(self) -> bool:
        """Hold the request while the mode is "hang"; False when the server stopped meanwhile."""
        with self._cond:
            while self._settings["mode"] == "hang" and not self._stopping.is_set():
                self._cond.wait()
            return not self._stopping.is_set()

    def _end(self) -> None:
        with self._cond:
            self._in_flight -= 1

    def _plan(self) -> Plan:
        with self._cond:
            status, retry_after = self._failures.popleft() if self._failures else (None, None)
            settings = self._settings
            return Plan(
                mode=settings["mode"],
                delay=settings["delay"],
                chunk_delay=settings["chunk_delay"],
                break_after=settings["break_after"],
                fail_status=status or settings["fail_status"],
                retry_after=retry_after if status else settings["retry_after"],
                huge_chars=settings["huge_chars"],
                framing=settings["framing"],
            )

    def _pause(self, seconds: float) -> bool:
        """Sleep unless the server stops first; True when the sleep ran its course."""
        return seconds <= 0 or not self._stopping.wait(seconds)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stop() wakes handler threads and joins them with a bound of its own
    request_queue_size = 256  # the default backlog of 5 turns a burst of 60 connects into SYN retries
    allow_reuse_address = True

    def __init__(self, owner: UpstreamServer, address: tuple[str, int]) -> None:
        self.owner = owner
        super().__init__(address, Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks up the host's FQDN, which can stall for seconds without DNS.
        TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), int(self.server_address[1])

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], OSError):
            return  # clients that give up or time out mid-answer are what these tests provoke
        super().handle_error(request, client_address)


def _room_for_held_requests() -> None:
    """As its own process the upstream may hold thousands of slow requests (the held-chats benchmark): a thread
    and a socket each. Raise the open-files soft limit to the hard one, and give each thread a small stack
    (a handler needs little; the default 8 MiB each would reserve 16 GiB of address space for 2,000)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = 65536 if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    threading.stack_size(512 * 1024)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve a test OpenAI-compatible chat-completions upstream.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--mode", choices=MODES, default="echo")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--chunk-delay", type=float, default=0.0, help="seconds between stream chunks")
    parser.add_argument("--fail-status", type=int, default=None, help="answer every request with this status")
    parser.add_argument("--retry-after", type=float, default=None, help="Retry-After seconds on 429/503")
    parser.add_argument("--backlog", type=int, default=_HTTPServer.request_queue_size, help="listen backlog")
    args = parser.parse_args(argv)
    _HTTPServer.request_queue_size = args.backlog
    _room_for_held_requests()
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    server = UpstreamServer(
        args.host,
        args.port,
        mode=args.mode,
        delay=args.delay,
        chunk_delay=args.chunk_delay,
        fail_status=args.fail_status,
        retry_after=args.retry_after,
    ).start()
    print(server.base_url, flush=True)  # the one line a parent process reads to find the server
    while not stop.wait(0.5):
        pass
    server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
