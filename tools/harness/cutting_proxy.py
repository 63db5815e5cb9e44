"""A TCP proxy on 127.0.0.1 that cuts connections: between clients and the service, like a phone changing
networks or a proxy dropping an idle stream. Each accepted connection is forwarded to ``target``; with
probability ``cut_share`` it is reset after a random ``cut_after`` seconds (both directions closed at once)."""

from __future__ import annotations

import random
import socket
import struct
import threading
from typing import Any

BUFFER = 65536


class CuttingProxy:
    def __init__(
        self, target_port: int, *, cut_share: float = 0.3, cut_after: tuple[float, float] = (0.5, 4.0)
    ) -> None:
        self.target_port = target_port
        self.cut_share, self.cut_after = cut_share, cut_after
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.accepted = self.cut = 0
        self._stopped = threading.Event()
        self._random = random.Random(20)
        self._lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> CuttingProxy:
        threading.Thread(target=self._accept, name="cutting-proxy", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopped.set()
        self.listener.close()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self.accepted += 1
                cut_in = self._random.uniform(*self.cut_after) if self._random.random() < self.cut_share else None
            pair = (client, upstream)
            for source, sink in (pair, pair[::-1]):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()
            if cut_in is not None:
                threading.Timer(cut_in, self._reset, args=(pair,)).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(BUFFER):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                _close(sock)

    def _reset(self, pair: tuple[socket.socket, socket.socket]) -> None:
        with self._lock:
            self.cut += 1
        for sock in pair:
            try:  # SO_LINGER 0: the close sends a reset, as a dropped network path would look to the client
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
            _close(sock)


def _close(sock: Any) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass
