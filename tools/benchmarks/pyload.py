"""A small HTTP/1.1 client on asyncio for the loads wrk cannot express: multi-turn chats whose statuses and
latencies are all kept, thousands of slow requests held open at once, and open-loop arrivals at a fixed rate."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from tools.benchmarks.stats import Sample

NO_RESPONSE, GAVE_UP = 0, -1


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Connection:
    """One keep-alive connection to 127.0.0.1:port; reconnects when the server closed it between requests."""

    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.host, self.port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            try:
                await writer.wait_closed()
            except OSError:
                pass  # the server reset it first: it is closed either way

    async def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> Response:
        data = b"" if body is None else json.dumps(body).encode()
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}", f"Content-Length: {len(data)}"]
        if body is not None:
            lines.append("Content-Type: application/json")
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        raw = ("\r\n".join(lines) + "\r\n\r\n").encode() + data
        reused = self._writer is not None
        try:
            return await self._exchange(raw)
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            await self.close()
            # A kept-alive connection the server closed while idle fails before it reads our request: nothing
            # was processed, so sending it once more on a fresh connection is safe. A fresh one failing is real.
            if not reused or (isinstance(exc, asyncio.IncompleteReadError) and exc.partial):
                raise
            return await self._exchange(raw)

    async def _exchange(self, raw: bytes) -> Response:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        assert self._reader is not None
        self._writer.write(raw)
        await self._writer.drain()
        head = await self._reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split()[1])
        headers = {}
        for line in header_lines:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = await self._read_chunked()
        else:
            body = await self._reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return Response(status, headers, body)

    async def _read_chunked(self) -> bytes:
        assert self._reader is not None
        parts = []
        while True:
            size = int((await self._reader.readline()).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                await self._reader.readline()
                return b"".join(parts)
            parts.append(await self._reader.readexactly(size))
            await self._reader.readline()


async def timed(
    conn: Connection,
    method: str,
    path: str,
    body: Any = None,
    timeout: float = 120.0,
    headers: dict[str, str] | None = None,
) -> tuple[Sample, Response | None]:
    """The request as a Sample (status 0 for a broken connection, -1 when ``timeout`` ran out)."""
    start = time.monotonic()
    try:
        response = await asyncio.wait_for(conn.request(method, path, body, headers), timeout)
    except TimeoutError:
        await conn.close()
        return Sample(start, time.monotonic(), GAVE_UP), None
    except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
        await conn.close()
        return Sample(start, time.monotonic(), NO_RESPONSE), None
    return Sample(start, time.monotonic(), response.status), response


@dataclass
class Recorder:
    """Samples of a run that ended between ``measure_from`` and ``measure_until`` (the warm-up is dropped):
    the completions in a window, which is what a throughput is, even when requests last longer than it."""

    measure_from: float
    measure_until: float
    samples: list[Sample] = field(default_factory=list)

    def add(self, sample: Sample) -> None:
        if self.measure_from <= sample.end <= self.measure_until:
            self.samples.append(sample)


Client = Callable[[Connection, Recorder, float], Awaitable[None]]


async def closed_loop(
    port: int, clients: int, client: Client, duration: float, warmup: float, stagger: float = 0.0
) -> Recorder:
    """``clients`` concurrent clients, each on its own connection, running ``client`` until the end time.

    ``stagger``: the clients start spread evenly over that many seconds, so that requests of equal length do
    not arrive in lockstep bursts (independent users do not); keep the warm-up longer than it.
    """
    now = time.monotonic()
    recorder = Recorder(now + warmup, now + warmup + duration)

    async def one(index: int) -> None:
        if stagger:
            await asyncio.sleep(stagger * index / clients)
        conn = Connection(port)
        try:
            await client(conn, recorder, recorder.measure_until)
        finally:
            await conn.close()

    await asyncio.gather(*(one(i) for i in range(clients)))
    return recorder


async def open_loop(
    port: int, rate: float, duration: float, send: Callable[[Connection], Awaitable[Sample]], max_open: int
) -> list[Sample]:
    """Requests arriving at ``rate`` per second for ``duration`` seconds, each on a new connection, whether or
    not earlier ones have been answered (as independent users arrive); at most ``max_open`` at once."""
    samples: list[Sample] = []
    limit = asyncio.Semaphore(max_open)
    start = time.monotonic()
    total = int(rate * duration)

    async def one() -> None:
        conn = Connection(port)
        try:
            samples.append(await send(conn))
        finally:
            await conn.close()
            limit.release()

    tasks = []
    for i in range(total):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        await limit.acquire()
        tasks.append(asyncio.create_task(one()))
    await asyncio.gather(*tasks)
    return samples


def simple_client(method: str, path: str) -> Client:
    """A client that sends the same request back to back (the Python stand-in for wrk on a bare GET)."""

    async def run(conn: Connection, recorder: Recorder, until: float) -> None:
        while time.monotonic() < until:
            sample, _ = await timed(conn, method, path, timeout=10.0)
            recorder.add(sample)

    return run
