"""Test harness: real SecantusDB, redis-server and gunicorn processes on 127.0.0.1, and bounded waits.

Everything that starts servers goes through it: the tests (tests/conftest.py), chaos, fuzz and the benchmarks
(``stack.Stack``), and the developer's run (``local_run``, what ``scripts/run`` runs). ``stats`` holds the
latency statistics and ``envelope`` the one check of the JSON error envelope.
"""

from .gunicorn_server import REPO_ROOT, GunicornServer
from .mongo_server import MongoServer
from .pool import ServerPool
from .ports import free_port
from .procs import ManagedProcess, stop_all
from .redis_server import RedisServer
from .waiting import timed, wait_until

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
