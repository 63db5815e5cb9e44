"""A smoke-sized run of the held-chats benchmark (tools/benchmarks/held_bench.py, ``scripts/bench held``): one worker
with the default MAX_IN_FLIGHT and WORKER_CONNECTIONS holds 200 streams behind a slow model, each sees its
heartbeats and its answer, the worker's RSS grows by a bounded amount per stream, and /health/live (a fresh
connection every 0.2 s) is answered quickly meanwhile. The full size (2,000) is the benchmark's."""

from __future__ import annotations

import pytest

from tools.benchmarks import held_bench

# The goal for a held stream. The documented figure is about 54 KiB at 2,000 streams (docs/PERFORMANCE.md,
# "Held streams"); 200 streams gave 52.3 to 52.5 in three runs. With two greenlets per stream (the reply pump
# beside the request) the same run gave 65.3: this fails if a stream's wait leaves the request's greenlet again.
KIB_PER_STREAM_BOUND = 64
# Liveness answered at p99 within this while the streams are held, on a machine shared with other suites.
PROBE_P99_BOUND_MS = 300


@pytest.mark.slow
def test_one_worker_holds_200_streams_cheaply_and_stays_live() -> None:
    data = held_bench.run(
        held_bench.HeldOptions(chats=200, delay=6.0, rate=40.0, kinds=("stream",), heartbeat=1.0, warm=20)
    )
    (run,) = data["runs"]
    assert run["statuses"] == {"200": 200} and run["stream_outcomes"] == {"done": 200}, run
    assert run["peak_in_flight"] >= 190, run  # all held at once (a probe may miss the very top)
    assert run["heartbeats_per_stream"] >= 3 and run["max_silence_s"] < 2.5, run  # heartbeat every 1 s
    assert run["kib_per_chat_slope"] is not None and run["kib_per_chat_slope"] < KIB_PER_STREAM_BOUND, run
    assert run["probe"]["failed"] == 0 and run["probe"]["p99_ms"] < PROBE_P99_BOUND_MS, run
