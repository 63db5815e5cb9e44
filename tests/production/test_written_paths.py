"""Where the service writes, measured: a real gunicorn of the service under strace, given chat turns, a stream,
the console, /metrics and an error, writes only below LOG_DIR and the temporary directory (/tmp with TMPDIR
unset, as in the image). deploy/kubernetes.yaml gives exactly those two a writable volume on a read-only root
(test_deploy_files.py holds the file to them)."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from tests.support.apt import ensure_apt
from tests.support.chat import SEND, STREAM

from tools.harness import GunicornServer, ServerPool, wait_until
from tools.harness.proctable import children_of

pytestmark = pytest.mark.slow

# A random one: the service refuses a guessable CONSOLE_TOKEN.
CONSOLE_TOKEN = secrets.token_urlsafe(24)
# Every call that can create or change a file or directory.
TRACED = "trace=open,openat,creat,mkdir,mkdirat,rename,renameat,renameat2,link,linkat,symlink,symlinkat"
_OPENED = re.compile(r'(?:open|openat|creat)\((?:AT_FDCWD, |\d+, )?"([^"]+)", ([A-Z_|]+)')
_MADE = re.compile(
    r"(?:mkdir|mkdirat|symlink|symlinkat|link|linkat)\("
    r'(?:AT_FDCWD, |\d+, )?"(?:[^"]+", )?(?:AT_FDCWD, |\d+, )?"([^"]+)"'
)
_RENAMED = re.compile(r'rename(?:at2?)?\((?:AT_FDCWD, |\d+, )?"[^"]+", (?:AT_FDCWD, |\d+, )?"([^"]+)"')


class TracedGunicorn(GunicornServer):
    """The service's gunicorn under ``strace -f``, which writes every file call of every process to ``trace``."""

    def __init__(self, workdir: Path, **options: Any) -> None:
        super().__init__(workdir, **options)
        self.trace = self.workdir / "strace.out"

    def command(self) -> list[str]:
        return ["strace", "-f", "-qq", "-e", TRACED, "-o", str(self.trace), *super().command()]

    def written(self) -> set[str]:
        """Every path a successful call created, opened for writing, made or renamed to (absolute ones)."""
        found: set[str] = set()
        for line in self.trace.read_text(errors="replace").splitlines():
            if re.search(r"= -1 ", line):
                continue  # the call failed: nothing was written
            opened = _OPENED.search(line)
            if opened and re.search(r"O_WRONLY|O_RDWR|O_CREAT", opened.group(2)):
                found.add(opened.group(1))
            for pattern in (_MADE, _RENAMED):
                match = pattern.search(line)
                if match:
                    found.add(match.group(1))
        return found


def test_the_service_writes_only_below_log_dir_and_the_temporary_directory(
    tmp_path_factory: pytest.TempPathFactory, make_mongo: Callable[..., Any], make_redis: Callable[..., Any]
) -> None:
    ensure_apt("strace")
    with ServerPool(tmp_path_factory.mktemp) as pool:
        service = TracedGunicorn(
            tmp_path_factory.mktemp("traced"),
            mongo_uri=make_mongo().uri,
            redis_url=make_redis().url,
            workers=2,
            # As in the image: no TMPDIR (Python's temporary directory is then /tmp), no multiprocess directory
            # set, no bytecode written.
            env={
                "TMPDIR": None,
                "TEMP": None,
                "TMP": None,
                "PROMETHEUS_MULTIPROC_DIR": None,
                "PYTHONDONTWRITEBYTECODE": "1",
                "CONSOLE_TOKEN": CONSOLE_TOKEN,
            },
        )
        pool.adopt(service)
        service.start()
        http = requests.Session()
        base = service.base_url
        for _ in range(2):
            turn = http.post(base + SEND, json={"message": "Lisbon for 3 days"}, timeout=30)
            assert turn.status_code == 200, turn.text
            with http.post(
                base + STREAM, json={"message": "and Porto?", "session_id": turn.json()["session_id"]}, timeout=30
            ) as stream:
                assert stream.status_code == 200
        console = {"Authorization": f"Bearer {CONSOLE_TOKEN}"}
        for path in ("/health", "/metrics", "/docs", "/nope", "/console", "/console/state"):
            http.get(base + path, headers=console, timeout=10)
        # The console's history is written by the heartbeat: wait until a worker has written its records.
        wait_until(lambda: any("/console/" in p for p in service.written()), 15, message="no console files written")
        master = children_of(service.pid)[0]  # strace's child: gunicorn's master
        os.kill(master, 15)  # SIGTERM: the drain and the shutdown write too
        assert service.wait_exit(60) == 0
        written = service.written()

    temporary = Path("/tmp")  # Python's first choice with TMPDIR, TEMP and TMP unset (tempfile.gettempdir)
    allowed = (service.log_dir, temporary)
    outside = sorted(p for p in written if not any(Path(p).is_relative_to(root) for root in allowed))
    outside = [p for p in outside if not p.startswith(("/dev/", "/proc/"))]  # devices, not files
    assert outside == [], f"written outside LOG_DIR and {temporary}: {outside}"
    assert any(Path(p).is_relative_to(service.log_dir) for p in written), "the log file was written"
    assert any("travel_agent-metrics-" in p for p in written), "the metrics directory was written"
