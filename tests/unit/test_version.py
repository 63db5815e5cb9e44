"""The version is written once, in pyproject.toml; the package, its API document and the CLI read it."""

from __future__ import annotations

import subprocess
import sys
import tomllib

import travel_agent
from tools.harness import REPO_ROOT


def declared_version() -> str:
    return tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]


def test_the_package_reports_the_version_pyproject_declares() -> None:
    # Fails after a version bump until the package is reinstalled (scripts/bootstrap does so when
    # pyproject.toml changes): the installed metadata is what the service reports.
    assert travel_agent.__version__ == declared_version()


def test_the_command_line_prints_the_version() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "travel_agent", "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    assert (done.returncode, done.stdout.strip()) == (0, f"travel_agent {declared_version()}"), done.stderr


def test_no_module_writes_a_version_of_its_own() -> None:
    version = declared_version()
    holders = [
        path.relative_to(REPO_ROOT).as_posix()
        for path in sorted((REPO_ROOT / "src").rglob("*.py"))
        if f'"{version}"' in path.read_text(encoding="utf-8")
    ]
    assert holders == [], f"the version {version} is written in {holders}; read travel_agent.__version__ instead"
