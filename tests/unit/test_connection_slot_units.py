"""The order in which a worker closes waiting connections for room, and how much room it keeps."""

from travel_agent.runtime.connection_slots import WaitingConnections, room_limit


def test_the_longest_waiting_connections_are_taken_first_and_a_busy_one_never() -> None:
    waiting = WaitingConnections()
    for client in ("a", "b", "c", "d"):
        waiting.waiting(client)
    waiting.not_waiting("b")  # its request is running
    waiting.waiting("a")  # served and idle again: now the most recent
    assert waiting.take_longest_waiting(2) == ["c", "d"]
    assert waiting.take_longest_waiting(5) == ["a"]
    assert len(waiting) == 0


def test_room_is_kept_below_worker_connections_by_a_bounded_reserve() -> None:
    assert room_limit(1000) == 950
    assert room_limit(40) == 36
    assert room_limit(5000) == 4950
    assert room_limit(1) == 1
