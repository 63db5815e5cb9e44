"""Smoke-sized runs of the benchmark harness (tools/benchmarks/), so that it cannot rot: tiny loads, sane result files.

Benchmarks are not tests: nothing here asserts a speed, only that each part ran end to end and wrote figures.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tools.benchmarks import cli, health_bench, profiling, wrk
from tools.harness import REPO_ROOT
from tools.harness.stack import Stack

WRK_OUTPUT = """Running 1s test @ http://127.0.0.1:1/health/live
  1 threads and 2 connections
BENCH-JSON {"requests":1500,"duration_us":1000000,"bytes":300000,"errors":{"connect":0,"read":1,"write":0,\
"status":3,"timeout":0},"latency_us":{"p50":600,"p90":900,"p99":2500,"max":4000,"mean":700.5}}
"""


def _result(out: Path, part: str) -> dict:
    (path,) = out.glob(f"{part}-*.json")
    return json.loads(path.read_text())


@pytest.mark.slow
def test_health_benchmark_writes_a_sane_result(tmp_path: Path) -> None:
    assert (
        cli.main(
            ["health", "--runs", "1", "--duration", "1", "--connections", "2", "--warmup", "0", "--out", str(tmp_path)]
        )
        == 0
    )
    data = _result(tmp_path, "health")
    assert data["machine"]["nproc"] >= 1 and data["machine"]["date"]
    assert {r["path"] for r in data["runs"]} == {"/health/live", "/health/ready", "/health"}
    for run in data["runs"]:
        for side in ("floor", *health_bench.VARIANTS):
            assert run[side]["requests"] > 0 and run[side]["non_2xx"] == 0, run
        assert all(ratio > 0 for ratio in run["ratio"].values())
    assert set(data["summary"]) == {"/health/live", "/health/ready", "/health"}


def test_wrk_report_is_parsed() -> None:
    result = wrk.parse(WRK_OUTPUT)
    assert (result.requests, result.rps, result.non_2xx, result.socket_errors) == (1500, 1500.0, 3, 1)
    assert result.latency_ms["p99"] == 2.5


def test_chat_script_holds_the_conversation(tmp_path: Path) -> None:
    script = wrk.chat_script(tmp_path, "/api/chat/send", ['Say "hi"', "Then go"]).read_text()
    assert r'{[["Say \"hi\""]],[["Then go"]]}' in script and "BENCH-JSON" in script


def test_profile_is_summed_by_package_and_per_request(tmp_path: Path) -> None:
    raw = tmp_path / "raw.txt"
    raw.write_text(
        "handle (gunicorn/workers/base_async.py:1);wsgi_app (flask/app.py:2);live (travel_agent/api/health.py:3) 6\n"
        "handle (gunicorn/workers/base_async.py:1);access (gunicorn/glogging.py:4) 2\n"
        "run (gevent/hub.py:5);wait (gevent/hub.py:6) 2\n"
    )
    summary = profiling.summarize(raw, inclusive=("wsgi_app",))
    assert summary["busy_samples"] == 8 and summary["idle_pct"] == 20.0
    assert summary["self_by_package_pct"] == {"travel_agent": 75.0, "gunicorn": 25.0}
    assert profiling.per_request_us(summary, 400.0, "inclusive_pct") == {"wsgi_app": 300.0}


@pytest.mark.slow
def test_chat_benchmark_runs_both_sides_and_counts_the_same_operations(tmp_path: Path) -> None:
    assert cli.main(["chat", "--runs", "1", "--duration", "1", "--chat-connections", "2", "--out", str(tmp_path)]) == 0
    data = _result(tmp_path, "chat")
    (run,) = data["runs"]
    assert run["floor"]["requests"] > 0 and run["service"]["requests"] > 0 and run["service"]["non_2xx"] == 0
    assert data["operations"]["same"], data["operations"]


@pytest.mark.slow
def test_capacity_and_soak_benchmarks_write_their_figures(tmp_path: Path) -> None:
    assert (
        cli.main(
            [
                "capacity",
                "--delay",
                "0.5",
                "--steps",
                "4",
                "--cycles",
                "2",
                "--overload-seconds",
                "2",
                "--hold-chats",
                "8",
                "--hold-delay",
                "1",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    capacity = _result(tmp_path, "capacity")
    assert capacity["steps"][0]["statuses"].get("200", 0) > 0
    assert capacity["hold"]["statuses"] == {"200": 8}
    assert capacity["overload"]["requests"] > 0
    assert cli.main(["soak", "--minutes", "0.1", "--soak-clients", "2", "--out", str(tmp_path)]) == 0
    soak = _result(tmp_path, "soak")
    assert soak["memory"]["samples"] > 0 and soak["requests"].get("send 200", 0) > 0


@pytest.mark.slow
def test_layers_measure_every_layer(tmp_path: Path) -> None:
    with Stack() as stack:
        mongo, redis = stack.mongo(), stack.redis()
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "tools.benchmarks.layers",
                "--mongo",
                mongo.uri,
                "--redis",
                redis.url,
                "--calls",
                "20",
                "--repeats",
                "1",
            ],
            capture_output=True,
            text=True,
            cwd=REPO_ROOT,
            timeout=120,
            check=True,
        )
    layers = json.loads(out.stdout.strip().splitlines()[-1])
    assert set(layers) == {"/health/live", "/health/ready", "/health"}
    assert len(layers["/health/live"]) == 5 and all(us > 0 for us in layers["/health/live"].values())


@pytest.mark.slow
@pytest.mark.parametrize("environ", [[], ["--werkzeug-environ"]], ids=["server-environ", "werkzeug-environ"])
def test_chat_in_process_measures_every_side(tmp_path: Path, environ: list[str]) -> None:
    with Stack() as stack:
        mongo, redis = stack.mongo(), stack.redis()
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "tools.benchmarks.chat_inprocess",
                "--mongo",
                mongo.uri,
                "--redis",
                redis.url,
                "--conversations",
                "1",
                "--repeats",
                "1",
                *environ,
            ],
            capture_output=True,
            text=True,
            cwd=REPO_ROOT,
            timeout=180,
            check=True,
        )
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    assert figures["floor_us"] > 0 and figures["service_us"] > 0 and figures["ratio"] > 0
    assert figures["pair_ratio_median"] > 0 and len(figures["pair_ratio_quartiles"]) == 2
    # The framework floor ran too (one short repeat is too noisy to order it against the storage floor).
    assert figures["framework_us"] > 0 and figures["framework_ratio"] > 0
    assert figures["framework_pair_ratio_median"] > 0 and len(figures["framework_pair_ratio_quartiles"]) == 2
