"""The fault schedule: each phase breaks one thing, holds it, and puts it right; the runner measures around it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from tools.chaos.servers import Servers

# Undoes a fault; returns once the dependency is back (a restarted server answers again).
Lift = Callable[[], None]

# The MongoDB commands a chat turn sends (reads, writes, and the counters of findAndModify).
TURN_COMMANDS = ["find", "insert", "update", "findAndModify", "aggregate"]


@dataclass(frozen=True)
class Phase:
    name: str
    dependency: str  # redis | mongodb | upstream | worker | service | none
    what: str
    inject: Callable[[Servers], Lift]
    hold: float  # seconds between the fault and its lift, before scaling
    down: bool  # the dependency refuses or never answers: its failures must become fast once known
    answers_all: bool = False  # a fallback answers for it: every turn of the phase must be answered (200)


def _nothing(stack: Servers) -> Lift:
    return lambda: None


def _kill_restart(server: str) -> Callable[[Servers], Lift]:
    def inject(stack: Servers) -> Lift:
        process = getattr(stack, server)
        process.kill()
        return process.start

    return inject


def _freeze_thaw(server: str) -> Callable[[Servers], Lift]:
    def inject(stack: Servers) -> Lift:
        process = getattr(stack, server)
        process.freeze()
        return process.thaw

    return inject


def _mongo_slow(stack: Servers) -> Lift:
    # Each of a turn's five to seven commands waits 0.9 s: a turn takes about the whole 5 s budget, so some
    # finish and some are cut off mid-turn (the edge where an acknowledged reply could go missing).
    stack.mongo.fail_command(TURN_COMMANDS, block_ms=900, app_name="travel_agent")
    return stack.mongo.clear_fail_points


def _upstream_slow(stack: Servers) -> Lift:
    """Answers just inside and just past what the agent may spend of the budget, alternating."""
    stop = threading.Event()
    factors = (0.75, 0.85, 0.9, 0.95, 1.1)

    def cycle() -> None:
        index = 0
        while not stop.is_set():
            stack.upstream.delay = stack.budget * factors[index % len(factors)]
            index += 1
            stop.wait(0.4)

    thread = threading.Thread(target=cycle, name="upstream-slow", daemon=True)
    thread.start()

    def lift() -> None:
        stop.set()
        thread.join(2)
        stack.upstream.reset()

    return lift


def _upstream_500(stack: Servers) -> Lift:
    stack.upstream.fail_status = 500
    return stack.upstream.reset


def _upstream_hang(stack: Servers) -> Lift:
    stack.upstream.mode = "hang"
    return stack.upstream.reset


# How long each of the first model's faults lasts in the fallback phase before the next one starts: killed,
# frozen (longer than the model's share of the 5 s budget, about 4 s, so turns are given up at the share), 500.
FALLBACK_STEPS_SECONDS = (1.0, 5.0, 1.0)


def _upstream_fallback(stack: Servers) -> Lift:
    """The first model killed (connections refused), then back but frozen (requests accepted, never answered),
    then answering 500, over and over; the fallback (AGENT_FALLBACK=offline) answers every turn meanwhile."""
    stop = threading.Event()
    upstream = stack.upstream

    killed, frozen, failing = FALLBACK_STEPS_SECONDS

    def cycle() -> None:
        while not stop.is_set():
            upstream.stop()
            if stop.wait(killed):
                break
            upstream.mode = "hang"
            upstream.start()  # on the same address
            if stop.wait(frozen):
                break
            upstream.configure(mode="echo", fail_status=500)  # the hanging requests are answered 500 too
            stop.wait(failing)

    thread = threading.Thread(target=cycle, name="upstream-fallback", daemon=True)
    thread.start()

    def lift() -> None:
        stop.set()
        thread.join(5)
        upstream.reset()
        upstream.start()  # a no-op when it is running

    return lift


def _worker_kill(stack: Servers) -> Lift:
    victim = stack.service.worker_pids()[0]
    stack.service.kill_worker(victim)

    def lift() -> None:
        # Back when the master has forked a replacement and it answers (the other worker served meanwhile).
        stack.service.wait_for_workers(2, timeout=30)

    return lift


def _service_restart(stack: Servers) -> Lift:
    stack.service.terminate()  # graceful: stop accepting, finish what runs, then exit

    def lift() -> None:
        stack.service.wait_exit(timeout=30)
        stack.service.start()  # a new master on the same port, as a deploy or a dyno restart would
        stack.service.wait_for_workers(stack.service.workers)

    return lift


PHASES: tuple[Phase, ...] = (
    Phase("steady", "none", "no fault: the baseline", _nothing, 3, False),
    Phase("redis-kill", "redis", "redis-server SIGKILLed, restarted empty", _kill_restart("redis"), 8, True),
    Phase("redis-freeze", "redis", "redis-server SIGSTOPped, then SIGCONT", _freeze_thaw("redis"), 8, True),
    Phase("mongo-kill", "mongodb", "SecantusDB SIGKILLed, restarted on its data", _kill_restart("mongo"), 10, True),
    Phase("mongo-freeze", "mongodb", "SecantusDB SIGSTOPped, then SIGCONT", _freeze_thaw("mongo"), 10, True),
    Phase("mongo-slow", "mongodb", "failCommand blocks each chat command 0.9 s", _mongo_slow, 10, False),
    Phase("upstream-slow", "upstream", "replies take 0.75x to 1.1x the chat budget", _upstream_slow, 10, False),
    Phase("upstream-500", "upstream", "every completion answered 500", _upstream_500, 8, True),
    Phase("upstream-hang", "upstream", "completions accepted, never answered", _upstream_hang, 10, True),
    Phase(
        "upstream-fallback",
        "upstream",
        "the model killed, frozen, answering 500 in turn: the offline assistant answers",
        _upstream_fallback,
        10,
        False,
        answers_all=True,
    ),
    Phase("worker-kill", "worker", "one gunicorn worker SIGKILLed", _worker_kill, 0, False),
    Phase("service-restart", "service", "SIGTERM to gunicorn, a new one on the same port", _service_restart, 0, False),
)


def select(names: str | None) -> tuple[Phase, ...]:
    """The phases named (comma-separated, in schedule order), or all of them."""
    if not names:
        return PHASES
    wanted = {name.strip() for name in names.split(",") if name.strip()}
    unknown = wanted - {phase.name for phase in PHASES}
    if unknown:
        raise ValueError(f"unknown phases {sorted(unknown)}; known: {', '.join(p.name for p in PHASES)}")
    return tuple(phase for phase in PHASES if phase.name in wanted)
