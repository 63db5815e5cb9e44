"""Two service instances (two gunicorn masters, two workers each) behind HAProxy from deploy/haproxy.cfg,
sharing one MongoDB and one Redis: shared rate limits, one Idempotency-Key at both instances at once, and a
rolling restart under load with clients that retry as the README says. The long variant: make production."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
import requests
from tests.support.chat import SEND
from tests.support.secret_scan import SecretScan

from tools.harness.fleet import ConversationLoad, Fleet, audit
from tools.harness.upstream import UpstreamServer

pytestmark = pytest.mark.slow

OPENAI_KEY = "sk-fleet-" + "3f9c1e7a5b2d4c6e"


@pytest.fixture
def fleet_factory(
    make_mongo: Callable[..., Any],
    make_redis: Callable[..., Any],
    make_gunicorn: Callable[..., Any],
    make_router: Callable[..., Any],
    upstream: UpstreamServer,
) -> Callable[..., Fleet]:
    def build(env: dict[str, str] | None = None, router: bool = True) -> Fleet:
        base = {
            "AGENT_PROVIDER": "openai",
            "OPENAI_BASE_URL": upstream.base_url,
            "OPENAI_API_KEY": OPENAI_KEY,
            "HEALTH_CACHE_SECONDS": "0.5",
        }
        return Fleet(make_mongo(), make_redis(), make_gunicorn, make_router, env=base | (env or {}), router=router)

    return build


LIMITED_KEY = "key-limited-0123456789abcdef"
OTHER_KEY = "key-other-0123456789abcdef01"


def test_rate_limit_and_idempotency_are_shared_across_instances(
    fleet_factory: Callable[..., Fleet], upstream: UpstreamServer
) -> None:
    # Limits count per API key: one key spends its limit, the other shows one key's turn at both instances.
    fleet = fleet_factory({"RATE_LIMIT": "10/minute", "API_KEYS": f"{LIMITED_KEY},{OTHER_KEY}"}, router=False)
    limited = {"Authorization": f"Bearer {LIMITED_KEY}"}
    statuses = [
        requests.get(
            fleet.instances[i % 2].base_url + "/api/chat/sessions/0123456789abcdef01234567", headers=limited, timeout=10
        ).status_code
        for i in range(24)
    ]
    assert statuses.count(429) == 14, statuses
    assert len(statuses) - statuses.count(429) == 10

    upstream.configure(delay=1.0)  # the turn is still running when the second copy arrives
    upstream.clear_requests()
    body = {"message": "Both at once: a week in Kyoto", "session_id": None}
    headers = {"Idempotency-Key": "both-at-once-1", "Authorization": f"Bearer {OTHER_KEY}"}
    start = threading.Barrier(2)
    answers: list[requests.Response] = []

    def post(instance: Any) -> None:
        start.wait()
        answers.append(requests.post(instance.base_url + SEND, json=body, timeout=30, headers=headers))

    threads = [threading.Thread(target=post, args=(instance,)) for instance in fleet.instances]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    statuses = sorted(response.status_code for response in answers)
    # One runs the turn; the other is told to retry (409, Retry-After) or, if it arrived after, gets the answer.
    assert statuses in ([200, 200], [200, 409]), [(r.status_code, r.text) for r in answers]
    winner = next(r for r in answers if r.status_code == 200).json()
    if statuses == [200, 409]:
        loser = next(r for r in answers if r.status_code == 409)
        assert loser.headers["Retry-After"] and loser.json()["code"] == 409
    else:
        assert len({r.json()["message_id"] for r in answers}) == 1
    # A retry at either instance replays the one answer.
    for instance in fleet.instances:
        replay = requests.post(instance.base_url + SEND, json=body, headers=headers, timeout=30)
        assert replay.status_code == 200 and replay.headers["Idempotent-Replayed"] == "true"
        assert replay.json()["message_id"] == winner["message_id"]
    assert len(upstream.requests) == 1
    stored = fleet.mongo.client()["travel_agent"]["chat_messages"]
    assert stored.count_documents({"content": body["message"]}) == 1
    assert stored.count_documents({"session_id": winner["session_id"]}) == 2
    scan = SecretScan()
    for secret in (LIMITED_KEY, OTHER_KEY, OPENAI_KEY):
        scan.secret(secret)
    scan.watch(*fleet.instances)
    scan.bodies += [r.text for r in answers]
    scan.assert_clean()


def test_rolling_restart_under_load_answers_every_turn_exactly_once(
    fleet_factory: Callable[..., Fleet], upstream: UpstreamServer, wait_until: Callable[..., Any]
) -> None:
    upstream.configure(delay=0.3)  # turns are in flight when an instance is told to drain
    fleet = fleet_factory()
    load = ConversationLoad(fleet.url, clients=6).start()
    wait_until(lambda: load.stats.answered >= 12, 20, message="no load through the router")
    records = fleet.rolling_restart()
    after = load.stats.answered
    wait_until(lambda: load.stats.answered >= after + 12, 20, message="no answers after the restart")
    stats = load.stop()
    found = audit(fleet.mongo, stats)
    assert stats.gave_up == 0, stats
    assert found.lost == [] and found.duplicated == [], found
    assert stats.answered == len(stats.acknowledged) == stats.turns_started
    assert len({message_id for _, _, message_id in stats.acknowledged}) == stats.answered
    assert all(record.exit_code == 0 for record in records), records
    # After SIGTERM the instance's readiness is 503 and its listener closed, but the router learns that only at
    # its next check (inter 1s): until then it may still send requests over connections it keeps alive to the
    # instance, which the draining instance answers. After the router marked it DOWN it sends it nothing.
    assert fleet.router is not None
    routed = fleet.router.routed()
    figures = []
    for record in records:
        to_it = [r for r in routed if r.server == record.instance and record.sigterm_at < r.at < record.ready_at]
        after_down = [r for r in to_it if r.at > record.router_down_at + 0.01]
        assert after_down == [], (record, after_down)
        assert all(r.status == 200 for r in to_it), to_it  # what it still got while draining, it answered
        assert record.router_gap < 2.5, record  # inter 1s, fall 1: about one check interval
        last = max((r.at - record.sigterm_at for r in to_it), default=0.0)
        figures.append(
            f"{record.instance}: router DOWN {record.router_gap * 1000:.0f} ms after SIGTERM, "
            f"{len(to_it)} request(s) still routed to it while draining (last {last * 1000:.0f} ms "
            f"after SIGTERM), all answered"
        )
    print(
        f"\nrolling restart: requests {stats.requests}, answered {stats.answered}, retried {stats.retried}, "
        f"replayed {stats.replayed}, lost {len(found.lost)}, duplicated {len(found.duplicated)}, "
        f"statuses {dict(stats.statuses)}; " + "; ".join(figures)
    )
    scan = SecretScan()
    scan.secret(OPENAI_KEY)
    scan.watch(*fleet.instances, fleet.router)
    scan.bodies.append(str(stats.statuses))
    scan.assert_clean()
