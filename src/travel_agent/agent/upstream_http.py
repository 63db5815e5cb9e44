"""The HTTP plumbing under the OpenAI client: requests' adapter whose connections read every upstream answer
through a small buffer, each read waiting through ``agent.waiting`` (the deadline and a stream's heartbeats).
"""

from __future__ import annotations

import http.client
import io
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from travel_agent.agent import waiting

# The buffer each upstream answer is read through. http.client gives every response io.DEFAULT_BUFFER_SIZE
# (8 KiB), allocated when the request is sent and held for the whole wait on the model: a tenth of what a
# held chat costs the worker (docs/PERFORMANCE.md, "Held streams"). Reads larger than the buffer (a big
# body's pieces) bypass it; stream lines and headers fit many to a buffer this size.
RESPONSE_BUFFER_BYTES = 1024


class _SmallBufferSocket:
    """What http.client's response sees of the socket: only ``makefile``, with a smaller buffer, whose reads
    wait through ``waiting.wait_for_bytes`` (the deadline and the heartbeats of a chat waiting inline)."""

    def __init__(self, sock: Any) -> None:
        self._sock = sock

    def makefile(self, mode: str) -> Any:
        # The socket's own raw reader underneath (it keeps the socket open until the response is closed, also
        # when http.client closes the connection first), wrapped so that every read waits for bytes first.
        return io.BufferedReader(
            _WaitingReader(self._sock, self._sock.makefile(mode, buffering=0)), RESPONSE_BUFFER_BYTES
        )


class _WaitingReader(io.RawIOBase):
    def __init__(self, sock: Any, raw: Any) -> None:
        super().__init__()
        self._sock = sock
        self._raw = raw

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        wait = waiting.active()
        if wait is None:  # the reply pump's thread or greenlet: the socket's own timeout bounds the read
            return self._raw.readinto(buffer)
        return waiting.recv_into(wait, self._sock, buffer)

    def fileno(self) -> int:
        return self._raw.fileno()

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()


class _SmallBufferResponse(http.client.HTTPResponse):
    def __init__(self, sock: Any, debuglevel: int = 0, method: str | None = None, url: str | None = None) -> None:
        super().__init__(_SmallBufferSocket(sock), debuglevel, method, url)  # type: ignore[arg-type]


class _SmallBufferHTTPConnection(HTTPConnection):
    response_class = _SmallBufferResponse


class _SmallBufferHTTPSConnection(HTTPSConnection):
    response_class = _SmallBufferResponse


class _SmallBufferHTTPPool(HTTPConnectionPool):
    ConnectionCls = _SmallBufferHTTPConnection


class _SmallBufferHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _SmallBufferHTTPSConnection


class SmallBufferAdapter(HTTPAdapter):
    """requests' adapter whose connections read answers through RESPONSE_BUFFER_BYTES."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _SmallBufferHTTPPool, "https": _SmallBufferHTTPSPool}
