"""The floor of a chat turn: the MongoDB and Redis operations of ``POST /api/chat/send`` issued directly, by
greenlets of one gevent process (as a worker runs them), with the service's own driver settings.

Run as ``python -m tools.benchmarks.chat_floor --mongo URI --redis URL --concurrency N --duration S``; prints one
JSON line. Per turn, exactly what ChatService.begin and .finish send (see travel_agent.chat): reserve two
positions (findAndModify, upserting a new session), insert the question, one aggregation listing the positions
of the context and checking the session still exists, read the cached context (GET, unless the list is empty;
the messages it lacks from MongoDB), insert the answer, cache the context (SET), check the session again
(find). The answer text is the offline agent's, computed once beforehand: composing it is the service's work,
not the storage's.
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

from tools.benchmarks.conversation import MESSAGES  # noqa: E402
from travel_agent.agent.interface import Turn  # noqa: E402
from travel_agent.agent.offline import reply  # noqa: E402
from travel_agent.backends.mongo import create_client  # noqa: E402
from travel_agent.backends.redis_store import create_pool  # noqa: E402
from travel_agent.chat.context_cache import TTL_SECONDS  # noqa: E402
from travel_agent.chat.context_cache import key as context_key  # noqa: E402
from travel_agent.config import Settings  # noqa: E402


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
        self.sessions, self.messages = self.db["chat_sessions"], self.db["chat_messages"]
        self.redis = redis.Redis(connection_pool=create_pool(settings))
        self.limit = limit
        self.answers = answers()
        self.messages.create_index([("session_id", ASCENDING), ("seq", ASCENDING)], name="session_seq", unique=True)

    def _cache(self, session_id: str, messages: list[dict[str, Any]]) -> None:
        newest = sorted(messages, key=lambda m: m["seq"])[-(self.limit + 1) :]
        self.redis.set(context_key(session_id), json.dumps({"messages": newest}), ex=TTL_SECONDS)

    def _confirm(self, session_id: str) -> None:
        if self.sessions.find_one({"_id": session_id}, projection={"_id": 1}) is None:
            raise RuntimeError("session deleted")

    def turn(self, session_id: str, new: bool, index: int) -> None:
        moment = now()
        session = self.sessions.find_one_and_update(
            {"_id": session_id},
            {"$inc": {"seq": 2}, "$set": {"updated_at": moment}, "$setOnInsert": {"created_at": moment}},
            upsert=new,
            return_document=ReturnDocument.AFTER,
            projection={"seq": 1},
        )
        seq = int(session["seq"]) - 1
        question = {
            "_id": secrets.token_urlsafe(16),
            "session_id": session_id,
            "seq": seq,
            "role": "user",
            "content": MESSAGES[index],
            "created_at": now(),
        }
        self.messages.insert_one(question)
        # One command: which messages make up the context, and whether the session still exists.
        docs = list(
            self.messages.aggregate(
                [
                    {"$match": {"session_id": session_id, "seq": {"$lt": seq}}},
                    {"$sort": {"seq": DESCENDING}},
                    {"$limit": self.limit},
                    {"$project": {"_id": 1, "seq": 1}},
                    {
                        "$unionWith": {
                            "coll": "chat_sessions",
                            "pipeline": [{"$match": {"_id": session_id}}, {"$project": {"_id": 1}}],
                        }
                    },
                ]
            )
        )
        if not any("seq" not in d for d in docs):
            raise RuntimeError("session deleted")
        listed = [(d["seq"], d["_id"]) for d in reversed(docs) if "seq" in d]
        history: list[dict[str, Any]] = []
        if listed:  # their text from Redis when it has them, else from MongoDB
            raw = self.redis.get(context_key(session_id))
            cached = {m["id"]: m for m in json.loads(raw)["messages"]} if raw is not None else {}
            found = {id_: cached[id_] for s, id_ in listed if id_ in cached and cached[id_]["seq"] == s}
            missing = [id_ for _s, id_ in listed if id_ not in found]
            if missing:
                found |= {
                    d["_id"]: _encode(d)
                    for d in self.messages.find({"session_id": session_id, "_id": {"$in": missing}})
                }
            history = [found[id_] for _s, id_ in listed if id_ in found]
        answer = {
            "_id": secrets.token_urlsafe(16),
            "session_id": session_id,
            "seq": seq + 1,
            "role": "assistant",
            "content": self.answers[index],
            "created_at": now(),
            "reply_to": question["_id"],
        }
        self.messages.insert_one(answer)
        self._cache(session_id, [*history, _encode(question), _encode(answer)])
        self._confirm(session_id)


def _encode(doc: dict[str, Any]) -> dict[str, Any]:
    if "id" in doc:
        return doc  # already in the cache's form
    created = doc["created_at"]
    return {
        "id": doc["_id"],
        "seq": doc["seq"],
        "role": doc["role"],
        "content": doc["content"],
        "created_at": created.isoformat() if isinstance(created, datetime) else created,
        "reply_to": doc.get("reply_to"),
    }


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

    gevent.joinall(
        [gevent.spawn(client) for _ in range(concurrency)] + [gevent.spawn(clock)], timeout=warmup + duration + 60
    )
    latencies.sort()

    def pct(p: float) -> float | None:
        return round(latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1000, 2) if latencies else None

    cpu_us = (cpu[1] - cpu[0]) / len(latencies) * 1e6 if len(cpu) == 2 and latencies else None
    return {
        "requests": len(latencies),
        "duration_s": duration,
        "rps": round(len(latencies) / duration, 1),
        "latency_ms": {"p50": pct(50), "p90": pct(90), "p99": pct(99)},
        "cpu_us_per_request": None if cpu_us is None else round(cpu_us, 1),
        "all_turns": turns[0],
    }


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
