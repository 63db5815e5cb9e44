"""nginx with TLS from deploy/nginx.conf in front of real service instances, as HAProxy is tested in
test_fleet.py and test_heroku_router.py: streams pass unbuffered with their heartbeats, two instances share the
load, a rolling restart under load loses and duplicates no turn, and nginx's own errors are the JSON envelope."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from tests.support.chat import STREAM, blocks, parse_block

from tools.harness import ServerPool, free_port
from tools.harness.envelope import assert_envelope
from tools.harness.fleet import ConversationLoad, Fleet, audit
from tools.harness.nginx import CONFIG, nginx_binary, render
from tools.harness.tls import CertificateAuthority, ServerCert
from tools.harness.upstream import UpstreamServer

pytestmark = pytest.mark.slow

HEARTBEAT_SECONDS = 0.5
MODEL_DELAY_SECONDS = 3.0


@pytest.fixture
def tls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[ServerCert, Path]:
    ca = CertificateAuthority(tmp_path / "ca")
    # Every requests call of this test (the load's sessions included) trusts the test CA, as a client would
    # trust a real certificate; nothing is sent with verification off.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca.cert))
    return ca.server("nginx"), ca.cert


@pytest.fixture
def make_nginx(
    tmp_path_factory: pytest.TempPathFactory, make_gunicorn: Callable[..., Any]
) -> Iterator[Callable[..., Any]]:
    """Depends on make_gunicorn so that nginx is stopped before the instances behind it."""
    with ServerPool(tmp_path_factory.mktemp) as pool:
        yield pool.nginx


def test_the_envsubst_line_names_every_variable_the_file_uses() -> None:
    text = render(
        CONFIG.read_text(),
        {
            "NGINX_LISTEN": "127.0.0.1:18443",
            "TLS_CERT": "/etc/ssl/certs/ssl-cert-snakeoil.pem",
            "TLS_KEY": "/etc/ssl/private/ssl-cert-snakeoil.key",
            "APP1_ADDR": "127.0.0.1:18001",
            "APP2_ADDR": "127.0.0.1:18002",
        },
    )
    # The envsubst line in the file's header names exactly the variables the file uses.
    header_line = next(line for line in CONFIG.read_text().splitlines() if "envsubst '" in line)
    named = set(header_line.split("'")[1].split())
    used = set(re.findall(r"\$\{[A-Z0-9_]+\}", CONFIG.read_text()))
    assert named == used, (named, used)
    assert not re.search(r"\$\{[A-Z0-9_]+\}", text)  # render() fills them all (it raises otherwise)


def test_nginxs_own_error_is_the_envelope_with_retry_after(
    make_nginx: Callable[..., Any], tls: tuple[ServerCert, Path]
) -> None:
    cert, ca = tls
    # Nothing listens at either instance's address.
    nginx = make_nginx({"app1": free_port(), "app2": free_port()}, cert, ca)
    answer = requests.get(nginx.base_url + "/api/chat/sessions/0123456789abcdef01234567", timeout=30)
    body = assert_envelope(answer, 503, "Service Unavailable")
    assert answer.headers["Retry-After"] == "1" and body["error"] == "no_instance"  # docs/api.md lists it
    mine = requests.get(nginx.base_url + "/health", headers={"X-Request-ID": "client-id-7"}, timeout=30)
    assert assert_envelope(mine, 503)["request_id"] == "client-id-7"
    # A client's id the service would not keep is not pasted into the JSON: nginx's own id stands in.
    hostile = requests.get(nginx.base_url + "/health", headers={"X-Request-ID": 'x","code":200'}, timeout=30)
    assert assert_envelope(hostile, 503)["request_id"] != 'x","code":200'
    assert body["request_id"] == answer.headers["X-Request-ID"]
    check = subprocess.run(
        [nginx_binary(), "-t", "-e", "stderr", "-p", str(nginx.workdir), "-c", str(nginx.config_path)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert check.returncode == 0, check.stderr


def test_a_stream_passes_unbuffered_over_tls_with_its_heartbeats(
    make_mongo: Callable[..., Any],
    make_redis: Callable[..., Any],
    make_gunicorn: Callable[..., Any],
    make_nginx: Callable[..., Any],
    upstream: UpstreamServer,
    tls: tuple[ServerCert, Path],
) -> None:
    cert, ca = tls
    service = make_gunicorn(
        mongo_uri=make_mongo().uri,
        redis_url=make_redis().url,
        env={
            "AGENT_PROVIDER": "openai",
            "OPENAI_BASE_URL": upstream.base_url,
            "OPENAI_API_KEY": "sk-nginx-" + "0123456789abcdef",
            "CHAT_HEARTBEAT_SECONDS": str(HEARTBEAT_SECONDS),
        },
    )
    nginx = make_nginx({"app1": service.port, "app2": service.port}, cert, ca)
    upstream.configure(delay=MODEL_DELAY_SECONDS)
    started = time.monotonic()
    arrivals: list[tuple[float, str]] = []
    with requests.post(nginx.base_url + STREAM, json={"message": "a week in Sicily"}, stream=True, timeout=30) as r:
        assert r.status_code == 200, r.text
        assert r.headers["Content-Type"].startswith("text/event-stream")
        for block in blocks(r.iter_content(chunk_size=None)):
            arrivals.append((time.monotonic() - started, parse_block(block)[0]))
    kinds = [kind for _, kind in arrivals]
    assert kinds[0] == "start" and kinds[-1] == "done", kinds
    # Unbuffered: the start event and the heartbeats arrive while the model is still thinking, one by one.
    assert arrivals[0][0] < MODEL_DELAY_SECONDS / 2, arrivals
    beats = [at for at, kind in arrivals if kind == "comment"]
    assert len(beats) >= 3, arrivals
    assert beats[0] < MODEL_DELAY_SECONDS / 2, arrivals
    gaps = [later - earlier for (earlier, _), (later, _) in zip(arrivals, arrivals[1:], strict=False)]
    assert max(gaps) < HEARTBEAT_SECONDS * 4, gaps
    assert arrivals[-1][0] >= MODEL_DELAY_SECONDS


def test_two_instances_and_a_rolling_restart_under_load_lose_and_duplicate_nothing(
    make_mongo: Callable[..., Any],
    make_redis: Callable[..., Any],
    make_gunicorn: Callable[..., Any],
    make_router: Callable[..., Any],
    make_nginx: Callable[..., Any],
    upstream: UpstreamServer,
    tls: tuple[ServerCert, Path],
    wait_until: Callable[..., Any],
) -> None:
    cert, ca = tls
    env = {
        "AGENT_PROVIDER": "openai",
        "OPENAI_BASE_URL": upstream.base_url,
        "OPENAI_API_KEY": "sk-nginx-" + "0123456789abcdef",
    }
    fleet = Fleet(make_mongo(), make_redis(), make_gunicorn, make_router, env=env, router=False)
    nginx = make_nginx({f"app{i}": s.port for i, s in enumerate(fleet.instances, 1)}, cert, ca)
    upstream.configure(delay=0.3)  # turns are in flight when an instance is told to drain
    load = ConversationLoad(nginx.base_url, clients=6).start()
    wait_until(lambda: load.stats.answered >= 12, 30, message="no load through nginx")
    exit_codes = []
    for instance in fleet.instances:
        instance.terminate()
        exit_codes.append(instance.wait_exit(60))
        instance.start()
        answered = load.stats.answered
        wait_until(lambda a=answered: load.stats.answered >= a + 6, 30, message="no answers after a restart")
    stats = load.stop()
    found = audit(fleet.mongo, stats)
    assert exit_codes == [0, 0], exit_codes
    assert stats.gave_up == 0, stats
    assert found.lost == [] and found.duplicated == [], found
    assert stats.answered == len(stats.acknowledged) == stats.turns_started
    served = nginx.served_by()
    addresses = {f"127.0.0.1:{s.port}" for s in fleet.instances}
    used = {upstream_addr for _, upstream_addr, status, _ in served if status == 200}
    assert addresses <= used, (addresses, used)  # both instances answered turns
    print(
        f"\nnginx rolling restart: requests {stats.requests}, answered {stats.answered}, retried {stats.retried}, "
        f"replayed {stats.replayed}, lost {len(found.lost)}, duplicated {len(found.duplicated)}, "
        f"statuses {dict(stats.statuses)}"
    )
