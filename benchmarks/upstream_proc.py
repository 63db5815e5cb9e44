"""The harness's OpenAI-compatible upstream as its own process, with a listen backlog fit for hundreds of
connections opened at once (socketserver's default of 5 would make a burst of them wait for SYN retries,
which would measure the test upstream instead of the service). Same arguments as harness.upstream."""

from __future__ import annotations

from harness import upstream

upstream._HTTPServer.request_queue_size = 4096

if __name__ == "__main__":
    raise SystemExit(upstream.main())
