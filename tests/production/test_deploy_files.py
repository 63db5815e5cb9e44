"""deploy/ and the Procfile, parsed and held to the code's defaults (Settings): probe paths that exist, ports
that match, and timeouts that fit the drain. No cluster or Heroku here; the router file is also run for real by
test_fleet.py and test_heroku_router.py."""

from __future__ import annotations

import re
from dataclasses import fields
from typing import Any

import pytest
import yaml

from tools.harness import REPO_ROOT
from travel_agent.config import Settings
from travel_agent.web.probes import ProbeMiddleware

DEFAULTS = Settings.from_env({})
KNOWN_VARIABLES = {f.name.upper() for f in fields(Settings)}
HEROKU_SIGKILL_AFTER_SIGTERM = 30
HEROKU_FIRST_BYTE, HEROKU_IDLE = 30, 55


def health_paths() -> set[str]:
    """The paths the probe layer answers (it is their only implementation)."""
    layer = ProbeMiddleware(lambda environ, start_response: [], None, None, None)  # type: ignore[arg-type]
    return set(layer._answers)


def seconds(value: str) -> float:
    match = re.fullmatch(r"(\d+)(ms|s|m)?", value)
    assert match, value
    return int(match.group(1)) * {"ms": 0.001, "s": 1, "m": 60, None: 0.001}[match.group(2)]


# -- Kubernetes -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kube() -> dict[str, dict[str, Any]]:
    docs = list(yaml.safe_load_all((REPO_ROOT / "deploy" / "kubernetes.yaml").read_text()))
    return {doc["kind"]: doc for doc in docs}


def container(kube: dict[str, dict[str, Any]]) -> dict[str, Any]:
    (only,) = kube["Deployment"]["spec"]["template"]["spec"]["containers"]
    return only


def env_of(kube: dict[str, dict[str, Any]]) -> dict[str, str]:
    return {item["name"]: item["value"] for item in container(kube)["env"]}


def test_kubernetes_probes_point_at_the_services_health_routes_on_its_port(kube: dict[str, Any]) -> None:
    spec = container(kube)
    ports = {port["name"]: port["containerPort"] for port in spec["ports"]}
    assert ports == {"http": DEFAULTS.port}
    assert int(env_of(kube)["PORT"]) == DEFAULTS.port
    live, ready = spec["livenessProbe"], spec["readinessProbe"]
    assert (live["httpGet"]["path"], ready["httpGet"]["path"]) == ("/health/live", "/health/ready")
    assert {"/health/live", "/health/ready"} <= health_paths()
    assert live["httpGet"]["port"] == ready["httpGet"]["port"] == "http"
    # The readiness answer may wait for a MongoDB ping bounded by HEALTH_CHECK_TIMEOUT_SECONDS.
    assert ready["timeoutSeconds"] > DEFAULTS.health_check_timeout_seconds
    assert ready["failureThreshold"] == 1  # out of the Service at the first 503 (a drain)
    service = kube["Service"]["spec"]
    assert service["selector"] == kube["Deployment"]["spec"]["selector"]["matchLabels"]
    assert [port["targetPort"] for port in service["ports"]] == ["http"]


def test_kubernetes_shutdown_fits_the_drain(kube: dict[str, Any]) -> None:
    pod = kube["Deployment"]["spec"]["template"]["spec"]
    env = env_of(kube)
    graceful = int(env.get("GRACEFUL_TIMEOUT_SECONDS", DEFAULTS.graceful_timeout_seconds))
    assert graceful == DEFAULTS.graceful_timeout_seconds
    command = container(kube)["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep"
    pause = int(command[1])
    assert 2 <= pause <= 10
    # The kubelet's SIGKILL comes terminationGracePeriodSeconds after the preStop hook starts.
    assert pod["terminationGracePeriodSeconds"] >= pause + graceful + 1
    strategy = kube["Deployment"]["spec"]["strategy"]["rollingUpdate"]
    assert strategy["maxUnavailable"] == 0


def test_kubernetes_requests_resources_and_sets_only_known_variables(kube: dict[str, Any]) -> None:
    resources = container(kube)["resources"]
    assert {"cpu", "memory"} <= set(resources["requests"])
    assert set(env_of(kube)) <= KNOWN_VARIABLES
    assert int(env_of(kube)["WEB_CONCURRENCY"]) == DEFAULTS.web_concurrency


# -- HAProxy ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def haproxy() -> list[str]:
    text = (REPO_ROOT / "deploy" / "haproxy.cfg").read_text()
    return [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]


def directive(lines: list[str], prefix: str) -> str:
    (found,) = [line for line in lines if line.startswith(prefix + " ")]
    return found[len(prefix) + 1 :]


def test_haproxy_checks_readiness_and_waits_longer_than_the_chat_budget(haproxy: list[str]) -> None:
    assert directive(haproxy, "option httpchk") == "GET /health/ready"
    assert "/health/ready" in health_paths()
    assert directive(haproxy, "http-check expect") == "status 200"
    servers = [line for line in haproxy if line.startswith("server ")]
    assert len(servers) == 2 and all(line.endswith(" check") for line in servers)
    # The service answers every request within its own budget; the router must not cut it first.
    assert seconds(directive(haproxy, "timeout server")) > DEFAULTS.chat_timeout_seconds
    assert seconds(directive(haproxy, "timeout server")) > DEFAULTS.request_timeout_seconds
    # Only a connection that failed is re-sent: a request the service may have received would run twice.
    assert directive(haproxy, "retry-on") == "conn-failure"
    check = dict(zip(*[iter(directive(haproxy, "default-server").split())] * 2, strict=True))
    # Out of rotation within a couple of seconds of a drain starting (measured: tests/production/test_fleet.py).
    assert seconds(check["inter"]) * int(check["fall"]) <= 2


# -- Heroku -----------------------------------------------------------------------------------------------


def test_heroku_procfile_and_limits() -> None:
    assert (REPO_ROOT / "Procfile").read_text().strip() == "web: python -m travel_agent serve"
    # Heroku SIGKILLs a dyno 30 s after SIGTERM: the drain must end first.
    assert DEFAULTS.graceful_timeout_seconds < HEROKU_SIGKILL_AFTER_SIGTERM
    # A stream shows life well inside the router's first-byte and idle limits.
    assert DEFAULTS.chat_heartbeat_seconds < HEROKU_FIRST_BYTE < HEROKU_IDLE
