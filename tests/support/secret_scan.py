"""The secret scan: every password and key a test used, searched for in everything the run produced."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import requests


class SecretScan:
    """Collects the secrets a test uses and the response bodies it saw; ``assert_clean`` searches them and
    every ``*.log`` file (and captured stdout/stderr, which the harness writes to ``*.log``) under the
    servers' work directories."""

    def __init__(self) -> None:
        self.secrets: set[str] = set()
        self.bodies: list[str] = []
        self.roots: list[Path] = []

    def secret(self, value: str) -> str:
        if len(value) < 8:
            raise ValueError("a scanned secret must be long enough not to occur by chance")
        self.secrets.add(value)
        return value

    def watch(self, *servers: object) -> None:
        for server in servers:
            self.roots.append(Path(server.workdir))  # type: ignore[attr-defined]

    def seen(self, response: requests.Response) -> requests.Response:
        self.bodies.append(f"{response.status_code} {dict(response.headers)} {response.text}")
        return response

    def log_files(self) -> list[Path]:
        return sorted({path for root in self.roots for path in root.rglob("*.log") if path.is_file()})

    def hits(self, extra_texts: Iterable[str] = ()) -> list[str]:
        found: list[str] = []
        sources = [(str(path), path.read_text(errors="replace")) for path in self.log_files()]
        sources += [(f"response #{i}", body) for i, body in enumerate(self.bodies)]
        sources += [(f"text #{i}", text) for i, text in enumerate(extra_texts)]
        for name, text in sources:
            found += [f"{name} contains a secret ({secret[:3]}...)" for secret in self.secrets if secret in text]
        return found

    def assert_clean(self, extra_texts: Iterable[str] = ()) -> int:
        """Asserts 0 hits; returns how many sources were searched (a scan of nothing proves nothing)."""
        assert self.secrets, "no secrets registered"
        logs = self.log_files()
        assert logs and self.bodies, "nothing to scan"
        hits = self.hits(extra_texts)
        assert hits == [], hits
        return len(logs) + len(self.bodies)
