"""No module of ours over 400 lines: a module that long holds more than one concern, and a newcomer reading it
to change one thing has to read the others too. Split by concern, not by line count."""

from __future__ import annotations

import subprocess

from tools.harness import REPO_ROOT

LIMIT = 400


def test_no_python_module_is_over_the_limit() -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "*.py"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    long = {
        path: lines
        for path in tracked
        if (REPO_ROOT / path).exists()
        and (lines := len((REPO_ROOT / path).read_text(encoding="utf-8").splitlines())) > LIMIT
    }
    assert long == {}, f"modules over {LIMIT} lines: {long}"
