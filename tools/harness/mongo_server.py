"""SecantusDB, a MongoDB wire-protocol server, as a real process with failCommand fault injection."""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from pymongo import MongoClient
from pymongo.errors import PyMongoError

from .procs import ManagedProcess
from .tls import ServerCert

BINARY = "secantusd-py"


def secantus_binary() -> str:
    """secantusd-py from the interpreter's bin directory (the venv), else from PATH."""
    # Not resolved: a venv's python is a symlink to the system one, and the script lives beside the link.
    beside = Path(sys.executable).parent / BINARY
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which(BINARY)
    if found is None:
        raise RuntimeError(f"{BINARY} is neither beside {sys.executable} nor on PATH: pip install SecantusDB")
    return found


class MongoServer(ManagedProcess):
    """A SecantusDB server on 127.0.0.1 whose storage lives in ``storage_path`` (default ``workdir/data``) and
    survives restarts; ``test_commands`` enables ``configureFailPoint`` (tests yes, a developer's run no)."""

    kind = "secantusd"
    log_name = "secantusd.log"
    ready_timeout = 20.0

    def __init__(
        self,
        workdir: Path,
        *,
        port: int | None = None,
        storage_path: Path | None = None,
        test_commands: bool = True,
        users: dict[str, str] | None = None,
        tls: ServerCert | None = None,
        ca_file: Path | None = None,
    ) -> None:
        """``users`` (name -> password, each with the root role) turn on SCRAM authentication: the first
        start makes them without auth, stops the server (SIGTERM, so they reach the disk) and starts it again
        with ``--auth``. ``tls`` (with ``ca_file``, the CA that signed it) serves TLS only."""
        super().__init__(workdir, port=port)
        self.storage_path = self.workdir / "data" if storage_path is None else Path(storage_path)
        self.test_commands = test_commands
        self.users = dict(users or {})
        self.tls = tls
        self.ca_file = ca_file
        if tls is not None and ca_file is None:
            raise ValueError("a TLS server needs ca_file, the CA its clients trust")
        self._auth_on = False
        # An explicit (empty) config turns off the auto-discovery of ./secantusd.toml, ~/.secantus/... and
        # /etc/secantus/..., so that no file of this machine changes the server under test.
        self._config_path = self.workdir / "secantusd.toml"
        self._config_path.write_text("")
        self._clients: list[MongoClient[dict[str, Any]]] = []

    @property
    def uri(self) -> str:
        """The connection string of this server (no credentials; with TLS, the CA's options)."""
        return self.uri_for()

    def uri_for(
        self, user: str | None = None, password: str | None = None, database: str = "", ca_file: Path | None = None
    ) -> str:
        """A connection string as a service would be given it: credentials (authSource=admin) and TLS with
        ``ca_file`` (default: the CA that signed the server's certificate) when the server has them."""
        from urllib.parse import quote_plus

        credentials = f"{quote_plus(user)}:{quote_plus(password or '')}@" if user is not None else ""
        options: list[str] = []
        if user is not None:
            options.append("authSource=admin")
        if self.tls is not None:
            options += ["tls=true", f"tlsCAFile={quote_plus(str(ca_file or self.ca_file))}"]
        query = "?" + "&".join(options) if options else ""
        return f"mongodb://{credentials}127.0.0.1:{self.port}/{database}{query}"

    def command(self) -> list[str]:
        return [
            secantus_binary(),
            "--config",
            str(self._config_path),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--storage-path",
            str(self.storage_path),
            *(["--enable-test-commands"] if self.test_commands else []),
            *(["--auth"] if self._auth_on else []),
            *(["--tls-cert-file", str(self.tls.cert), "--tls-key-file", str(self.tls.key)] if self.tls else []),
        ]

    def storage_in_use(self) -> bool:
        """True while another process holds the storage's lock (WiredTiger's ``WiredTiger.lock``, an fcntl
        lock): a SecantusDB started on it now would exit at once."""
        try:
            lock = open(self.storage_path / "WiredTiger.lock", "r+b")
        except FileNotFoundError:
            return False
        with lock:
            try:
                fcntl.lockf(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released when the file is closed
            except OSError as exc:
                if exc.errno in (errno.EACCES, errno.EAGAIN):
                    return True
                raise
        return False

    def start(self, wait_ready: bool = True) -> None:
        if self.users and not self._auth_on:
            super().start(wait_ready=True)
            with self._new_client() as c:
                for name, password in self.users.items():
                    c.admin.command("createUser", name, pwd=password, roles=[{"role": "root", "db": "admin"}])
            self.stop()  # SIGTERM: the users are written before it exits
            self._auth_on = True
        super().start(wait_ready=wait_ready)

    def client(self, **options: Any) -> MongoClient[dict[str, Any]]:
        """A short-timeout client for assertions, closed by the harness at teardown; ``options`` override."""
        client = self._new_client(**options)
        self._clients.append(client)
        return client

    def _new_client(self, **options: Any) -> MongoClient[dict[str, Any]]:
        settings: dict[str, Any] = {
            # SecantusDB advertises a one-node replica set; talking to the seed directly keeps the harness
            # independent of the host names it advertises.
            "directConnection": True,
            "serverSelectionTimeoutMS": 2000,
            "connectTimeoutMS": 2000,
            "socketTimeoutMS": 10000,
            "appname": "harness",
        }
        if self._auth_on:
            name, password = next(iter(self.users.items()))
            settings.update(username=name, password=password, authSource="admin")
        if self.tls is not None:
            settings.update(tls=True, tlsCAFile=str(self.ca_file))
        settings.update(options)
        return MongoClient(self.uri, **settings)

    def is_ready(self) -> bool:
        with self._new_client(serverSelectionTimeoutMS=1000, connectTimeoutMS=1000, socketTimeoutMS=1000) as c:
            try:
                c.admin.command("ping")
            except PyMongoError:
                return False
        return True

    def fail_command(
        self,
        commands: list[str],
        *,
        block_ms: int | None = None,
        error_code: int | None = None,
        close_connection: bool = False,
        times: int | None = None,
        app_name: str | None = None,
    ) -> None:
        """Arm the ``failCommand`` fail point: ``commands`` block, fail or drop the connection.

        ``times`` limits it to the next n matching commands (else it stays on until ``clear_fail_points``);
        ``app_name`` limits it to clients that sent that appname, so the harness's own clients are spared.
        """
        if block_ms is None and error_code is None and not close_connection:
            raise ValueError("fail_command needs block_ms, error_code or close_connection")
        data: dict[str, Any] = {"failCommands": list(commands)}
        if block_ms is not None:
            data["blockConnection"] = True
            data["blockTimeMS"] = block_ms
        if error_code is not None:
            data["errorCode"] = error_code
        if close_connection:
            data["closeConnection"] = True
        if app_name is not None:
            data["appName"] = app_name
        mode: dict[str, int] | str = {"times": times} if times is not None else "alwaysOn"
        self._configure_fail_point(mode, data)

    def clear_fail_points(self) -> None:
        """Disarm ``failCommand``."""
        self._configure_fail_point("off", None)

    def _configure_fail_point(self, mode: dict[str, int] | str, data: dict[str, Any] | None) -> None:
        # A fresh client each time: a pooled one may hold a socket to a server killed since.
        with self._new_client() as c:
            if data is None:
                c.admin.command("configureFailPoint", "failCommand", mode=mode)
            else:
                c.admin.command("configureFailPoint", "failCommand", mode=mode, data=data)

    def close(self) -> None:
        # Clients first: SecantusDB waits for open connections to drain before it exits on SIGTERM.
        try:
            while self._clients:
                self._clients.pop().close()
        finally:
            super().close()
