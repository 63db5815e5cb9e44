"""gunicorn's own reloads under chat load: HUP (new workers, the old ones drained), TTOU and TTIN (one worker
fewer, one more), and USR2 (a new master beside the old one, the binary upgrade). Every turn is answered once,
nothing is lost, and every worker that leaves closes its pools."""

from __future__ import annotations

import re
import signal
from collections.abc import Callable
from typing import Any

import pytest
import requests

from tools.harness import proctable
from tools.harness.fleet import ConversationLoad, LoadStats, audit
from tools.harness.upstream import UpstreamServer

pytestmark = pytest.mark.slow


def closed_pools(service: Any, pid: int) -> bool:
    """Both pools of worker ``pid`` closed, in the app log file (text lines carry [pid])."""
    text = service.log_file_text()
    return bool(re.search(rf"\[{pid}\] \S+ \[[^\]]*\] Redis connection pool closed", text)) and bool(
        re.search(rf"\[{pid}\] \S+ \[[^\]]*\] MongoDB client closed", text)
    )


@pytest.fixture
def loaded(
    make_mongo: Callable[..., Any],
    make_redis: Callable[..., Any],
    make_gunicorn: Callable[..., Any],
    upstream: UpstreamServer,
    wait_until: Callable[..., Any],
) -> Callable[..., tuple[Any, Any, Any]]:
    def start(workers: int) -> tuple[Any, Any, ConversationLoad]:
        upstream.configure(delay=0.3)  # turns in flight at every signal
        mongo = make_mongo()
        service = make_gunicorn(
            mongo_uri=mongo.uri,
            redis_url=make_redis().url,
            workers=workers,
            env={
                "AGENT_PROVIDER": "openai",
                "OPENAI_BASE_URL": upstream.base_url,
                "OPENAI_API_KEY": "sk-reload-test-key",
            },
        )
        service.wait_for_workers(workers)
        load = ConversationLoad(service.base_url, clients=6).start()
        wait_until(lambda: load.stats.answered >= 10, 20, message="no chat load")
        return mongo, service, load

    return start


def assert_all_answered_once(mongo: Any, stats: LoadStats) -> None:
    found = audit(mongo, stats)
    assert stats.gave_up == 0, stats
    assert found.lost == [] and found.duplicated == [], found
    assert stats.answered == stats.turns_started == len(stats.acknowledged)
    # No 5xx reached a client: what was retried was only a keep-alive connection closed by a draining worker.
    assert not [s for s in stats.statuses if s.startswith("5")], stats.statuses


def test_hup_ttou_ttin_then_usr2_under_load_lose_nothing_and_close_old_pools(
    loaded: Callable[..., Any], wait_until: Callable[..., Any]
) -> None:
    mongo, service, load = loaded(2)
    old = set(service.worker_pids())
    service.signal(signal.SIGHUP)
    # New workers replace the old ones, which drain their requests and close their pools.
    wait_until(
        lambda: len(service.worker_pids()) == 2 and not old & set(service.worker_pids()),
        30,
        message=lambda: f"old workers {old} still there: {service.worker_pids()}",
    )
    wait_until(
        lambda: all(closed_pools(service, pid) for pid in old),
        10,
        message=lambda: f"an old worker of {old} left its pools; log:\n{service.log_file_text()[-4000:]}",
    )
    answered = load.stats.answered
    wait_until(lambda: load.stats.answered >= answered + 10, 20, message="no answers after HUP")

    before = set(service.worker_pids())
    service.signal(signal.SIGTTOU)
    (gone,) = wait_until(
        lambda: tuple(before - set(service.worker_pids())) or None, 30, message="TTOU removed no worker"
    )
    assert len(service.worker_pids()) == 1
    wait_until(lambda: closed_pools(service, gone), 10, message="the worker TTOU removed left its pools")
    service.signal(signal.SIGTTIN)
    # Booted, not just forked: a worker stopped while it boots (by the USR2 step below) never opens its pools.
    service.wait_until_booted(service.wait_for_workers(2))
    answered = load.stats.answered
    wait_until(lambda: load.stats.answered >= answered + 10, 20, message="no answers after TTIN")
    after_ttin = load.stats.requests

    # USR2: gunicorn forks and execs a new master that inherits the listening socket (a child of the old one).
    old_master, old_workers = service.master_pid, set(service.worker_pids())
    service.signal(signal.SIGUSR2)
    (new_master,) = wait_until(
        lambda: tuple(p for p in proctable.children_of(old_master) if p not in old_workers) or None,
        20,
        message="USR2 started no new master",
    )
    wait_until(
        lambda: len(proctable.children_of(new_master)) == 2,
        30,
        message=lambda: f"the new master has no workers; log:\n{service.log_text()[-3000:]}",
    )
    # The binary upgrade's last step: the old master is told to stop; its workers drain, the new ones serve.
    service.signal(signal.SIGTERM)
    wait_until(
        lambda: not (old_workers & set(proctable.children_of(old_master))),
        40,
        message="the old workers never drained away",
    )
    wait_until(
        lambda: all(closed_pools(service, pid) for pid in old_workers),
        10,
        message=lambda: f"an old worker of {old_workers} left its pools; gunicorn's log:\n{service.log_text()[-6000:]}",
    )
    assert service.wait_exit(30) == 0
    answered = load.stats.answered
    wait_until(lambda: load.stats.answered >= answered + 10, 20, message="no answers from the new master")
    stats = load.stop()
    assert_all_answered_once(mongo, stats)
    assert requests.get(service.base_url + "/health/ready", timeout=5).status_code == 200
    print(
        f"\nHUP/TTOU/TTIN then USR2: requests {stats.requests} ({after_ttin} before USR2), answered "
        f"{stats.answered}, retried {stats.retried}, statuses {dict(stats.statuses)}"
    )
