"""The secret scan finds a secret wherever it was written (so its 0 hits elsewhere mean something)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
from tests.support.secret_scan import SecretScan


def response(text: str) -> requests.Response:
    made = requests.Response()
    made.status_code, made._content = 200, text.encode()
    return made


def test_finds_a_secret_in_a_nested_log_file_and_in_a_body(tmp_path: Path) -> None:
    scan = SecretScan()
    secret = scan.secret("pw-0123456789abcdef")
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "travel_agent.log").write_text("connecting\n")
    scan.watch(SimpleNamespace(workdir=tmp_path))
    scan.seen(response("{}"))
    assert scan.assert_clean() == 2
    (tmp_path / "logs" / "travel_agent.log").write_text(f"uri=mongodb://u:{secret}@h\n")
    assert len(scan.hits()) == 1
    scan.seen(response(f'{{"error": "{secret}"}}'))
    with pytest.raises(AssertionError, match="contains a secret"):
        scan.assert_clean()


def test_refuses_to_pass_a_scan_of_nothing() -> None:
    scan = SecretScan()
    scan.secret("pw-0123456789abcdef")
    with pytest.raises(AssertionError, match="nothing to scan"):
        scan.assert_clean()
