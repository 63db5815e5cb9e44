"""The real service under gunicorn, run from the repository root as production runs it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from signal import SIGKILL, SIGTERM

import requests

from . import proctable
from .paths import REPO_ROOT
from .procs import ManagedProcess, tail
from .waiting import wait_until

APP_LOG_FILE = "travel_agent.log"


class GunicornServer(ManagedProcess):
    """``python -m gunicorn -c gunicorn.conf.py <app>`` with PORT, HOST, WEB_CONCURRENCY and LOG_DIR set.

    ``app`` is ``wsgi:app`` (production) or a test module's app, e.g. ``tests.support.fault_app:app``.

    ``env`` adds to (or, with a None value, removes from) the inherited environment, after everything else.
    """

    kind = "gunicorn"
    log_name = "gunicorn.log"
    ready_timeout = 30.0

    def __init__(
        self,
        workdir: Path,
        *,
        mongo_uri: str | None = None,
        redis_url: str | None = None,
        workers: int = 1,
        env: Mapping[str, str | None] | None = None,
        port: int | None = None,
        repo_root: Path = REPO_ROOT,
        app: str = "wsgi:app",
    ) -> None:
        super().__init__(workdir, port=port)
        self.mongo_uri = mongo_uri
        self.redis_url = redis_url
        self.workers = workers
        self.extra_env: dict[str, str | None] = dict(env or {})
        self.repo_root = Path(repo_root)
        self.app = app
        self.log_dir = self.workdir / "logs"
        self.log_dir.mkdir(exist_ok=True)
        self.runtime_dir = self.workdir / "run"
        self.runtime_dir.mkdir(mode=0o700, exist_ok=True)

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``, without a trailing slash."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def master_pid(self) -> int:
        """Pid of the gunicorn master (the process group leader)."""
        return self.pid

    def command(self) -> list[str]:
        return [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", self.app]

    def cwd(self) -> Path:
        return self.repo_root

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        # Output written with print() would otherwise sit in a block buffer, invisible to wait_for_log.
        env["PYTHONUNBUFFERED"] = "1"
        env["PORT"] = str(self.port)
        env["HOST"] = "127.0.0.1"  # tests listen on loopback only
        env["WEB_CONCURRENCY"] = str(self.workers)
        env["LOG_DIR"] = str(self.log_dir)
        # gunicorn >= 25.1 opens a control socket at $XDG_RUNTIME_DIR/gunicorn.ctl, else ~/.gunicorn/gunicorn.ctl:
        # one path shared by every instance on the machine, so parallel servers would take it from each other.
        env["XDG_RUNTIME_DIR"] = str(self.runtime_dir)
        if self.mongo_uri is not None:
            env["MONGODB_URI"] = self.mongo_uri
        if self.redis_url is not None:
            env["REDIS_URL"] = self.redis_url
        for name, value in self.extra_env.items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value
        return env

    def is_ready(self) -> bool:
        try:
            response = requests.get(f"{self.base_url}/health/live", timeout=2.0)
        except requests.RequestException:
            return False
        return response.status_code == 200

    # -- processes ------------------------------------------------------------------------------------

    def worker_pids(self) -> list[int]:
        """Pids of the live workers (children of the master), ascending."""
        return proctable.children_of(self.master_pid)

    def wait_for_workers(self, count: int, timeout: float = 30.0) -> list[int]:
        """Wait until the master has exactly ``count`` live children (forked; not necessarily booted)."""

        def workers() -> tuple[list[int]] | None:
            pids = self.worker_pids()
            # Wrapped in a tuple: an empty list is falsy, yet zero workers is a valid thing to wait for.
            return (pids,) if len(pids) == count else None

        (pids,) = wait_until(
            workers,
            timeout,
            message=lambda: (
                f"{self!r}: wanted {count} workers, have {self.worker_pids()}; log:\n{tail(self.log_text())}"
            ),
        )
        return pids

    def wait_until_booted(self, pids: list[int], timeout: float = 30.0) -> None:
        """Wait until each worker in ``pids`` has loaded the app: the line its post_worker_init hook logs."""
        wait_until(
            lambda: all(f"Worker {pid}: gevent patched" in self.log_text() for pid in pids),
            timeout,
            message=lambda: f"{self!r}: workers {pids} not all booted; log:\n{tail(self.log_text())}",
        )

    def signal(self, sig: int) -> None:
        """Send ``sig`` to the master only (gunicorn's own control signals: HUP, TTIN, TTOU, TERM, ...)."""
        os.kill(self.master_pid, sig)

    def terminate(self) -> None:
        """SIGTERM to the master: gunicorn's graceful shutdown."""
        self.signal(SIGTERM)

    def wait_exit(self, timeout: float = 30.0) -> int:
        """Wait for the master to exit and return its exit code; AssertionError with the log tail on timeout."""
        proc = self._proc
        if proc is None:
            raise RuntimeError(f"{self!r} was never started")
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"{self!r} still running after {timeout}s; log tail:\n{tail(self.log_text())}"
            ) from None

    def kill_worker(self, pid: int, sig: int = SIGKILL) -> None:
        """Send ``sig`` (SIGKILL by default) to one worker; refuses a pid that is not a worker of this master."""
        workers = self.worker_pids()
        if pid not in workers:
            raise ValueError(f"{pid} is not a worker of {self!r} (workers: {workers})")
        os.kill(pid, sig)

    # -- logs -----------------------------------------------------------------------------------------

    def log_file_text(self) -> str:
        """The app's own log file, LOG_DIR/travel_agent.log, or "" if it was not written."""
        try:
            return (self.log_dir / APP_LOG_FILE).read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_for_log(
        self,
        pattern: str | re.Pattern[str],
        timeout: float = 10.0,
        *,
        since: int = 0,
        in_file: bool = False,
    ) -> re.Match[str]:
        """Wait until the captured output (or, with ``in_file``, the app's log file) matches and return the match.

        A str is a plain substring, a compiled pattern a regex search. ``since`` is a character offset to
        search from: pass ``len(server.log_text())`` taken before an action to see only what came after it.
        """
        regex = pattern if isinstance(pattern, re.Pattern) else re.compile(re.escape(pattern))

        def text() -> str:
            return self.log_file_text() if in_file else self.log_text()

        match = wait_until(
            lambda: regex.search(text(), since),
            timeout,
            message=lambda: (
                f"{self!r}: no {regex.pattern!r} in the {'app log file' if in_file else 'output'};"
                f" tail:\n{tail(text()[since:])}"
            ),
        )
        assert match is not None
        return match
