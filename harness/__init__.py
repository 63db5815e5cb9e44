"""Test harness: real SecantusDB, redis-server and gunicorn processes on 127.0.0.1, and bounded waits."""

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
