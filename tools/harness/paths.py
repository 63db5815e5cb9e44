"""Where the repository is (a module of its own, so that it costs no import of the servers' clients)."""

from __future__ import annotations

from pathlib import Path

# tools/harness/<this file> -> the repository root
REPO_ROOT = Path(__file__).resolve().parents[2]
