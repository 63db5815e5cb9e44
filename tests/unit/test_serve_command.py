"""``python -m travel_agent serve`` (the Procfile's command) checks every setting before gunicorn starts.

gunicorn parses WEB_CONCURRENCY while it is imported, before gunicorn.conf.py runs: run directly with
``WEB_CONCURRENCY=abc`` it dies in a traceback. Through ``serve`` every bad value is one line and exit 2.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tools.harness import REPO_ROOT, free_port


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
        + {
            "WORKER_CONNECTIONS": "a whole number from 1 to 100000",
            "GUNICORN_TIMEOUT": "a whole number from 1 to 86400",
            "GRACEFUL_TIMEOUT_SECONDS": "a whole number from 1 to 86400",
            "GUNICORN_KEEPALIVE": "a whole number from 0 to 86400",
            "DRAIN_MARGIN_SECONDS": "a number of seconds above 0",
        }[name]
    ]


def test_the_cli_works_from_any_directory(tmp_path: os.PathLike[str]) -> None:
    """The package is installed (requirements.txt installs it): no import path to set, wherever it runs."""
    done = run("-m", "travel_agent", "--help", env={}, cwd=tmp_path)
    assert done.returncode == 0 and "healthcheck" in done.stdout, done.stderr


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MONGO_SOCKET_TIMEOUT_MS", "1000000000"),  # PyMongo's own limit: "Worker failed to boot", exit 3
        ("REDIS_MAX_CONNECTIONS", "99999999999999999999"),  # OverflowError in gevent: a crash loop
        ("WORKER_CONNECTIONS", "99999999999999999999"),
        ("CHAT_HISTORY_MESSAGES", "99999999999999999999"),  # BSON integer overflow: a 500 on every send
        ("WEB_CONCURRENCY", "99999999999999999999"),  # gunicorn forking without end
    ],
)
def test_a_value_the_drivers_or_the_os_refuse_is_one_line_and_exit_2(name: str, value: str) -> None:
    done = run("-m", "travel_agent", "serve", env={name: value})
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(
        f"travel_agent: invalid configuration: {name}='{value}': expected a whole number from 1 to "
    )


def test_an_unusable_metrics_directory_stops_the_master_with_one_line(tmp_path: os.PathLike[str]) -> None:
    """What only preparing it shows (here a *.db that is a directory, which the master would remove) is one
    line naming PROMETHEUS_MULTIPROC_DIR and exit 2, not the master's traceback and exit 1."""
    directory = os.path.join(tmp_path, "metrics")
    os.makedirs(os.path.join(directory, "stale.db"))
    env = {"PROMETHEUS_MULTIPROC_DIR": directory, "HOST": "127.0.0.1", "PORT": str(free_port())}
    done = run("-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app", env=env)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert (
        done.stderr.strip()
        .splitlines()[-1]
        .startswith("travel_agent: invalid configuration: PROMETHEUS_MULTIPROC_DIR: [Errno 21]")
    )
