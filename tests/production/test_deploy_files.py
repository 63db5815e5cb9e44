"""deploy/ and the Procfile, parsed and held to the code's defaults (Settings): probe paths that exist, ports
that match, timeouts that fit the drain, a pod that can run with a read-only root. No cluster or Heroku here;
the router file is checked with ``haproxy -c`` and its own 503 read from a real HAProxy here, and run in front of
the service by test_fleet.py and test_heroku_router.py."""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import fields
from pathlib import PurePosixPath
from typing import Any

import pytest
import requests
import yaml

from tools.harness import REPO_ROOT, free_port
from tools.harness.envelope import assert_envelope
from tools.harness.router import haproxy_binary
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


def test_kubernetes_pod_runs_as_the_images_user_with_a_read_only_root(kube: dict[str, Any]) -> None:
    pod = kube["Deployment"]["spec"]["template"]["spec"]
    spec = container(kube)
    assert pod["securityContext"]["runAsNonRoot"] is True
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    (user,) = re.findall(r"^USER (\d+):(\d+)$", dockerfile, re.MULTILINE)
    assert (pod["securityContext"]["runAsUser"], pod["securityContext"]["runAsGroup"]) == tuple(map(int, user))
    security = spec["securityContext"]
    assert security["readOnlyRootFilesystem"] is True and security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert spec["imagePullPolicy"] in ("IfNotPresent", "Always")
    assert not spec["image"].endswith(":latest") or spec["imagePullPolicy"] == "Always"


def test_kubernetes_mounts_a_writable_volume_wherever_the_service_writes(kube: dict[str, Any]) -> None:
    pod = kube["Deployment"]["spec"]["template"]["spec"]
    env = env_of(kube)
    (workdir,) = re.findall(r"^WORKDIR (\S+)$", (REPO_ROOT / "Dockerfile").read_text(), re.MULTILINE)
    mounts = [PurePosixPath(m["mountPath"]) for m in container(kube)["volumeMounts"]]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert {m["name"] for m in container(kube)["volumeMounts"]} == set(volumes)
    assert all("emptyDir" in v for v in volumes.values())
    # Python's temporary directory when TMPDIR is unset (as in the image): /tmp, the first of its candidates.
    assert "TMPDIR" not in env
    tmp = PurePosixPath("/tmp")
    written = {
        # LOG_DIR: the rotated log file (relative to the image's WORKDIR).
        "LOG_DIR": PurePosixPath(workdir) / env.get("LOG_DIR", DEFAULTS.log_dir),
        # runtime/metrics_files.py: the Prometheus multiprocess directory, the console's files inside it.
        "PROMETHEUS_MULTIPROC_DIR": PurePosixPath(env.get("PROMETHEUS_MULTIPROC_DIR", tmp)),
        # gunicorn's worker heartbeat files (worker_tmp_dir, unset in gunicorn.conf.py) and tempfile.mkdtemp.
        "worker_tmp_dir": tmp,
    }
    assert "worker_tmp_dir" not in (REPO_ROOT / "gunicorn.conf.py").read_text()
    for what, path in written.items():
        assert any(path == m or m in path.parents for m in mounts), f"{what} ({path}) is not on a writable volume"
    # Bytecode is never written (the code lives on the read-only root).
    assert "PYTHONDONTWRITEBYTECODE=1" in (REPO_ROOT / "Dockerfile").read_text()


def test_kubernetes_startup_probe_disruption_budget_and_console_token_secret(kube: dict[str, Any]) -> None:
    spec = container(kube)
    startup = spec["startupProbe"]
    assert startup["httpGet"] == {"path": "/health/live", "port": "http"}
    # Time to start before the liveness probe may restart the pod: more than the start-up checks can take (each
    # attempt bounded by server selection, then the delay), though a worker serves while they run.
    budget = startup["periodSeconds"] * startup["failureThreshold"]
    attempt = DEFAULTS.mongo_server_selection_timeout_ms / 1000 + DEFAULTS.startup_retry_delay_seconds
    assert budget >= DEFAULTS.startup_retries * attempt
    budget_doc = kube["PodDisruptionBudget"]["spec"]
    assert budget_doc["selector"]["matchLabels"] == kube["Deployment"]["spec"]["selector"]["matchLabels"]
    assert 1 <= budget_doc["minAvailable"] < kube["Deployment"]["spec"]["replicas"]
    assert spec["envFrom"] == [{"secretRef": {"name": "travel-agent"}}]
    header = (REPO_ROOT / "deploy" / "kubernetes.yaml").read_text().split("apiVersion", 1)[0]
    assert "CONSOLE_TOKEN" in header and "--from-literal=CONSOLE_TOKEN=" in header


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


def test_haproxy_without_its_environment_names_each_missing_variable() -> None:
    config = REPO_ROOT / "deploy" / "haproxy.cfg"
    bare = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    checked = subprocess.run(
        [haproxy_binary(), "-c", "-f", str(config)], env=bare, capture_output=True, text=True, timeout=30
    )
    assert checked.returncode != 0
    for name in ("ROUTER_BIND", "ROUTER_STATS_BIND", "APP1_ADDR", "APP2_ADDR"):
        assert f"{name} is not set" in checked.stderr, checked.stderr
    assert "expects" not in checked.stderr, checked.stderr  # not HAProxy's own puzzle about an empty bind
    full = bare | {
        "ROUTER_BIND": "127.0.0.1:18080",
        "ROUTER_STATS_BIND": "127.0.0.1:18404",
        "APP1_ADDR": "127.0.0.1:18001",
        "APP2_ADDR": "127.0.0.1:18002",
    }
    # Checked from another directory: the 503 body file is found beside the config.
    checked = subprocess.run(
        [haproxy_binary(), "-c", "-f", str(config)],
        env=full,
        capture_output=True,
        text=True,
        timeout=30,
        cwd=tempfile.gettempdir(),
    )
    assert checked.returncode == 0, checked.stderr


@pytest.mark.slow
def test_haproxys_own_503_is_the_services_envelope_with_retry_after(make_router: Callable[..., Any]) -> None:
    # Nothing listens at either instance's address: the router has no server to give the request to.
    router = make_router({"app1": free_port(), "app2": free_port()})
    answer = requests.get(router.base_url + "/api/chat/sessions/0123456789abcdef01234567", timeout=30)
    body = assert_envelope(answer, 503, "Service Unavailable")
    assert answer.headers["Retry-After"] == "1" and body["error"] == "no_instance"  # docs/api.md lists it
    assert body["message"].endswith("Please retry.")
    sent = requests.get(router.base_url + "/health", headers={"X-Request-ID": "mine-1"}, timeout=30)
    assert_envelope(sent, 503)


# -- Heroku -----------------------------------------------------------------------------------------------


def test_heroku_procfile_and_limits() -> None:
    assert (REPO_ROOT / "Procfile").read_text().strip() == "web: python -m travel_agent serve"
    # Heroku SIGKILLs a dyno 30 s after SIGTERM: the drain must end first.
    assert DEFAULTS.graceful_timeout_seconds < HEROKU_SIGKILL_AFTER_SIGTERM
    # A stream shows life well inside the router's first-byte and idle limits.
    assert DEFAULTS.chat_heartbeat_seconds < HEROKU_FIRST_BYTE < HEROKU_IDLE
