"""Polls a worker while a load runs: its RSS from /proc and its in-flight count from /health/live."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from tools.benchmarks import machine, pyload


class Sampler:
    """Polls the worker's RSS and its in-flight count (/health/live) until stopped."""

    def __init__(self, port: int, pid: int, every: float = 0.25) -> None:
        self.port, self.pid, self.every = port, pid, every
        self.rss: list[tuple[float, int]] = []  # (monotonic time, bytes)
        self.in_flight: list[int] = []
        self.probe_latency: list[float] = []
        self._stop = asyncio.Event()

    async def run(self) -> None:
        conn = pyload.Connection(self.port)
        try:
            while not self._stop.is_set():
                rss = machine.rss_bytes(self.pid)
                if rss is not None:
                    self.rss.append((time.monotonic(), rss))
                sample, response = await pyload.timed(conn, "GET", "/health/live", timeout=5.0)
                if response is not None and response.status == 200:
                    self.probe_latency.append(sample.latency)
                    count = response.json().get("in_flight")
                    if isinstance(count, int):
                        self.in_flight.append(count - 1)  # not counting the probe itself
                try:
                    await asyncio.wait_for(self._stop.wait(), self.every)
                except TimeoutError:
                    pass
        finally:
            await conn.close()

    def stop(self) -> None:
        self._stop.set()


async def with_sampler(
    port: int, pid: int, work: Callable[[], Awaitable[Any]], every: float = 0.25
) -> tuple[Any, Sampler]:
    """Run ``work`` while a Sampler polls the worker; returns what ``work`` returned, and the sampler."""
    sampler = Sampler(port, pid, every)
    task = asyncio.create_task(sampler.run())
    try:
        return await work(), sampler
    finally:
        sampler.stop()
        await task
