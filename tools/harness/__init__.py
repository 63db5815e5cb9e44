"""Test harness: real SecantusDB, redis-server and gunicorn processes on 127.0.0.1, and bounded waits.

Everything that starts servers goes through it: the tests (tests/conftest.py), chaos, fuzz and the benchmarks
(``stack.Stack``), and the developer's run (``local_run``, what ``scripts/run`` runs). ``stats`` holds the
latency statistics and ``envelope`` the one check of the JSON error envelope.

The names below load on first use, not with the package: importing them all pulls in requests, redis-py and
PyMongo (about 0.3 s), and ``local_run`` must refuse a taken port or a bad setting before that.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .gunicorn_server import GunicornServer
    from .mongo_server import MongoServer
    from .paths import REPO_ROOT
    from .pool import ServerPool
    from .ports import free_port
    from .procs import ManagedProcess, stop_all
    from .redis_server import RedisServer
    from .waiting import timed, wait_until

# Each exported name and the module it lives in.
_HOMES = {
    "REPO_ROOT": "paths",
    "GunicornServer": "gunicorn_server",
    "ManagedProcess": "procs",
    "MongoServer": "mongo_server",
    "RedisServer": "redis_server",
    "ServerPool": "pool",
    "free_port": "ports",
    "stop_all": "procs",
    "timed": "waiting",
    "wait_until": "waiting",
}

__all__ = [
    "REPO_ROOT",
    "GunicornServer",
    "ManagedProcess",
    "MongoServer",
    "RedisServer",
    "ServerPool",
    "free_port",
    "stop_all",
    "timed",
    "wait_until",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{home}", __name__), name)
    globals()[name] = value  # once loaded, an ordinary attribute
    return value
