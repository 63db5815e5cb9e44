"""Self-tests of the harness: real servers started, broken and brought back the way app tests will."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable

import pymongo
import pytest
import redis
from pymongo import WriteConcern
from pymongo.errors import ConnectionFailure, OperationFailure

from tools.harness import MongoServer, RedisServer, free_port, timed, wait_until
from tools.harness.proctable import children_of, group_members, is_stopped

# -- helpers ------------------------------------------------------------------------------------------


def test_wait_until_returns_the_truthy_value() -> None:
    calls = iter([0, "", None, "done"])
    assert wait_until(lambda: next(calls), 1.0, interval=0.001) == "done"


def test_wait_until_raises_with_the_message() -> None:
    with pytest.raises(AssertionError, match="never true"):
        wait_until(lambda: False, 0.1, message="never true")


def test_wait_until_message_may_be_lazy() -> None:
    with pytest.raises(AssertionError, match="built late"):
        wait_until(lambda: False, 0.05, message=lambda: "built " + "late")


def test_timed_measures_the_call() -> None:
    deadline = time.monotonic() + 0.1
    result, seconds = timed(lambda: wait_until(lambda: time.monotonic() >= deadline, 1.0, interval=0.01))
    assert result is True
    assert 0.09 <= seconds < 1.0


def test_free_port_is_bindable_and_not_repeated() -> None:
    ports = {free_port() for _ in range(20)}
    assert len(ports) == 20
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", ports.pop()))


def test_children_are_seen_in_proc() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        assert child.pid in children_of(os.getpid())
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(10)
    assert child.pid not in children_of(os.getpid())


# -- SecantusDB ---------------------------------------------------------------------------------------


def test_mongo_answers_and_stores(mongo_server: MongoServer) -> None:
    client = mongo_server.client()
    assert client.admin.command("ping")["ok"] == 1
    client.harness_selftest.things.insert_one({"name": "stored"})
    assert client.harness_selftest.things.find_one({"name": "stored"}, {"_id": 0}) == {"name": "stored"}


def test_mongo_fail_command_blocks_a_find(mongo_server: MongoServer) -> None:
    client = mongo_server.client()
    things = client.harness_selftest.blocked
    things.insert_one({"n": 1})
    mongo_server.fail_command(["find"], block_ms=600, times=1)
    try:
        _, blocked = timed(lambda: things.find_one({"n": 1}))
        _, free = timed(lambda: things.find_one({"n": 1}))
    finally:
        mongo_server.clear_fail_points()
    assert 0.55 <= blocked < 3.0
    assert free < 0.5


def test_mongo_fail_command_error_code_only_for_its_app(mongo_server: MongoServer) -> None:
    mine = mongo_server.client(appname="victim")
    other = mongo_server.client()
    mongo_server.fail_command(["find"], error_code=2, app_name="victim")
    try:
        assert other.harness_selftest.things.find_one() is not None
        with pytest.raises(OperationFailure) as failure:
            mine.harness_selftest.things.find_one()
        assert failure.value.code == 2
    finally:
        mongo_server.clear_fail_points()
    assert mine.harness_selftest.things.find_one() is not None


def test_mongo_freeze_times_out_then_thaw_answers(make_mongo: Callable[..., MongoServer]) -> None:
    server = make_mongo()
    client = server.client(serverSelectionTimeoutMS=500, connectTimeoutMS=500, socketTimeoutMS=500)
    client.admin.command("ping")
    server.freeze()
    assert is_stopped(server.pid)
    started = time.monotonic()
    with pytest.raises(ConnectionFailure):
        client.admin.command("ping")
    assert time.monotonic() - started < 3.0  # a timeout of its own, not a hang
    server.thaw()
    assert client.admin.command("ping")["ok"] == 1


def test_mongo_kill_then_restart_keeps_data(make_mongo: Callable[..., MongoServer]) -> None:
    server = make_mongo()
    port, pid = server.port, server.pid
    # j=True: like mongod, SecantusDB flushes its journal every ~100 ms, and a w:1 write acknowledged just
    # before a SIGKILL is lost.
    kept = server.client().harness_selftest.get_collection("kept", write_concern=WriteConcern(j=True))
    kept.insert_one({"_id": "survivor"})
    assert server.kill() == -9
    assert not group_members(pid)
    with pytest.raises(ConnectionFailure):
        server.client(serverSelectionTimeoutMS=200).admin.command("ping")
    server.restart()
    assert (server.port, server.uri) == (port, f"mongodb://127.0.0.1:{port}/")
    assert server.pid != pid
    with pymongo.MongoClient(server.uri, serverSelectionTimeoutMS=2000) as client:
        assert client.harness_selftest.kept.find_one({"_id": "survivor"}) == {"_id": "survivor"}


# -- redis-server -------------------------------------------------------------------------------------


def test_redis_answers(redis_server: RedisServer) -> None:
    client = redis_server.client()
    assert client.ping() is True
    client.set("harness:selftest", "1")
    assert client.get("harness:selftest") == b"1"


def test_redis_freeze_times_out_then_thaw_answers(make_redis: Callable[..., RedisServer]) -> None:
    server = make_redis()
    client = server.client(socket_timeout=0.3)
    assert client.ping() is True
    server.freeze()
    started = time.monotonic()
    with pytest.raises(redis.TimeoutError):
        client.ping()
    assert time.monotonic() - started < 3.0  # one timeout, no retries with backoff
    server.thaw()
    assert client.ping() is True


def test_redis_restart_same_port_empty(make_redis: Callable[..., RedisServer]) -> None:
    server = make_redis()
    client = server.client()
    client.set("gone", "soon")
    pid, url = server.pid, server.url
    server.restart()
    assert server.url == url and server.pid != pid
    # No RDB, no AOF: a restarted redis is an empty cache, as the service must expect.
    assert client.get("gone") is None


def test_redis_kill_then_start(make_redis: Callable[..., RedisServer]) -> None:
    server = make_redis()
    assert server.kill() == -9
    assert not server.is_running()
    server.start()
    assert server.client().ping() is True


def test_stop_of_a_frozen_server_ends_it(make_redis: Callable[..., RedisServer]) -> None:
    server = make_redis()
    pid = server.pid
    server.freeze()
    server.stop()
    assert not server.is_running()
    assert not group_members(pid)


def test_start_moves_off_a_port_that_another_process_took(tmp_path_factory: pytest.TempPathFactory) -> None:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        # What free_port() cannot prevent: another process binding the port before the server does.
        server.port = taken
        try:
            server.start()
            assert server.port != taken
            assert server.client().ping() is True
        finally:
            server.close()
