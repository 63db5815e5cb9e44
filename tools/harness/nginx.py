"""nginx with TLS in front of service instances, from the repository's deploy/nginx.conf (its ${...} filled in)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import requests

from .gunicorn_server import REPO_ROOT
from .procs import ManagedProcess
from .tls import ServerCert

CONFIG = REPO_ROOT / "deploy" / "nginx.conf"
# The log_format of deploy/nginx.conf: "$msec $upstream_addr $status "$request" $request_time ... $rid"
_LOG_LINE = re.compile(r'^(\d+\.\d+) (\S+) (\d+) "([^"]*)" ')


def nginx_binary() -> str:
    found = shutil.which("nginx") or (Path("/usr/sbin/nginx") if Path("/usr/sbin/nginx").exists() else None)
    if found is None:
        raise RuntimeError("nginx is not installed: scripts/ensure-apt nginx")
    return str(found)


def render(text: str, values: dict[str, str]) -> str:
    """What ``envsubst`` makes of deploy/nginx.conf with these variables (and only these: nginx's own $vars stay)."""
    for name, value in values.items():
        text = text.replace("${" + name + "}", value)
    left = re.findall(r"\$\{[A-Z0-9_]+\}", text)
    if left:
        raise ValueError(f"deploy/nginx.conf still has {left} after rendering")
    return text


class NginxRouter(ManagedProcess):
    """``nginx -c <rendered deploy/nginx.conf>`` in the foreground, TLS on ``port`` with ``cert``, routing to
    ``backends`` (instance name -> port, in order APP1_ADDR, APP2_ADDR)."""

    kind = "nginx"
    log_name = "nginx.log"
    ready_timeout = 15.0

    def __init__(
        self, workdir: Path, backends: dict[str, int], cert: ServerCert, ca_file: Path, *, port: int | None = None
    ) -> None:
        super().__init__(workdir, port=port)
        self.backends = dict(backends)
        self.ca_file = ca_file
        values = {
            "NGINX_LISTEN": f"127.0.0.1:{self.port}",
            "TLS_CERT": str(cert.cert),
            "TLS_KEY": str(cert.key),
        }
        for index, backend_port in enumerate(self.backends.values(), start=1):
            values[f"APP{index}_ADDR"] = f"127.0.0.1:{backend_port}"
        self.config_path = self.workdir / "nginx.conf"
        self.config_path.write_text(render(CONFIG.read_text(), values))

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        # The pid file in our directory, errors to our log: nothing of the machine's nginx is touched.
        return [
            nginx_binary(),
            "-e",
            "stderr",
            "-p",
            str(self.workdir),
            "-c",
            str(self.config_path),
            "-g",
            f"daemon off; pid {self.workdir / 'nginx.pid'};",
        ]

    def is_ready(self) -> bool:
        try:
            requests.get(self.base_url + "/health/live", timeout=1, verify=str(self.ca_file))
        except requests.RequestException:
            return False
        return True

    def served_by(self) -> list[tuple[float, str, int, str]]:
        """(epoch seconds, instance address or "-", status, request line) of every request logged, in order."""
        found = []
        for line in self.log_text().splitlines():
            match = _LOG_LINE.match(line.strip())
            if match:
                at, upstream, status, request_line = match.groups()
                found.append((float(at), upstream, int(status), request_line))
        return found
