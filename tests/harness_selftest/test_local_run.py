"""scripts/run's program (``python -m tools.harness.local_run``): a second one on the data of a running one says in
one line why it cannot start, and leaves the first serving."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
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
