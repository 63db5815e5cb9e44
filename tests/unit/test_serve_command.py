"""``python -m travel_agent serve`` (the Procfile's command) checks every setting before gunicorn starts.

gunicorn parses WEB_CONCURRENCY while it is imported, before gunicorn.conf.py runs: run directly with
``WEB_CONCURRENCY=abc`` it dies in a traceback. Through ``serve`` every bad value is one line and exit 2.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tools.harness import REPO_ROOT


def run(*args: str, env: dict[str, str], cwd: str | os.PathLike[str] = REPO_ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=dict(os.environ) | env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("value", ["abc", "-1", "2.5", "0"])
def test_a_bad_web_concurrency_is_one_line_and_exit_2(value: str) -> None:
    done = run("-m", "travel_agent", "serve", env={"WEB_CONCURRENCY": value})
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "WEB_CONCURRENCY" in lines[0], done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "name",
    [
        "WORKER_CONNECTIONS",
        "GUNICORN_TIMEOUT",
        "GRACEFUL_TIMEOUT_SECONDS",
        "GUNICORN_KEEPALIVE",
        "DRAIN_MARGIN_SECONDS",
    ],
)
def test_gunicorn_settings_are_validated_like_the_rest(name: str) -> None:
    """gunicorn.conf.py reads them from the one Settings: the same message, the same exit code."""
    done = run("-m", "gunicorn", "-c", "gunicorn.conf.py", "--check-config", "wsgi:app", env={name: "nope"})
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"travel_agent: invalid configuration: {name}='nope': expected "
        + (
            "a number of seconds above 0"
            if name == "DRAIN_MARGIN_SECONDS"
            else f"a whole number >= {0 if name == 'GUNICORN_KEEPALIVE' else 1}"
        )
    ]


def test_the_cli_works_from_any_directory(tmp_path: os.PathLike[str]) -> None:
    """The package is installed (requirements.txt installs it): no import path to set, wherever it runs."""
    done = run("-m", "travel_agent", "--help", env={}, cwd=tmp_path)
    assert done.returncode == 0 and "healthcheck" in done.stdout, done.stderr
