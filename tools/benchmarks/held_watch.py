"""What ``held_bench`` watches while chats are held: each chat's outcome (``Held``, ``Tally``) and the worker
seen from outside (``Probe``: liveness latency, in-flight count, RSS, open files)."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.benchmarks import machine
from tools.benchmarks.conversation import MESSAGES

PATHS = {"stream": "/api/chat/stream", "send": "/api/chat/send"}


@dataclass
class Held:
    """One chat as the client saw it."""

    status: int = 0  # 0: no answer (connection failed), -1: gave up
    started: float = 0.0
    ended: float = 0.0
    outcome: str = ""  # stream: "done" or "error"; send: "" (the status says it)
    heartbeats: int = 0
    max_gap: float = 0.0  # the longest silence of a stream after its start event, seconds


class Tally:
    def __init__(self) -> None:
        self.open = 0  # chats sent and not yet answered (or, for streams, not yet ended)
        self.first_end: float | None = None


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers


async def _chunks(reader: asyncio.StreamReader):  # type: ignore[no-untyped-def]
    while True:
        size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
        if size == 0:
            await reader.readline()
            return
        data = await reader.readexactly(size)
        await reader.readline()
        yield data


async def hold_one(port: int, kind: str, index: int, timeout: float, tally: Tally) -> Held:
    held = Held(started=time.monotonic())
    body = json.dumps({"message": MESSAGES[index % len(MESSAGES)]}).encode()
    request = (
        f"POST {PATHS[kind]} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body
    writer = None
    tally.open += 1
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(request)
            await writer.drain()
            held.status, headers = await _read_head(reader)
            if kind == "send" or held.status != 200 or "chunked" not in headers.get("transfer-encoding", ""):
                await reader.read()  # Connection: close, so the body ends with the connection
            else:
                last = None
                pending = b""
                async for data in _chunks(reader):
                    now = time.monotonic()
                    pending += data
                    *events, pending = pending.split(b"\n\n")
                    for event in events:
                        if event.startswith(b": heartbeat"):
                            held.heartbeats += 1
                        elif b"event: done\n" in event:  # after its "id:" line
                            held.outcome = "done"
                        elif b"event: error\n" in event:
                            held.outcome = "error"
                    if last is not None:
                        held.max_gap = max(held.max_gap, now - last)
                    last = now
    except TimeoutError:
        held.status = -1
    except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
        held.status = held.status or 0
    finally:
        tally.open -= 1
        held.ended = time.monotonic()
        if tally.first_end is None and held.status == 200:
            tally.first_end = held.ended  # the model's first answer: the chats stop piling up
        if writer is not None:
            writer.close()
    return held


@dataclass
class Probe:
    at: float
    latency: float | None  # None: no 200
    in_flight: int | None
    rss: int | None
    client_open: int


async def probe_loop(port: int, pid: int, every: float, tally: Tally, stop: asyncio.Event) -> list[Probe]:
    """``GET /health/live`` on a fresh connection each time (as an orchestrator's probe comes), timed from
    connect() to the last byte; the worker's RSS read alongside."""
    probes: list[Probe] = []
    request = f"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode()
    while not stop.is_set():
        started = time.monotonic()
        rss = machine.rss_bytes(pid)
        latency = in_flight = None
        writer = None
        try:
            async with asyncio.timeout(10):
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(request)
                await writer.drain()
                status, _ = await _read_head(reader)
                data = await reader.read()
            if status == 200:
                latency = time.monotonic() - started
                count = json.loads(data).get("in_flight")
                in_flight = count - 1 if isinstance(count, int) else None  # not the probe itself
        except (TimeoutError, OSError, ValueError, asyncio.IncompleteReadError):
            pass
        finally:
            if writer is not None:
                writer.close()
        probes.append(Probe(started, latency, in_flight, rss, tally.open))
        try:
            await asyncio.wait_for(stop.wait(), max(0.0, every - (time.monotonic() - started)))
        except TimeoutError:
            pass
    return probes


async def get_json(port: int, path: str) -> Any:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        await _read_head(reader)
        return json.loads(await reader.read())
    finally:
        writer.close()


def fd_count(pid: int) -> int | None:
    try:
        return len(list(Path(f"/proc/{pid}/fd").iterdir()))
    except OSError:
        return None


def soft_nofile(pid: int) -> str | None:
    try:
        for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
            if line.startswith("Max open files"):
                return line.split()[3]
    except OSError:
        return None
    return None
