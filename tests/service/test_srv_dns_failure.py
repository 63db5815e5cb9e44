"""A mongodb+srv:// URI whose SRV record cannot be resolved is an outage, not a bug: the service boots,
chats answer 503 with Retry-After, the breaker counts it and opens, /health says in words what failed.

The name is under .invalid (RFC 6761), which no resolver answers: the lookup fails here as it does when
DNS is down, and no traffic leaves the machine for a real cluster. Real gunicorn.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests

pytestmark = pytest.mark.slow

SRV_URI = "mongodb+srv://trips:hunter2@cluster0.travel-agent.invalid/trips"


def test_an_unresolvable_srv_uri_is_a_503_outage_with_the_breaker_counting_it(
    make_gunicorn: Callable[..., Any], wait_until: Callable[..., Any]
) -> None:
    service = make_gunicorn(
        mongo_uri=SRV_URI,
        env={
            "STARTUP_RETRIES": "1",
            "REDIS_URL": None,
            "HEALTH_CACHE_SECONDS": "0.2",
            "BREAKER_FAILURE_THRESHOLD": "3",
            "BREAKER_RESET_SECONDS": "30",
        },
    )
    assert requests.get(service.base_url + "/health/live", timeout=5).status_code == 200

    answers = [
        requests.post(service.base_url + "/api/chat/send", json={"message": "Oslo in May"}, timeout=15)
        for _ in range(4)
    ]
    for answer in answers:
        assert answer.status_code == 503, answer.text
        body = answer.json()
        assert body["code"] == 503 and body["request_id"] and int(answer.headers["Retry-After"]) >= 1
    health = requests.get(service.base_url + "/health", timeout=10)
    assert health.status_code == 503
    check = health.json()["checks"]["mongodb"]
    assert check["status"] == "unhealthy" and check["circuit"] == "open", check
    assert "DNS" in check["message"] and "ConfigurationError" not in check["message"], check
    assert requests.get(service.base_url + "/health/ready", timeout=5).status_code == 503
    output = service.log_text()
    assert "Traceback" not in output and "hunter2" not in output and "answered 500" not in output
