"""scripts/run's program (``python -m tools.harness.local_run``): a second one on the data of a running one says in
one line why it cannot start, and leaves the first serving; a port in use or a bad setting is one line before
anything starts; the URL comes once the service answers; a helper that dies is reported."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from tools.harness import REPO_ROOT, free_port

pytestmark = pytest.mark.slow


def _live(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/health/live", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def test_a_second_run_on_the_same_data_says_in_one_line_that_it_is_in_use(
    tmp_path: Path, wait_until: Callable[..., Any]
) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("MONGODB_URI", "REDIS_URL")}
    argv = [sys.executable, "-m", "tools.harness.local_run", "--data", str(tmp_path)]
    port = free_port()
    with open(tmp_path / "first.out", "wb") as out:
        first = subprocess.Popen(
            argv, cwd=REPO_ROOT, env=env | {"PORT": str(port)}, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        wait_until(
            lambda: _live(port), 60, message=lambda: (tmp_path / "first.out").read_text(errors="replace")[-3000:]
        )
        second = subprocess.run(
            argv, cwd=REPO_ROOT, env=env | {"PORT": str(free_port())}, capture_output=True, text=True, timeout=60
        )
        lines = second.stderr.strip().splitlines()
        assert second.returncode != 0
        assert len(lines) == 1, second.stderr
        assert f"{tmp_path / 'mongo'} is in use by another SecantusDB" in lines[0], lines[0]
        assert _live(port), "the first one still serves"
    finally:
        first.send_signal(signal.SIGINT)
        try:
            code = first.wait(60)
        except subprocess.TimeoutExpired:
            first.kill()
            raise
    assert code == 0, (tmp_path / "first.out").read_text(errors="replace")[-3000:]


def _without_backends() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("MONGODB_URI", "REDIS_URL", "HOST", "PORT")}


def test_a_port_in_use_is_one_line_naming_port_within_two_seconds_and_leaves_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        started = time.monotonic()
        run = subprocess.run(
            [sys.executable, "-m", "tools.harness.local_run", "--data", str(data)],
            cwd=REPO_ROOT,
            env=_without_backends() | {"PORT": str(port)},
            capture_output=True,
            text=True,
            timeout=30,
        )
        took = time.monotonic() - started
    assert run.returncode == 1, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert f"PORT {port} is in use" in lines[0], lines[0]
    assert "http://" not in run.stdout + run.stderr  # no URL of a service that never listened
    assert took < 2.0, f"took {took:.2f}s"
    assert not data.exists(), "nothing created: no data folder, no helper started"


def test_a_bad_setting_is_refused_before_anything_starts(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "tools.harness.local_run", "--data", str(tmp_path / "data")],
        cwd=REPO_ROOT,
        env=_without_backends() | {"PORT": "eighty"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == [run.stderr.strip()] and "PORT" in run.stderr, run.stderr
    assert not (tmp_path / "data").exists()


def test_a_helper_that_dies_is_reported_and_the_service_carries_on(
    tmp_path: Path, wait_until: Callable[..., Any]
) -> None:
    out_path = tmp_path / "run.out"
    port = free_port()
    with open(out_path, "wb") as out:
        run = subprocess.Popen(
            [sys.executable, "-m", "tools.harness.local_run", "--data", str(tmp_path / "data")],
            cwd=REPO_ROOT,
            env=_without_backends() | {"PORT": str(port)},
            stdout=out,
            stderr=subprocess.STDOUT,
        )

    def output() -> str:
        return out_path.read_text(errors="replace")

    try:
        # The URL is printed once the service answers, not before.
        announced = wait_until(lambda: re.search(r"travel_agent on (http://\S+)", output()), 90, message=output)
        assert _live(port), "the URL was printed before the service answered"
        assert announced.group(1) == f"http://127.0.0.1:{port}"
        redis_pid = int(wait_until(lambda: re.search(r"redis-server at \S+ \(pid (\d+)\)", output()), 5).group(1))
        os.kill(redis_pid, signal.SIGKILL)
        line = wait_until(lambda: re.search(r".*redis-server exited \(code -9.*", output()), 10, message=output)
        assert "degraded" in line.group(0), line.group(0)
        assert _live(port), "the service still answers without Redis"
        mongo_pid = int(re.search(r"SecantusDB at \S+ \(pid (\d+)", output()).group(1))  # type: ignore[union-attr]
        os.kill(mongo_pid, signal.SIGKILL)
        line = wait_until(lambda: re.search(r".*secantusd exited \(code -9.*", output()), 10, message=output)
        assert "503" in line.group(0), line.group(0)
        assert output().count("redis-server exited") == 1, "said once"
    finally:
        run.send_signal(signal.SIGINT)
        try:
            code = run.wait(60)
        except subprocess.TimeoutExpired:
            run.kill()
            raise
    assert code == 0, output()[-3000:]


def test_bootstrap_says_what_it_installs_the_first_time_and_nothing_after(tmp_path: Path) -> None:
    # scripts/bootstrap as it runs in a fresh checkout, on requirements with nothing to download (no network).
    (tmp_path / "scripts").mkdir()
    script = tmp_path / "scripts" / "bootstrap"
    script.write_bytes((REPO_ROOT / "scripts" / "bootstrap").read_bytes())
    script.chmod(0o755)
    (tmp_path / "requirements.txt").write_text("# nothing pinned\n")
    (tmp_path / "requirements-dev.txt").write_text("-r requirements.txt\n")
    (tmp_path / "pyproject.toml").write_text("# part of what a change reinstalls for\n")
    first = subprocess.run([str(script)], capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    said = first.stderr.strip().splitlines()
    assert said[0].startswith("bootstrap: creating .venv with Python 3"), said
    assert said[1].startswith("bootstrap: installing requirements-dev.txt into .venv (0 pinned packages"), said
    assert re.fullmatch(r"bootstrap: installed in \d+ s", said[-1]), said
    again = subprocess.run([str(script)], capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and again.stderr == "", again.stderr
