"""Command line: ``serve`` (what the Procfile runs), ``healthcheck`` (a probe) and ``--version``."""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request

from travel_agent import __version__

HEALTHY_STATES = frozenset({"healthy", "degraded"})


def default_health_url() -> str:
    """The service's own /health on this host: the port it listens on, as gunicorn.conf.py reads it."""
    return f"http://127.0.0.1:{os.environ.get('PORT', '').strip() or 8000}/health"


def healthcheck(url: str, timeout: float) -> int:
    """0 when the service reports healthy or degraded, 1 otherwise or when it does not answer in time.

    ``timeout`` bounds the connection and each read; keep it below the prober's own (Docker's is 10 s)."""
    try:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                body = json.load(response)
        except urllib.error.HTTPError as exc:
            # 503 carries the report (unhealthy); anything else (a proxy's page) has no status of ours.
            with exc:
                body = json.loads(exc.read() or b"{}") if exc.code == 503 else {"status": f"HTTP {exc.code}"}
    except (OSError, ValueError) as exc:  # refused, timed out, or not JSON
        print(f"unhealthy: {url} did not answer usably ({type(exc).__name__})", file=sys.stderr)
        return 1
    status = body.get("status") if isinstance(body, dict) else None
    print(status or "unknown")
    return 0 if status in HEALTHY_STATES else 1


def serve(gunicorn_args: list[str]) -> int:
    """Validate the settings, then become gunicorn (same process, so it receives the platform's signals).

    gunicorn parses ``WEB_CONCURRENCY`` itself when it is imported, before ``gunicorn.conf.py`` runs, and a
    bad value ends in its traceback; checking first makes it one line naming the variable, exit 2, like
    every other setting. Run from the project directory, where ``gunicorn.conf.py`` and ``wsgi/`` are."""
    from travel_agent.config import ConfigError, Settings

    try:
        Settings.from_env()
    except ConfigError as exc:
        print(f"travel_agent: {exc}", file=sys.stderr)
        return 2
    argv = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", *gunicorn_args, "wsgi:app"]
    os.execv(sys.executable, argv)
    return 0  # not reached: execv replaces this process


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m travel_agent")
    parser.add_argument("--version", action="version", version=f"travel_agent {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="check the settings, then run gunicorn as the Procfile does", add_help=False)
    probe = commands.add_parser("healthcheck", help="exit 0 when /health says healthy or degraded")
    probe.add_argument("--url", default=None, help="default: http://127.0.0.1:$PORT/health")
    probe.add_argument("--timeout", type=float, default=5.0, help="seconds (default 5)")
    args, extra = parser.parse_known_args(argv)
    if args.command == "serve":
        return serve(extra)
    if extra:
        parser.error("unrecognized arguments: " + " ".join(extra))
    return healthcheck(args.url or default_health_url(), args.timeout)


if __name__ == "__main__":
    sys.exit(main())
