"""The worker's lease keeper: one renewal for all its running turns a beat, and none once they ended."""

from __future__ import annotations

import threading
from typing import Any

from tools.harness import wait_until
from travel_agent.chat.turn_leases import LeaseKeeper
from travel_agent.errors import DependencyUnavailable


class Records:
    """A stand-in for ``TurnRecords`` (the renewal's MongoDB write is tested against SecantusDB by the take-over
    tests): it records what it was asked to renew, and can fail like an unreachable MongoDB."""

    def __init__(self) -> None:
        self.renewed: list[list[str]] = []
        self.failing = False
        self.lock = threading.Lock()

    def renew(self, turn_ids: list[str]) -> None:
        if self.failing:
            raise DependencyUnavailable("mongodb")
        with self.lock:
            self.renewed.append(sorted(turn_ids))


def test_one_renewal_covers_every_held_turn_and_stops_when_none_is_held() -> None:
    records = Records()
    keeper = LeaseKeeper(records, beat_seconds=0.05)  # type: ignore[arg-type]
    for turn_id in ("a", "b", "c"):
        keeper.hold(turn_id)
    wait_until(lambda: records.renewed, 5, message="no renewal")
    assert records.renewed[0] == ["a", "b", "c"]  # one write for the three, not three
    keeper.release("b")
    wait_until(lambda: records.renewed[-1] == ["a", "c"], 5, message="b still renewed")
    keeper.release("a")
    keeper.release("c")
    wait_until(lambda: not keeper._renewing, 5, message="the keeper kept running with nothing held")
    count = len(records.renewed)
    keeper.hold("d")  # a new turn starts the keeper again
    wait_until(lambda: len(records.renewed) > count and records.renewed[-1] == ["d"], 5, message="not restarted")
    keeper.release("d")


def test_a_failing_renewal_is_tried_again_at_the_next_beat(caplog: Any) -> None:
    records = Records()
    records.failing = True
    keeper = LeaseKeeper(records, beat_seconds=0.05)  # type: ignore[arg-type]
    keeper.hold("a")
    wait_until(lambda: "could not renew 1 turn lease(s)" in caplog.text, 5, message="the failure was not logged")
    records.failing = False
    wait_until(lambda: records.renewed, 5, message="not renewed once MongoDB answered")
    keeper.release("a")
