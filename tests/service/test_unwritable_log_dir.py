"""An unwritable LOG_DIR costs the log file, never the service: it serves, logs to stdout, and says once
per worker, naming LOG_DIR and why, that the file log is off. Real gunicorn."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

pytestmark = pytest.mark.slow


def under_a_file(tmp_path: Path) -> str:
    """A directory no one can create, root included (who ignores mode bits): its parent is a file."""
    parent = tmp_path / "not-a-directory"
    parent.write_text("")
    return str(parent / "logs")


@pytest.mark.parametrize("kind", ["proc", "under-a-file"])
def test_an_unwritable_log_dir_serves_and_warns_once_naming_it(
    make_mongo: Callable[..., Any],
    make_gunicorn: Callable[..., Any],
    wait_until: Callable[..., Any],
    tmp_path: Path,
    kind: str,
) -> None:
    log_dir = "/proc/nope" if kind == "proc" else under_a_file(tmp_path)
    service = make_gunicorn(
        mongo_uri=make_mongo().uri, workers=2, env={"LOG_DIR": log_dir, "STARTUP_RETRIES": "1", "REDIS_URL": None}
    )
    chat = requests.post(service.base_url + "/api/chat/send", json={"message": "Rome for three days"}, timeout=10)
    assert chat.status_code == 200, chat.text
    assert requests.get(service.base_url + "/health", timeout=10).status_code == 200

    def warnings() -> list[str]:
        return [line for line in service.log_text().splitlines() if f"LOG_DIR={log_dir}" in line]

    # One per worker; the second may still be booting after the first answered.
    wait_until(lambda: len(warnings()) == 2, 15, message=lambda: service.log_text()[-3000:])
    output = service.log_text()
    assert "Traceback" not in output and "Worker failed to boot" not in output
    assert all("WARNING" in line and "stdout only" in line for line in warnings()), warnings()
    assert "POST /api/chat/send" in output  # the access log still reaches stdout
    service.terminate()
    assert service.wait_exit(15) == 0
