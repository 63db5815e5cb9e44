"""Whether this process runs cooperatively: under gevent's monkey patching, as a gunicorn gevent worker does.

Three things depend on it, and must agree: a ``gevent.Timeout`` may interrupt a request only in a greenlet
(``web/inflight.py``), a request may wait on the model's socket itself (``agent/waiting.py``), and the chat's
reply pump is a greenlet rather than a thread (``chat/pump.py``). A threaded test server or the Flask test client
is not patched, and each then takes its plain-threads path. The worker patches everything at once, so the socket
module stands for all of it.
"""

from __future__ import annotations

from gevent import monkey


def gevent_patched() -> bool:
    return bool(monkey.is_module_patched("socket"))
