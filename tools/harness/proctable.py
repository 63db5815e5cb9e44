"""Read-only views of /proc: process states, parents, process groups and listening sockets."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

_LISTEN = "0A"


@dataclass(frozen=True)
class ProcStat:
    """The few fields of /proc/<pid>/stat the harness needs."""

    pid: int
    state: str
    ppid: int
    pgid: int

    @property
    def alive(self) -> bool:
        # A zombie has exited and only waits for its parent to reap it: it serves and holds nothing.
        return self.state not in ("Z", "X")


def read_stat(pid: int) -> ProcStat | None:
    """The stat of ``pid``, or None if there is no such process (any more)."""
    try:
        data = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may itself contain spaces and parentheses; the fields after the last ')' are fixed.
    fields = data[data.rindex(")") + 2 :].split()
    return ProcStat(pid=pid, state=fields[0], ppid=int(fields[1]), pgid=int(fields[2]))


def all_stats() -> Iterator[ProcStat]:
    """Every process visible in /proc."""
    for entry in os.listdir("/proc"):
        if entry.isascii() and entry.isdigit():
            stat = read_stat(int(entry))
            if stat is not None:
                yield stat


def children_of(pid: int) -> list[int]:
    """Live (non-zombie) children of ``pid``, from a /proc scan so that children of every thread count."""
    return sorted(s.pid for s in all_stats() if s.ppid == pid and s.alive)


def group_members(pgid: int) -> set[int]:
    """Live (non-zombie) processes of process group ``pgid``."""
    return {s.pid for s in all_stats() if s.pgid == pgid and s.alive}


def is_stopped(pid: int) -> bool:
    """True while ``pid`` is stopped by a signal (SIGSTOP and friends)."""
    stat = read_stat(pid)
    return stat is not None and stat.state == "T"


def listening_inodes(port: int) -> set[int]:
    """Socket inodes of every TCP socket (IPv4 or IPv6, any address) listening on ``port``."""
    inodes: set[int] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue  # a kernel without IPv6 has no tcp6 table
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == _LISTEN and int(local.rsplit(":", 1)[1], 16) == port:
                inodes.add(int(inode))
    return inodes


def socket_inodes(pids: Iterable[int]) -> set[int]:
    """Inodes of the sockets that ``pids`` hold open."""
    inodes: set[int] = set()
    for pid in pids:
        fd_dir = f"/proc/{pid}/fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue  # exited meanwhile
        for fd in fds:
            try:
                target = os.readlink(f"{fd_dir}/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(int(target[len("socket:[") : -1]))
    return inodes
