"""Several service instances behind HAProxy, sharing one MongoDB and one Redis; clients that retry as the
README tells them to; and an audit of what MongoDB holds afterwards. Used by tests/production and by the
long variant, ``python -m tools.production`` (make production)."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import requests

from .gunicorn_server import GunicornServer
from .mongo_server import MongoServer
from .redis_server import RedisServer
from .router import HAProxyRouter
from .waiting import wait_until

SEND = "/api/chat/send"
# What a client retries with the same Idempotency-Key: the instance is draining or restarting (503, or the
# router's 502/503/504), the key's first attempt still runs (409), or the connection failed.
RETRY_STATUSES = {409, 502, 503, 504}


class Fleet:
    """``instances`` gunicorn masters (``workers`` each) on fixed ports and a router in front of them.

    ``make_gunicorn`` and ``make_router`` are the ServerPool's (or the fixtures'), so teardown stays theirs.
    """

    def __init__(
        self,
        mongo: MongoServer,
        redis: RedisServer,
        make_gunicorn: Callable[..., GunicornServer],
        make_router: Callable[..., HAProxyRouter],
        *,
        env: Mapping[str, str] | None = None,
        instances: int = 2,
        workers: int = 2,
        router: bool = True,
        router_replace: dict[str, str] | None = None,
    ) -> None:
        self.mongo, self.redis = mongo, redis
        with ThreadPoolExecutor(instances) as starting:
            self.instances: list[GunicornServer] = list(
                starting.map(
                    lambda _: make_gunicorn(mongo_uri=mongo.uri, redis_url=redis.url, workers=workers, env=env),
                    range(instances),
                )
            )
        self.router: HAProxyRouter | None = None
        if router:
            self.router = make_router(
                {f"app{i}": s.port for i, s in enumerate(self.instances, 1)}, replace=router_replace
            )
            self.wait_all_up()

    @property
    def url(self) -> str:
        assert self.router is not None
        return self.router.base_url

    def wait_all_up(self, timeout: float = 20.0) -> None:
        assert self.router is not None
        router = self.router
        wait_until(
            lambda: all(state == "UP" for state in router.server_states().values()),
            timeout,
            message=lambda: f"router never saw every instance UP: {router.server_states()}",
        )

    def rolling_restart(self, on_drain_start: Callable[[str, float], None] | None = None) -> list[RestartRecord]:
        """Each instance in turn: SIGTERM, wait for it to exit (its drain), start it again on the same port,
        wait until the router has it UP again. Returns when each step happened."""
        assert self.router is not None
        router = self.router
        records: list[RestartRecord] = []
        for index, instance in enumerate(self.instances, 1):
            name = f"app{index}"
            record = RestartRecord(name, sigterm_at=time.time())
            if on_drain_start is not None:
                on_drain_start(name, record.sigterm_at)
            instance.terminate()
            # The router's view, polled closely: when it took the draining instance out of the rotation.
            wait_until(
                lambda n=name: router.server_states()[n].startswith("DOWN"),
                30,
                interval=0.02,
                message=f"router never marked {name} DOWN",
            )
            record.router_down_at = time.time()
            record.exit_code = instance.wait_exit(60)
            record.exited_at = time.time()
            instance.start()
            record.ready_at = time.time()
            wait_until(
                lambda n=name: router.server_states()[n] == "UP",
                30,
                interval=0.05,
                message=f"router never marked {name} UP again",
            )
            record.router_up_at = time.time()
            records.append(record)
        return records


@dataclass
class RestartRecord:
    instance: str
    sigterm_at: float
    router_down_at: float = 0.0
    exit_code: int | None = None
    exited_at: float = 0.0
    ready_at: float = 0.0
    router_up_at: float = 0.0

    @property
    def router_gap(self) -> float:
        """Seconds from SIGTERM (readiness 503, listener closed) until the router marked the instance DOWN."""
        return self.router_down_at - self.sigterm_at


@dataclass
class LoadStats:
    turns_started: int = 0
    requests: int = 0  # HTTP attempts, retries included
    answered: int = 0  # turns that got their 200
    retried: int = 0  # attempts that were retried (a retryable status or a connection error)
    replayed: int = 0  # 200s marked Idempotent-Replayed: the answer of an earlier attempt
    gave_up: int = 0  # turns never answered within the client's patience
    statuses: Counter[str] = field(default_factory=Counter)
    # (session_id, turn message) of every answered turn, for the audit
    acknowledged: list[tuple[str, str, str]] = field(default_factory=list)


class ConversationLoad:
    """``clients`` threads, each holding conversations through ``base_url``: every turn carries an
    Idempotency-Key and is retried with it (same body) on 409/502/503/504 and connection errors, for at
    most ``patience`` seconds. A conversation has ``turns_per_session`` turns, then a new one starts."""

    def __init__(
        self,
        base_url: str,
        *,
        clients: int = 6,
        turns_per_session: int = 4,
        patience: float = 60.0,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.base_url = base_url
        self.clients = clients
        self.turns_per_session = turns_per_session
        self.patience = patience
        self.headers = dict(headers or {})
        self.stats = LoadStats()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.run_id = uuid.uuid4().hex[:8]

    def start(self) -> ConversationLoad:
        for index in range(self.clients):
            thread = threading.Thread(target=self._client, args=(index,), name=f"load-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self, timeout: float = 90.0) -> LoadStats:
        """Let each client finish the turn it is on (answered or given up), then return the figures."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
            if thread.is_alive():
                raise AssertionError(f"{thread.name} still running after {timeout}s")
        return self.stats

    def _count(self, **deltas: int) -> None:
        with self._lock:
            for name, delta in deltas.items():
                setattr(self.stats, name, getattr(self.stats, name) + delta)

    def _client(self, index: int) -> None:
        http = requests.Session()
        conversation = 0
        while not self._stop.is_set():
            conversation += 1
            session_id: str | None = None
            for turn in range(self.turns_per_session):
                if self._stop.is_set():
                    break
                message = f"c{index} s{conversation} t{turn} {self.run_id} trip to Lisbon"
                answer = self._turn(http, message, session_id, f"{self.run_id}-c{index}-s{conversation}-t{turn}")
                if answer is None:
                    break  # the conversation is abandoned; a new one starts
                session_id = answer["session_id"]
                with self._lock:
                    self.stats.acknowledged.append((session_id, message, answer["message_id"]))

    def _turn(self, http: requests.Session, message: str, session_id: str | None, key: str) -> dict[str, Any] | None:
        self._count(turns_started=1)
        deadline = time.monotonic() + self.patience
        while True:
            self._count(requests=1)
            try:
                response = http.post(
                    self.base_url + SEND,
                    json={"message": message, "session_id": session_id},
                    headers={"Idempotency-Key": key, **self.headers},
                    timeout=30,
                )
            except requests.RequestException as exc:
                status = type(exc).__name__
                http = requests.Session()  # the connection may be broken; a fresh one
            else:
                status = str(response.status_code)
                if response.status_code == 200:
                    with self._lock:
                        self.stats.statuses[status] += 1
                        self.stats.answered += 1
                        self.stats.replayed += response.headers.get("Idempotent-Replayed") == "true"
                    result: dict[str, Any] = response.json()
                    return result
                if response.status_code not in RETRY_STATUSES:
                    raise AssertionError(f"turn {key}: {response.status_code} {response.text[:300]}")
            with self._lock:
                self.stats.statuses[status] += 1
            if time.monotonic() > deadline:
                self._count(gave_up=1)
                return None
            self._count(retried=1)
            time.sleep(0.2)


