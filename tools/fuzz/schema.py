"""A bounded schemathesis campaign (its own CLI) against the running service's /openapi.json."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

# Every check but "schema-valid data is accepted": some refusals depend on state, not on the schema. The run
# sends a documented example body twice with one Idempotency-Key, and the second is rightly a 422.
EXCLUDED_CHECKS = "positive_data_acceptance"


def command(base_url: str, examples: int, report_dir: Path, seed: int, workers: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        f"{base_url}/openapi.json",
        "--checks",
        "all",
        "--exclude-checks",
        EXCLUDED_CHECKS,
        "--mode",
        "all",
        "--max-examples",
        str(examples),
        "--seed",
        str(seed),
        "--workers",
        str(workers),
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--suppress-health-check",
        "all",
        "--generation-database",
        "none",
        "--request-timeout",
        "30",
        "--max-failures",
        "100",
        "--no-color",
        "--report",
        "json",
        "--report-dir",
        str(report_dir),
    ]


def campaign(
    base_url: str, examples: int, *, seed: int = 20260, workers: int = 2, timeout: float = 540
) -> dict[str, Any]:
    """Run it and return the figures of its JSON report (cases, failures by kind), plus its console summary."""
    with tempfile.TemporaryDirectory(prefix="schemathesis-") as tmp:
        argv = command(base_url, examples, Path(tmp), seed, workers)
        # Run inside the temporary directory: schemathesis keeps a cache in .schemathesis/ of its working one.
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False, cwd=tmp)
        reports = sorted(Path(tmp).glob("json-*.json"))
        report = json.loads(reports[-1].read_text()) if reports else {}
    cases = report.get("test_cases", {})
    return {
        "command": "schemathesis " + " ".join(argv[3:]),
        "exit_code": done.returncode,
        "seconds": round(report.get("running_time", 0.0), 1),
        "operations": report.get("operations", {}).get("tested"),
        "cases": cases.get("generated"),
        "cases_failed": cases.get("with_failures"),
        "failures": report.get("failures", []),
        "errors": report.get("errors", []),
        "phases": {name: phase.get("status") for name, phase in report.get("phases", {}).items()},
        "output_tail": done.stdout[-4000:] if done.returncode else "",
    }
