"""Which connections may be closed when a worker's connection slots run out: those waiting for a request head.

A gevent worker serves at most WORKER_CONNECTIONS connections; when they are all taken it stops accepting, and
a fresh client (a liveness probe, a load balancer's health check) waits in the kernel's queue behind whoever
holds the slots. Idle keep-alive connections and slowloris ones (a head sent a byte at a time) hold a slot
while doing nothing, so when the worker nears its limit it closes the connection that has waited longest for
a request head; a connection whose request is running is never chosen. Imports nothing of the app: the master
imports the worker module.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any


class WaitingConnections:
    """Connections waiting for a request head (their first one, or the next on a keep-alive connection), the
    longest-waiting first."""

    def __init__(self) -> None:
        self._waiting: OrderedDict[Any, None] = OrderedDict()

    def __len__(self) -> int:
        return len(self._waiting)

    def waiting(self, client: Any) -> None:
        self._waiting[client] = None
        self._waiting.move_to_end(client)

    def not_waiting(self, client: Any) -> None:
        self._waiting.pop(client, None)

    def take_longest_waiting(self, count: int) -> list[Any]:
        """Up to ``count`` connections, longest-waiting first, removed from the order."""
        taken: list[Any] = []
        while self._waiting and len(taken) < count:
            client, _ = self._waiting.popitem(last=False)
            taken.append(client)
        return taken


# gunicorn's gevent workers accept one connection per wake-up of the listening socket when there are several
# workers (so that one worker does not take a burst that another could serve). Under a flood of connections each
# wake-up waits for a turn of an event loop busy with thousands of sockets, the kernel's listen queue fills and
# drops new connections, and a fresh client waits for its SYN to be retried after 1 s, 3 s, 7 s. Twenty per
# wake-up keeps the queue short (docs/RELIABILITY.md, "Connection exhaustion"); a burst still spreads over
# the workers, since each takes at most twenty before the others get their turn.
ACCEPTS_PER_WAKEUP = 20


def room_limit(worker_connections: int) -> int:
    """How many connections a worker holds before it closes waiting ones to make room.

    Below WORKER_CONNECTIONS by a reserve: gevent stops accepting once the pool is full, and a connection it
    did not accept cannot trigger the eviction that would free a slot. The reserve absorbs the connections
    accepted in one turn of the event loop, before their handlers run.
    """
    reserve = max(1, min(50, worker_connections // 10))
    return max(1, worker_connections - reserve)
