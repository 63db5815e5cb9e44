"""Whether the client of a request has closed its connection, asked without blocking and without reading.

A router with a first-byte limit (Heroku's 30 s) answers the caller 504 itself and closes its connection to
the service; the service's own answer, written later, lands in a socket nobody reads and the access log would
show a 200. Looking before answering lets the service log what happened: the client left.
"""

from __future__ import annotations

import socket
from typing import Any


def client_gone(environ: dict[str, Any]) -> bool:
    """True when the peer closed (or reset) the connection; False while it is open or when unknown."""
    sock = environ.get("gunicorn.socket")
    if sock is None:
        return False
    try:
        previous = sock.gettimeout()
    except OSError:
        return True
    try:
        # Timeout 0: a non-blocking peek, under gevent too (its recv only waits when the timeout is not 0).
        sock.settimeout(0.0)
        return sock.recv(1, socket.MSG_PEEK) == b""  # end of stream: the peer sent FIN
    except (BlockingIOError, InterruptedError):
        return False  # open, nothing to read: the client is waiting for the answer
    except OSError:
        return True  # reset by the peer
    finally:
        try:
            sock.settimeout(previous)
        except OSError:
            pass
