"""HAProxy in front of service instances, from the repository's deploy/haproxy.cfg (or a variant of it)."""

from __future__ import annotations

import csv
import io
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import requests

from .gunicorn_server import REPO_ROOT
from .ports import free_port
from .procs import ManagedProcess

CONFIG = REPO_ROOT / "deploy" / "haproxy.cfg"
# The log-format of deploy/haproxy.cfg: "%Ts.%ms %Th+%Ti+%TR %b/%s %ST %{+Q}r %Tt %rc"
_LOG_LINE = re.compile(r'^(\d+)\.(\d+) (-?\d+)\+(-?\d+)\+(-?\d+) (\S+)/(\S+) (-?\d+) "([^"]*)" (-?\d+) (-?\d+)$')


def haproxy_binary() -> str:
    found = shutil.which("haproxy") or (Path("/usr/sbin/haproxy") if Path("/usr/sbin/haproxy").exists() else None)
    if found is None:
        raise RuntimeError("haproxy is not installed: scripts/ensure-apt haproxy")
    return str(found)


@dataclass(frozen=True)
class RoutedRequest:
    at: float  # epoch seconds the router had received it (a keep-alive request: not its connection's accept)
    server: str  # the instance that answered, or <NOSRV>
    status: int
    request_line: str
    total_ms: int
    retries: int


class HAProxyRouter(ManagedProcess):
    """``haproxy -db -f <config>`` with ROUTER_BIND, ROUTER_STATS_BIND and APPn_ADDR set from ``backends``
    (instance name -> port). ``replace`` rewrites lines of the config (a variant such as Heroku's limits)."""

    kind = "haproxy"
    log_name = "haproxy.log"
    ready_timeout = 15.0

    def __init__(
        self,
        workdir: Path,
        backends: dict[str, int],
        *,
        port: int | None = None,
        replace: dict[str, str] | None = None,
        config: Path = CONFIG,
    ) -> None:
        super().__init__(workdir, port=port)
        self.backends = dict(backends)
        self.stats_port = free_port()
        text = config.read_text()
        for old, new in (replace or {}).items():
            if old not in text:
                raise ValueError(f"{old!r} is not in {config}")
            text = text.replace(old, new)
        self.config_path = self.workdir / "haproxy.cfg"
        self.config_path.write_text(text)
        for beside in config.parent.glob("haproxy-*.json"):  # files the config reads from its own directory
            (self.workdir / beside.name).write_bytes(beside.read_bytes())

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [haproxy_binary(), "-db", "-f", str(self.config_path)]

    def environment(self) -> dict[str, str]:
        import os

        env = dict(os.environ)
        env["ROUTER_BIND"] = f"127.0.0.1:{self.port}"
        env["ROUTER_STATS_BIND"] = f"127.0.0.1:{self.stats_port}"
        for index, port in enumerate(self.backends.values(), start=1):
            env[f"APP{index}_ADDR"] = f"127.0.0.1:{port}"
        return env

    def is_ready(self) -> bool:
        try:
            return requests.get(f"http://127.0.0.1:{self.stats_port}/stats", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def server_states(self) -> dict[str, str]:
        """app1/app2 -> UP, DOWN, "UP 1/2" (coming up), ... as HAProxy's stats page says now."""
        text = requests.get(f"http://127.0.0.1:{self.stats_port}/stats;csv", timeout=2).text.lstrip("# ")
        return {
            row["svname"]: row["status"]
            for row in csv.DictReader(io.StringIO(text))
            if row["pxname"] == "travel_agent" and row["svname"] not in ("FRONTEND", "BACKEND")
        }

    def routed(self) -> list[RoutedRequest]:
        """Every request the router logged, in order."""
        found: list[RoutedRequest] = []
        for line in self.log_text().splitlines():
            match = _LOG_LINE.match(line.strip())
            if match:
                seconds, millis, handshake, idle, receive, _, server, status, request_line, total, retries = (
                    match.groups()
                )
                waited = sum(max(0, int(t)) for t in (handshake, idle, receive)) / 1000
                found.append(
                    RoutedRequest(
                        int(seconds) + int(millis) / 1000 + waited,
                        server,
                        int(status),
                        request_line,
                        int(total),
                        int(retries),
                    )
                )
        return found
