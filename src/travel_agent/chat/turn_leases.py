"""The leases of every turn a worker runs, renewed together: one MongoDB write a beat, however many turns.

A running turn's lease tells other workers it is alive; each runner renewing its own (a checkpoint every third
of ``TURN_LEASE_SECONDS`` while its model was silent) cost 2,000 held streams 600 writes a second, which busied
MongoDB's pool until chats failed (`scripts/bench held`: 1,270 of 2,000 streams ended in an error). A runner
now writes its own checkpoint only for its text (and once, silent, to create its record); this keeper renews
every lease of the worker in one ``update_many`` per beat, from a thread (a greenlet under gevent) that runs
while the worker has turns and stops when it has none.
"""

from __future__ import annotations

import logging
import threading
import time

from travel_agent.chat.turn_records import TurnRecords
from travel_agent.errors import TravelAgentError

log = logging.getLogger("travel_agent.chat.turns")


class LeaseKeeper:
    def __init__(self, records: TurnRecords, beat_seconds: float) -> None:
        self.records = records
        self.beat = beat_seconds
        self._held: set[str] = set()
        self._lock = threading.Lock()  # never held across I/O
        self._renewing = False

    def hold(self, turn_id: str) -> None:
        with self._lock:
            self._held.add(turn_id)
            if self._renewing:
                return
            self._renewing = True
        threading.Thread(target=self._renew_while_held, name="turn-leases", daemon=True).start()

    def release(self, turn_id: str) -> None:
        with self._lock:
            self._held.discard(turn_id)

    def held(self) -> int:
        return len(self._held)

    def _renew_while_held(self) -> None:
        while True:
            time.sleep(self.beat)
            with self._lock:
                turn_ids = list(self._held)
                if not turn_ids:
                    self._renewing = False
                    return
            try:
                self.records.renew(turn_ids)
            except TravelAgentError as exc:
                # MongoDB down or slow: the next beat tries again; a lease that runs out meanwhile lets another
                # worker take the turn over, which is what a lease is for.
                log.warning("could not renew %d turn lease(s) (%s)", len(turn_ids), type(exc).__name__)
