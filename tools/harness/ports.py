"""Free TCP ports on 127.0.0.1 for the servers the tests start."""

from __future__ import annotations

import socket

# The kernel may hand the same ephemeral port out twice in a row once it is closed again; remembering what
# this session already gave away keeps two servers of one test from racing for it.
_handed_out: set[int] = set()


def free_port(preferred: int | None = None) -> int:
    """A port on 127.0.0.1 that was free a moment ago (a server that loses the race is restarted elsewhere):
    ``preferred`` if it is, else any."""
    if preferred is not None and bindable(preferred):
        return preferred
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port
    raise RuntimeError("no unused free port found in 100 tries")


def bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
