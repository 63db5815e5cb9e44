"""A server process in its own process group: start, freeze, kill, restart, and never leak it."""

from __future__ import annotations

import atexit
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from contextlib import suppress
from pathlib import Path

from . import proctable
from .ports import free_port
from .waiting import wait_until

_DIE_WITH_PARENT = Path(__file__).with_name("die_with_parent.py")
_PORT_TAKEN_IN_LOG = re.compile(rb"Address already in use|Connection in use")
_REAP_TIMEOUT = 10.0

# Every process spawned and not yet reaped, so that a session can end none of them running.
_live: set[ManagedProcess] = set()


class _PortTaken(Exception):
    """Another process got the port between free_port() and our bind."""


def tail(text: str, lines: int = 40) -> str:
    """The last ``lines`` lines of ``text``."""
    return "\n".join(text.splitlines()[-lines:])


class ManagedProcess:
    """One server process started with start_new_session=True, so its pid is also its process group id.

    Subclasses give ``command()`` and ``is_ready()``; this class owns spawning, readiness polling, signals
    and teardown. Output goes to ``log_path`` (appended to across restarts, each start marked).
    """

    kind = "process"
    log_name = "process.log"
    ready_timeout = 20.0
    stop_timeout = 10.0

    def __init__(self, workdir: Path, *, port: int | None = None) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        # An explicit port is kept even if taken: the caller wanted that one (a restart needs the same).
        self._port_chosen = port is not None
        self.port: int = port if port is not None else free_port()
        self.log_path = self.workdir / self.log_name
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_offset = 0
        self._started_once = False

    def __repr__(self) -> str:
        pid = self._proc.pid if self._proc is not None else None
        return f"<{type(self).__name__} port={self.port} pid={pid} log={self.log_path}>"

    # -- subclass hooks -------------------------------------------------------------------------------

    def command(self) -> list[str]:
        """The argv of the server."""
        raise NotImplementedError

    def environment(self) -> dict[str, str] | None:
        """The environment of the server; None inherits ours."""
        return None

    def cwd(self) -> Path:
        """The working directory of the server."""
        return self.workdir

    def is_ready(self) -> bool:
        """True once the server answers; only called while it runs and owns a listener on ``port``."""
        raise NotImplementedError

    # -- lifecycle ------------------------------------------------------------------------------------

    @property
    def pid(self) -> int:
        """Pid of the server (the process group leader)."""
        if self._proc is None:
            raise RuntimeError(f"{self!r} was never started")
        return self._proc.pid

    def is_running(self) -> bool:
        """True while the server process exists (a frozen one included)."""
        return self._proc is not None and self._proc.poll() is None

    def exit_code(self) -> int | None:
        """The code the server exited with; None while it runs or before it was started."""
        return None if self._proc is None else self._proc.poll()

    def start(self, wait_ready: bool = True) -> None:
        """Spawn the server and, by default, wait until it answers; a failed start leaves nothing running."""
        if self.is_running():
            raise RuntimeError(f"{self!r} is already running")
        if self._proc is not None:
            self._reap()  # a killed server may have left stragglers in its group
        if not wait_ready:
            self._spawn()
            self._started_once = True
            return
        # Retrying on a new port is only right before the port was ever published to a test.
        attempts = 1 if (self._started_once or self._port_chosen) else 3
        for attempt in range(1, attempts + 1):
            self._spawn()
            try:
                self._wait_ready()
            except _PortTaken:
                self._reap()
                if attempt == attempts:
                    raise AssertionError(
                        f"{self!r}: port {self.port} is held by another process\n{tail(self.log_text())}"
                    ) from None
                self.port = free_port()
                continue
            except BaseException:
                self._reap()
                raise
            self._started_once = True
            return

    def stop(self, timeout: float | None = None) -> int | None:
        """SIGTERM, a bounded wait, then SIGKILL of the whole group; returns the exit code (None if never run)."""
        proc = self._proc
        if proc is None:
            return None
        if proc.poll() is None:
            # A stopped process would hold SIGTERM pending forever.
            self._signal_group(signal.SIGCONT)
            proc.send_signal(signal.SIGTERM)
            with suppress(subprocess.TimeoutExpired):
                proc.wait(self.stop_timeout if timeout is None else timeout)
        return self._reap()

    def kill(self) -> int:
        """SIGKILL the whole group at once (a crash); returns the exit code."""
        if self._proc is None:
            raise RuntimeError(f"{self!r} was never started")
        self._signal_group(signal.SIGKILL)
        code = self._reap()
        assert code is not None
        return code

    def restart(self) -> None:
        """Stop (gracefully, if still running) and start again on the same port with the same data."""
        self.stop()
        self.start()

    def freeze(self) -> None:
        """SIGSTOP the whole group and return once the leader is stopped: the port accepts, nothing answers."""
        if not self.is_running():
            raise RuntimeError(f"{self!r} is not running")
        self._signal_group(signal.SIGSTOP)
        wait_until(lambda: proctable.is_stopped(self.pid), 5.0, message=f"{self!r} did not stop on SIGSTOP")

    def thaw(self) -> None:
        """SIGCONT the whole group and return once the leader runs again."""
        self._signal_group(signal.SIGCONT)
        wait_until(lambda: not proctable.is_stopped(self.pid), 5.0, message=f"{self!r} did not resume on SIGCONT")

    def close(self) -> None:
        """Teardown: stop the server and release what the harness holds for it."""
        self.stop()

    # -- logs -----------------------------------------------------------------------------------------

    def log_text(self) -> str:
        """Everything the server wrote to stdout and stderr, across restarts."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    # -- internals ------------------------------------------------------------------------------------

    def _spawn(self) -> None:
        argv = self.command()
        with open(self.log_path, "ab") as log:
            stamp = time.strftime("%H:%M:%S")
            log.write(f"=== harness {stamp}: starting {shlex.join(argv)}\n".encode())
            log.flush()
            self._log_offset = log.tell()
            # The kernel's parent-death signal fires when the spawning *thread* ends, so a server started from a
            # short-lived thread must not get it.
            guard = "1" if threading.current_thread() is threading.main_thread() else "0"
            # The child gets its own copy of the descriptor; ours is closed when this block ends.
            self._proc = subprocess.Popen(
                [sys.executable, "-I", "-S", str(_DIE_WITH_PARENT), str(os.getpid()), guard, *argv],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.cwd(),
                env=self.environment(),
                start_new_session=True,
            )
        _live.add(self)

    def _wait_ready(self) -> None:
        def ready() -> bool:
            proc = self._proc
            assert proc is not None
            code = proc.poll()
            if code is not None:
                if _PORT_TAKEN_IN_LOG.search(self.log_path.read_bytes(), self._log_offset):
                    raise _PortTaken
                raise AssertionError(f"{self!r} exited with {code} while starting; log tail:\n{tail(self.log_text())}")
            listeners = proctable.listening_inodes(self.port)
            if not listeners:
                return False
            if not listeners & proctable.socket_inodes(proctable.group_members(proc.pid)):
                raise _PortTaken
            return self.is_ready()

        wait_until(
            ready,
            self.ready_timeout,
            message=lambda: f"{self!r} not ready; log tail:\n{tail(self.log_text())}",
        )

    def _signal_group(self, sig: signal.Signals) -> None:
        proc = self._proc
        if proc is None:
            return
        # An unreaped leader keeps its pid, hence the group id, from being reused; once it is reaped the group
        # id is only still ours while some member of the group lives.
        if proc.returncode is None or proctable.group_members(proc.pid):
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)

    def _reap(self) -> int | None:
        """SIGKILL whatever is left of the group, reap the leader and wait until no member lives."""
        proc = self._proc
        if proc is None:
            return None
        self._signal_group(signal.SIGKILL)
        try:
            code = proc.wait(_REAP_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{self!r} survived SIGKILL for {_REAP_TIMEOUT}s") from None
        # Members orphaned by the leader (gunicorn workers) are reaped by init, not by us.
        wait_until(
            lambda: not proctable.group_members(proc.pid),
            _REAP_TIMEOUT,
            message=f"{self!r}: process group {proc.pid} still has live members after SIGKILL",
        )
        _live.discard(self)
        return code


def stop_all() -> list[str]:
    """Stop every server still running (the last line of defence at session end); returns the failures."""
    failures: list[str] = []
    for process in list(_live):
        try:
            process.close()
        except Exception as exc:
            failures.append(f"{process!r}: {exc}")
        # close() may fail before reaching _reap (a client that cannot close); the process must still go.
        try:
            process._reap()
        except Exception as exc:
            failures.append(f"{process!r}: {exc}")
    for failure in failures:
        sys.stderr.write(f"harness: could not stop {failure}\n")
    return failures


atexit.register(stop_all)
