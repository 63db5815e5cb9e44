"""The prompt of every turn equals what MongoDB holds, with overlapping turns and MongoDB write faults, with the
Redis context cache and without it (the control): a short, seeded run of ``python -m tools.chaos.context_integrity``
(``make chaos`` runs a longer one)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.chaos.context_integrity import run

pytestmark = pytest.mark.slow


def test_every_prompt_equals_the_history_mongodb_holds_under_faults(tmp_path: Path) -> None:
    with_cache, without_cache = run(rounds=12, seed=20260110, workdir=tmp_path, log=print)
    for figures in (with_cache, without_cache):
        # Every round ends with a probe turn checked exactly; the overlapping turns' prompts are checked when they
        # are answered, and a loaded machine answers fewer of them (the faults open a worker's breaker longer).
        assert figures.probes_checked == figures.rounds and figures.prompts_checked >= figures.rounds // 2, figures
        assert figures.faults_armed > 0 and figures.statuses.get("200", 0) > figures.rounds, figures
        assert figures.mismatches == 0, figures.examples
