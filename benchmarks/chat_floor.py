"""The floor of a chat turn: the MongoDB and Redis operations of ``POST /api/chat/send`` issued directly, by
greenlets of one gevent process (as a worker runs them), with the service's own driver settings.

Run as ``python -m benchmarks.chat_floor --mongo URI --redis URL --concurrency N --duration S``; prints one
JSON line. Per turn, exactly what ChatService.begin and .finish send (see travel_agent.chat): reserve two
positions (findAndModify, upserting a new session), insert the question, bump the version (findAndModify),
read the cached context (GET; on a miss the last messages from MongoDB), cache it (SET), insert the answer,
bump the version, cache again (SET). The answer text is the offline agent's, computed once beforehand:
composing it is the service's work, not the storage's.
"""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402  (everything below must load after gevent patched the standard library)
import json  # noqa: E402
import os  # noqa: E402
import secrets  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from typing import Any  # noqa: E402

import gevent  # noqa: E402
import redis  # noqa: E402
from pymongo import ASCENDING, DESCENDING, ReturnDocument  # noqa: E402

from benchmarks.conversation import MESSAGES  # noqa: E402
from travel_agent.agent.interface import Turn  # noqa: E402
from travel_agent.agent.offline import reply  # noqa: E402
from travel_agent.backends.mongo import create_client  # noqa: E402
from travel_agent.backends.redis_store import create_pool  # noqa: E402
from travel_agent.config import Settings  # noqa: E402

TTL_SECONDS = 3600


def now() -> datetime:
    moment = datetime.now(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def answers() -> list[str]:
    """The offline agent's answer to each turn of the conversation."""
    history: list[Turn] = []
    out = []
    for message in MESSAGES:
        text = reply(history, message)
        history += [Turn("user", message), Turn("assistant", text)]
        out.append(text)
    return out


class Floor:
    def __init__(self, settings: Settings, limit: int) -> None:
        client = create_client(settings)
        self.db = client[settings.mongodb_db]
        self.redis = redis.Redis(connection_pool=create_pool(settings))
        self.limit = limit
        self.answers = answers()
        self.db["chat_messages"].create_index([("session_id", ASCENDING), ("seq", ASCENDING)], name="session_seq",
                                              unique=True)

    def _bump(self, session_id: str) -> int:
        session = self.db["chat_sessions"].find_one_and_update(
            {"_id": session_id}, {"$inc": {"version": 1}}, return_document=ReturnDocument.AFTER,
            projection={"version": 1})
        return int(session["version"])

    def _cache(self, session_id: str, version: int, messages: list[dict[str, Any]]) -> None:
        entry = json.dumps({"version": version, "messages": [_encode(m) for m in messages[-self.limit:]]})
        self.redis.set(f"chat:context:{session_id}", entry, ex=TTL_SECONDS)

    def turn(self, session_id: str, new: bool, index: int) -> None:
        moment = now()
        session = self.db["chat_sessions"].find_one_and_update(
            {"_id": session_id},
            {"$inc": {"seq": 2}, "$set": {"updated_at": moment}, "$setOnInsert": {"created_at": moment, "version": 0}},
            upsert=new, return_document=ReturnDocument.AFTER, projection={"seq": 1})
        seq = int(session["seq"]) - 1
        question = {"_id": secrets.token_urlsafe(16), "session_id": session_id, "seq": seq, "role": "user",
                    "content": MESSAGES[index], "created_at": now()}
        self.db["chat_messages"].insert_one(question)
        version = self._bump(session_id)
        raw = self.redis.get(f"chat:context:{session_id}")
        recent = None
        if raw is not None:
            entry = json.loads(raw)
            if entry["version"] == version - 1:
                recent = entry["messages"]
        if recent is None:
            docs = list(self.db["chat_messages"].find({"session_id": session_id}).sort("seq", DESCENDING)
                        .limit(self.limit + 1))
            recent = [_encode(d) for d in reversed(docs)]
        context = [*[m for m in recent if m["id"] != question["_id"]], _encode(question)]
        self._cache(session_id, version, context)
        answer = {"_id": secrets.token_urlsafe(16), "session_id": session_id, "seq": seq + 1, "role": "assistant",
                  "content": self.answers[index], "created_at": now(), "reply_to": question["_id"]}
        self.db["chat_messages"].insert_one(answer)
        version2 = self._bump(session_id)
        if version2 == version + 1:
            self._cache(session_id, version2, [*context, _encode(answer)])


def _encode(doc: dict[str, Any]) -> dict[str, Any]:
    if "id" in doc:
        return doc  # already in the cache's form
    created = doc["created_at"]
    return {"id": doc["_id"], "seq": doc["seq"], "role": doc["role"], "content": doc["content"],
            "created_at": created.isoformat() if isinstance(created, datetime) else created,
            "reply_to": doc.get("reply_to")}


def run(floor: Floor, concurrency: int, duration: float, warmup: float) -> dict[str, Any]:
    """``concurrency`` greenlets each holding conversations of len(MESSAGES) turns back to back."""
    start = time.monotonic()
    measure_from, stop = start + warmup, start + warmup + duration
    latencies: list[float] = []
    turns = [0]

    def client() -> None:
        while time.monotonic() < stop:
            session_id = secrets.token_urlsafe(24)
            for index in range(len(MESSAGES)):
                began = time.monotonic()
                floor.turn(session_id, index == 0, index)
                turns[0] += 1
                ended = time.monotonic()
                if measure_from <= began and ended <= stop:
                    latencies.append(ended - began)

    cpu: list[float] = []

    def clock() -> None:  # this process's CPU time over the measured window only
        for moment in (measure_from, stop):
            gevent.sleep(max(0.0, moment - time.monotonic()))
            times = os.times()
            cpu.append(times.user + times.system)

    gevent.joinall([gevent.spawn(client) for _ in range(concurrency)] + [gevent.spawn(clock)],
                   timeout=warmup + duration + 60)
    latencies.sort()

    def pct(p: float) -> float | None:
        return round(latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1000, 2) if latencies else None

    cpu_us = (cpu[1] - cpu[0]) / len(latencies) * 1e6 if len(cpu) == 2 and latencies else None
    return {"requests": len(latencies), "duration_s": duration, "rps": round(len(latencies) / duration, 1),
            "latency_ms": {"p50": pct(50), "p90": pct(90), "p99": pct(99)},
            "cpu_us_per_request": None if cpu_us is None else round(cpu_us, 1), "all_turns": turns[0]}


def conversations(floor: Floor, count: int) -> dict[str, Any]:
    """``count`` whole conversations one after the other (for counting the operations of a turn)."""
    for _ in range(count):
        session_id = secrets.token_urlsafe(24)
        for index in range(len(MESSAGES)):
            floor.turn(session_id, index == 0, index)
    return {"requests": count * len(MESSAGES)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--mongo", required=True)
    p.add_argument("--redis", required=True)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--duration", type=float, default=5.0)
    p.add_argument("--warmup", type=float, default=1.0)
    p.add_argument("--conversations", type=int, default=0, help="run exactly this many conversations, then stop")
    args = p.parse_args(argv)
    settings = Settings.from_env(overrides={"MONGODB_URI": args.mongo, "REDIS_URL": args.redis})
    limit = int(getattr(settings, "chat_history_messages", 20))
    floor = Floor(settings, limit)
    if args.conversations:
        result = conversations(floor, args.conversations)
    else:
        result = run(floor, args.concurrency, args.duration, args.warmup)
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