@dataclass
class Audit:
    sessions: int
    messages: int
    lost: list[str]  # acknowledged turns whose user message or reply MongoDB does not hold
    duplicated: list[str]  # messages stored more than once

    def as_dict(self) -> dict[str, Any]:
        return {
            "sessions": self.sessions,
            "messages": self.messages,
            "lost": len(self.lost),
            "duplicated": len(self.duplicated),
        }


def audit(mongo: MongoServer, stats: LoadStats, database: str = "travel_agent") -> Audit:
    """Every acknowledged turn is in MongoDB exactly once (its message and the reply it was given), and no
    message of the run is stored twice."""
    messages = mongo.client()[database]["chat_messages"]
    sessions = {session_id for session_id, _, _ in stats.acknowledged}
    docs = list(messages.find({"session_id": {"$in": sorted(sessions)}}))
    user_texts = Counter((d["session_id"], d["content"]) for d in docs if d["role"] == "user")
    ids = {d["_id"] for d in docs}
    lost = [f"{s}: {m}" for s, m, reply_id in stats.acknowledged if user_texts[(s, m)] == 0 or reply_id not in ids]
    duplicated = [f"{s}: {m} x{n}" for (s, m), n in user_texts.items() if n > 1]
    # A turn has one reply: as many assistant messages as user messages in each session.
    per_session = Counter((d["session_id"], d["role"]) for d in docs)
    duplicated += [
        f"{s}: {per_session[(s, 'assistant')]} replies to {per_session[(s, 'user')]} messages"
        for s in sessions
        if per_session[(s, "assistant")] > per_session[(s, "user")]
    ]
    return Audit(len(sessions), len(docs), lost, duplicated)
