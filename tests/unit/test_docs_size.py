"""The README is read first and the two measurement references are read to find a figure: each stays short
enough for that (the dated passes go to docs/journal/, which has no limit)."""

from __future__ import annotations

import pytest

from tools.harness import REPO_ROOT

LIMITS = {"README.md": 160, "docs/PERFORMANCE.md": 300, "docs/RELIABILITY.md": 300}


@pytest.mark.parametrize(("path", "limit"), sorted(LIMITS.items()))
def test_the_doc_stays_within_its_line_limit(path: str, limit: int) -> None:
    lines = len((REPO_ROOT / path).read_text(encoding="utf-8").splitlines())
    assert lines <= limit, f"{path} has {lines} lines, over its {limit}"
