"""The project's tools beside the service: the real-server harness the tests share (``tools.harness``) and the
long runs behind ``make``: ``tools.chaos``, ``tools.fuzz``, ``tools.benchmarks`` and ``tools.production``.
Each writes its JSON results under ``tools/results/<tool>/`` (git-ignored)."""

from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"
