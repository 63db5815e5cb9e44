"""docs/configuration.md lists every Settings field as its environment variable, each once, and nothing else."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import fields
from pathlib import Path

from travel_agent.config import Settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
# A table row whose first cell is one variable in backticks: "| `PORT` | 8000 | listen port |".
VARIABLE_ROW = re.compile(r"^\|\s*`([A-Z][A-Z0-9_]*)`\s*\|")


def documented_variables(text: str) -> list[str]:
    return [match.group(1) for line in text.splitlines() if (match := VARIABLE_ROW.match(line))]


def test_the_rows_name_exactly_the_settings_each_once() -> None:
    documented = documented_variables(DOC.read_text(encoding="utf-8"))
    expected = {field.name.upper() for field in fields(Settings)}
    twice = sorted(name for name, count in Counter(documented).items() if count > 1)
    assert twice == [], f"listed more than once: {twice}"
    assert sorted(expected - set(documented)) == [], "Settings fields missing from docs/configuration.md"
    assert sorted(set(documented) - expected) == [], "docs/configuration.md lists variables Settings lacks"


def test_the_parser_reads_table_rows_only() -> None:
    text = "| variable | default |\n|---|---|\n| `PORT` | 8000 |\nSee `HOST` in prose.\n| `LOG_DIR` | x |\n"
    assert documented_variables(text) == ["PORT", "LOG_DIR"]
