"""Debian packages a test needs, installed by the fixture that needs them (scripts/ensure-apt), so the tiers
that need none (``make test-fast``) never touch apt."""

from __future__ import annotations

import subprocess

from tools.harness import REPO_ROOT

_ensured: set[str] = set()


def ensure_apt(*packages: str) -> None:
    """Install whichever of ``packages`` are missing, once per test process. A failure fails the test that
    asked (never a skip): the message of scripts/ensure-apt names the packages and how to install them."""
    wanted = [package for package in packages if package not in _ensured]
    if not wanted:
        return
    subprocess.run([str(REPO_ROOT / "scripts" / "ensure-apt"), *wanted], check=True, timeout=900)
    _ensured.update(wanted)
