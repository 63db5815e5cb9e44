"""The worker raises its soft limit of open files to what WORKER_CONNECTIONS needs (two descriptors per held
chat), within the hard limit. Each case runs in a child process: the limit belongs to the process."""

from __future__ import annotations

import json
import resource
import subprocess
import sys

import pytest

from travel_agent.runtime.hooks import OPEN_FILES_MARGIN

CHILD = """
import json, resource, sys
from travel_agent.runtime import hooks

class Log:
    def __init__(self): self.lines = []
    def info(self, msg, *args): self.lines.append(("info", msg % args))
    def warning(self, msg, *args): self.lines.append(("warning", msg % args))

class Worker:
    pid = 1
    worker_connections = int(sys.argv[1])
    log = Log()

resource.setrlimit(resource.RLIMIT_NOFILE, (int(sys.argv[2]), int(sys.argv[3])))
hooks.raise_open_files_limit(Worker)
print(json.dumps({"limit": resource.getrlimit(resource.RLIMIT_NOFILE), "log": Worker.log.lines}))
"""


def _run(connections: int, soft: int, hard: int) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(connections), str(soft), str(hard)],
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout
    return json.loads(out)


def _hard() -> int:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    return 1 << 20 if hard == resource.RLIM_INFINITY else hard


def test_a_low_soft_limit_is_raised_to_what_the_connections_need() -> None:
    need = 2 * 2500 + OPEN_FILES_MARGIN
    if _hard() < need:
        pytest.fail(f"this machine's hard limit of open files ({_hard()}) is below {need}: cannot test raising")
    result = _run(2500, 1024, _hard())
    assert result["limit"] == [need, _hard()]
    assert result["log"] == [["info", f"Worker 1: open files limit raised from 1024 to {need}"]]


def test_a_sufficient_soft_limit_is_left_alone() -> None:
    need = 2 * 100 + OPEN_FILES_MARGIN
    result = _run(100, need + 10, _hard())
    assert result["limit"] == [need + 10, _hard()] and result["log"] == []


def test_a_low_hard_limit_caps_the_raise_and_says_so() -> None:
    result = _run(2500, 512, 2048)
    assert result["limit"] == [2048, 2048]
    (info, warning) = result["log"]
    assert info == ["info", "Worker 1: open files limit raised from 512 to 2048"]
    assert warning[0] == "warning" and "WORKER_CONNECTIONS=2500 needs 5256" in warning[1]
