"""Raw HTTP/1.1 over a socket: send exactly these bytes (all at once, trickled, or half-closed), read what comes."""

from __future__ import annotations

import re
import socket
import time
from dataclasses import dataclass, field

STATUS = re.compile(rb"^HTTP/1\.[01] (\d{3})", re.MULTILINE)


@dataclass
class Exchange:
    """What came back: the statuses of the responses in order, the raw bytes, and how the connection ended."""

    statuses: list[int] = field(default_factory=list)
    raw: bytes = b""
    closed: bool = False  # the server closed the connection
    held: bool = False  # still open and silent when we gave up waiting
    reset: bool = False  # the server reset the connection
    seconds: float = 0.0

    @property
    def body(self) -> bytes:
        return self.raw.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in self.raw else b""

    def describe(self) -> str:
        how = "reset" if self.reset else "closed" if self.closed else "held" if self.held else "open"
        return f"{self.statuses or 'no response'} then {how} after {self.seconds:.2f}s"


def exchange(
    port: int,
    data: bytes,
    *,
    trickle: float = 0.0,
    trickle_bytes: int = 1,
    half_close: bool = False,
    wait: float = 5.0,
    send_for: float | None = None,
) -> Exchange:
    """Send ``data`` to 127.0.0.1:``port`` and read until the server closes or ``wait`` seconds pass in silence.

    ``trickle``: pause between pieces of ``trickle_bytes`` (a slow sender), for at most ``send_for`` seconds (the
    rest is never sent). ``half_close``: shut our side for writing after sending, as a client whose body ended.
    """
    started = time.monotonic()
    result = Exchange()
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        try:
            _send(sock, data, trickle, trickle_bytes, send_for, started)
            if half_close:
                sock.shutdown(socket.SHUT_WR)
            result.raw, result.closed, result.held = _read(sock, wait)
        except ConnectionResetError:
            result.reset = True
        except BrokenPipeError:
            result.closed = True  # it hung up on us while we were still sending
            result.raw, result.closed, result.held = _read(sock, 0.5)
    result.statuses = [int(code) for code in STATUS.findall(result.raw)]
    result.seconds = time.monotonic() - started
    return result


def _send(sock: socket.socket, data: bytes, trickle: float, size: int, send_for: float | None, started: float) -> None:
    if trickle <= 0:
        sock.sendall(data)
        return
    for offset in range(0, len(data), size):
        if send_for is not None and time.monotonic() - started > send_for:
            return
        sock.sendall(data[offset : offset + size])
        time.sleep(trickle)


def _read(sock: socket.socket, wait: float) -> tuple[bytes, bool, bool]:
    """(bytes read, closed by the server, silent for ``wait`` seconds)."""
    chunks = []
    sock.settimeout(wait)
    while True:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            return b"".join(chunks), False, True
        except ConnectionResetError:
            return b"".join(chunks), True, False
        if not chunk:
            return b"".join(chunks), True, False
        chunks.append(chunk)


def request(
    method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None, *, length: bool = True
) -> bytes:
    """A well-formed request (Connection: close), to be spoiled by the caller as needed."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    all_headers = {"Content-Type": "application/json"} if body else {}
    all_headers |= headers or {}
    if body and length:
        all_headers.setdefault("Content-Length", str(len(body)))
    lines += [f"{name}: {value}" for name, value in all_headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
