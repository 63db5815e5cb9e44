"""MongoDB with SCRAM and TLS, Redis with a password and TLS: the service works with each URL form users
are given (Atlas-like, Heroku Redis-like), tells failures apart in words, and no secret leaks anywhere."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from pymongo.errors import PyMongoError
from redis.exceptions import RedisError
from tests.support.chat import SEND, session_path
from tests.support.secret_scan import SecretScan

from tools.harness import ServerPool
from tools.harness.ports import free_port
from tools.harness.tls import CertificateAuthority
from travel_agent.backends.mongo import MongoGateway, create_client
from travel_agent.backends.mongo import describe_failure as describe_mongo_failure
from travel_agent.backends.redis_store import create_probe_client
from travel_agent.backends.redis_store import describe_failure as describe_redis_failure
from travel_agent.config import Settings
from travel_agent.resilience.breaker import CircuitBreaker

pytestmark = pytest.mark.slow

# One attempt, short waits: each scenario is about the words, not the retries.
FAST = {
    "STARTUP_RETRIES": "1",
    "STARTUP_PING_TIMEOUT_SECONDS": "1.5",
    "HEALTH_CACHE_SECONDS": "0.2",
    "HEALTH_CHECK_TIMEOUT_SECONDS": "1.5",
    "MONGO_SERVER_SELECTION_TIMEOUT_MS": "1500",
}


class Secured:
    def __init__(self, pool: ServerPool, tmp: Path, scan: SecretScan) -> None:
        self.ca = CertificateAuthority(tmp / "ca")
        self.cert = self.ca.server("server")
        self.untrusted_ca = CertificateAuthority(tmp / "other-ca", name="a CA nobody trusts")
        self.scan = scan
        for key_line in self.ca.key_texts() + self.untrusted_ca.key_texts():  # private keys are secrets too
            scan.secret(key_line)
        self.mongo_password = scan.secret("mpw-" + secrets.token_urlsafe(18))
        self.redis_password = scan.secret("rpw-" + secrets.token_urlsafe(18))
        self.mongo = pool.mongo(users={"travel": self.mongo_password}, tls=self.cert, ca_file=self.ca.cert)
        self.redis_tls = pool.redis(password=self.redis_password, tls=self.cert, ca_file=self.ca.cert)
        self.redis_plain = pool.redis(password=self.redis_password)
        scan.watch(self.mongo, self.redis_tls, self.redis_plain)

    def mongo_uri(self, password: str | None = None, ca_file: Path | None = None) -> str:
        return self.mongo.uri_for("travel", password or self.mongo_password, "travel_agent", ca_file=ca_file)


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secured]:
    scan = SecretScan()
    with ServerPool(tmp_path_factory.mktemp) as pool:
        yield Secured(pool, tmp_path_factory.mktemp("tls"), scan)


@pytest.fixture
def service(secured: Secured, make_gunicorn: Callable[..., Any]) -> Iterator[Callable[..., Any]]:
    """``service(mongo_uri, redis_url)``: a gunicorn on those URLs; its logs and bodies are secret-scanned
    when the test ends."""
    started: list[Any] = []

    def start(mongo_uri: str, redis_url: str | None) -> Any:
        server = make_gunicorn(mongo_uri=mongo_uri, redis_url=redis_url, env=FAST)
        secured.scan.watch(server)
        started.append(server)
        return server

    yield start
    for server in started:  # what /metrics and /health show is output too
        get(secured, server, "/metrics")
        get(secured, server, "/health")
    secured.scan.assert_clean()


def get(secured: Secured, server: Any, path: str) -> requests.Response:
    return secured.scan.seen(requests.get(server.base_url + path, timeout=10))


def checks(secured: Secured, server: Any) -> tuple[int, dict[str, Any]]:
    response = get(secured, server, "/health")
    return response.status_code, response.json()["checks"]


def chat_round_trip(secured: Secured, server: Any) -> None:
    sent = secured.scan.seen(requests.post(server.base_url + SEND, json={"message": "Two days in Porto"}, timeout=15))
    assert sent.status_code == 200, sent.text
    session = get(secured, server, session_path(sent.json()["session_id"]))
    assert session.status_code == 200
    assert [m["role"] for m in session.json()["messages"]] == ["user", "assistant"]


def test_works_with_scram_tls_mongodb_and_heroku_style_rediss(secured: Secured, service: Callable[..., Any]) -> None:
    # Heroku Redis: a self-signed certificate the client is told not to verify (ssl_cert_reqs=none). The other
    # URL forms (rediss:// with ssl_ca_certs, redis:// with a password) go through the same code: see below.
    server = service(secured.mongo_uri(), secured.redis_tls.url_for(secured.redis_password, query="ssl_cert_reqs=none"))
    status, found = checks(secured, server)
    assert status == 200
    assert {name: check["status"] for name, check in found.items()} == {"mongodb": "healthy", "redis": "healthy"}
    assert "MongoDB connection verified" in server.log_file_text()
    assert "Redis connection verified" in server.log_file_text()
    secured.redis_tls.client().flushdb()
    chat_round_trip(secured, server)
    # The turn went through Redis (the session's context cache), not around it.
    assert secured.redis_tls.client().dbsize() > 0


def test_wrong_passwords_say_authentication_failed(secured: Secured, service: Callable[..., Any]) -> None:
    wrong_mongo = secured.scan.secret("wrong-" + secrets.token_urlsafe(18))
    wrong_redis = secured.scan.secret("wrong-" + secrets.token_urlsafe(18))
    server = service(secured.mongo_uri(password=wrong_mongo), secured.redis_tls.url_for(wrong_redis))
    status, found = checks(secured, server)
    assert status == 503
    assert found["mongodb"]["status"] == "unhealthy"
    assert found["mongodb"]["message"] == "Check failed: authentication failed"
    assert found["redis"]["status"] == "unavailable"
    assert found["redis"]["message"] == "Check failed: authentication failed"
    log = server.log_file_text()
    assert "MongoDB connection attempt 1/1 failed: authentication failed" in log
    assert "MongoDB not verified after 1 attempts (authentication failed)" in log
    assert "Redis connection attempt 1/1 failed: authentication failed" in log
    sent = secured.scan.seen(requests.post(server.base_url + SEND, json={"message": "hi"}, timeout=15))
    assert sent.status_code == 503, sent.text
    assert sent.json()["code"] == 503


# The service's own clients and words, without a gunicorn each: the same code /health and the start-up
# check run (create_client + MongoGateway.ping, create_probe_client + RedisGateway.ping, describe_failure).


def mongo_failure(uri: str) -> str:
    settings = Settings.from_env({}, {"mongodb_uri": uri, "mongo_server_selection_timeout_ms": 1500})
    client = create_client(settings)
    try:
        MongoGateway(client, settings, CircuitBreaker("mongodb", 3, 1.0)).ping(1.5)
    except PyMongoError as exc:
        return describe_mongo_failure(exc)
    finally:
        client.close()
    return "ok"


def redis_failure(url: str) -> str:
    settings = Settings.from_env({}, {"redis_url": url})
    probe = create_probe_client(settings, 1.5)
    try:
        probe.ping()
    except RedisError as exc:
        return describe_redis_failure(exc)
    finally:
        probe.close()
    return "ok"


def test_mongodb_failures_are_told_apart(secured: Secured) -> None:
    wrong = secured.scan.secret("wrong-" + secrets.token_urlsafe(18))
    refused = f"mongodb://travel:{secured.mongo_password}@127.0.0.1:{free_port()}/travel_agent?authSource=admin"
    assert mongo_failure(secured.mongo_uri()) == "ok"
    assert mongo_failure(secured.mongo_uri(password=wrong)) == "authentication failed"
    assert mongo_failure(refused) == "connection refused"
    assert mongo_failure(secured.mongo_uri(ca_file=secured.untrusted_ca.cert)) == "certificate not trusted"


def test_redis_failures_are_told_apart(secured: Secured) -> None:
    wrong = secured.scan.secret("wrong-" + secrets.token_urlsafe(18))
    plain, tls = secured.redis_plain, secured.redis_tls
    assert redis_failure(plain.url_for(secured.redis_password)) == "ok"
    assert redis_failure(tls.url_for(secured.redis_password)) == "ok"  # rediss:// with ssl_ca_certs
    assert redis_failure(tls.url_for(secured.redis_password, query="ssl_cert_reqs=none")) == "ok"
    assert redis_failure(plain.url_for(wrong)) == "authentication failed"
    assert redis_failure(plain.url_for(None)) == "authentication failed"
    assert (
        redis_failure(tls.url_for(secured.redis_password, query=f"ssl_ca_certs={secured.untrusted_ca.cert}"))
        == "certificate not trusted"
    )
    assert redis_failure(f"redis://:{secured.redis_password}@127.0.0.1:{free_port()}/0") == "connection refused"
