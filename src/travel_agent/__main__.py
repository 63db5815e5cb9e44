"""Command line: ``serve`` (what the Procfile runs), ``healthcheck`` (a probe) and ``--version``."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import urllib.error
import urllib.request

from travel_agent import __version__

HEALTHY_STATES = frozenset({"healthy", "degraded"})


# A probe's own bound: Docker's default probe timeout is 30 s, Kubernetes' 1 s.
MAX_PROBE_TIMEOUT_SECONDS = 600.0


class BadInput(Exception):
    """The probe was given something it cannot use: one line, exit 1 (an unhealthy verdict, never a crash)."""


def default_health_url() -> str:
    """The service's own /health on this host: PORT read and checked as ``serve`` reads it (fullwidth digits
    included), so the probe asks the port the service listens on. BadInput when ``serve`` would refuse it."""
    from travel_agent.config import ConfigError, read_setting

    try:
        port = read_setting("port")
    except ConfigError as exc:
        raise BadInput(str(exc)) from None
    return f"http://127.0.0.1:{port}/health"


def probe_timeout(raw: str) -> float:
    """--timeout: seconds above 0 and at most MAX_PROBE_TIMEOUT_SECONDS (float() alone takes inf and nan)."""
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not 0 < value <= MAX_PROBE_TIMEOUT_SECONDS:
        raise BadInput(f"--timeout={raw!r}: expected seconds above 0 and at most {MAX_PROBE_TIMEOUT_SECONDS:g}")
    return value


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
    probe.add_argument("--timeout", default="5", help="seconds (default 5)")
    commands.add_parser("new-key", help="print a strong random key for API_KEYS, METRICS_TOKEN or CONSOLE_TOKEN")
    args, extra = parser.parse_known_args(argv)
    if args.command == "serve":
        return serve(extra)
    try:
        if extra:
            raise BadInput("unrecognized arguments: " + " ".join(extra))
        if args.command == "new-key":
            from travel_agent.config import new_key

            print(new_key())
            return 0
        timeout = probe_timeout(args.timeout)
        url = args.url or default_health_url()
    except BadInput as exc:
        print(f"travel_agent {args.command}: {exc}", file=sys.stderr)
        return 1
    return healthcheck(url, timeout)


if __name__ == "__main__":
    sys.exit(main())
