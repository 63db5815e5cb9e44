"""Exec a command that the kernel SIGKILLs if the harness dies first; argv: <harness pid> <0|1> <command...>."""

from __future__ import annotations

import ctypes
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1


def main(argv: list[str]) -> None:
    parent, guard, command = int(argv[1]), argv[2] == "1", argv[3:]
    # Fixture teardown cannot run when pytest is SIGKILLed or os._exit()s on a timeout; the death signal
    # still ends the server then. It survives exec, which is why this runs in the child before exec.
    prctl = getattr(ctypes.CDLL(None), "prctl", None) if guard else None
    if prctl is not None:
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL))
        if os.getppid() != parent:
            sys.exit("tools.harness died before the server started")  # no death signal would ever come
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv)
