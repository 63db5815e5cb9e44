"""Command line: ``python -m travel_agent run`` (local service) and ``healthcheck`` (container probe)."""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from pathlib import Path

HEALTHY_STATES = frozenset({"healthy", "degraded"})


def healthcheck(url: str, timeout: float) -> int:
    """0 when the service reports healthy or degraded, 1 otherwise or when it does not answer in time."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body = json.load(response)
    except urllib.error.HTTPError as exc:
        body = json.loads(exc.read() or b"{}") if exc.code == 503 else {}
    except (OSError, ValueError) as exc:
        print(f"unhealthy: {url} did not answer ({type(exc).__name__})", file=sys.stderr)
        return 1
    status = body.get("status") if isinstance(body, dict) else None
    print(status or "unknown")
    return 0 if status in HEALTHY_STATES else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m travel_agent")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="run the service locally, with embedded MongoDB and Redis when unset")
    probe = commands.add_parser("healthcheck", help="exit 0 when /health says healthy or degraded")
    probe.add_argument("--url", default="http://127.0.0.1:8000/health")
    probe.add_argument("--timeout", type=float, default=5.0)
    args = parser.parse_args(argv)
    if args.command == "run":
        from travel_agent.local_run import run

        return run(Path.cwd())
    return healthcheck(args.url, args.timeout)


if __name__ == "__main__":
    sys.exit(main())
