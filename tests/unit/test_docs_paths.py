"""Every repo path the README and docs/*.md name exists, so that a move or a removal cannot leave them behind.

Checked: backticked paths (`src/...`, `tools/...`, `tests/...`, `scripts/...`, module paths such as
`api/chat.py` or `offline/places.py` that name the tail of a file in the tree, bare names such as `errors.py`)
and relative Markdown links and images. Not checked: docs/journal/, which records earlier states of the
tree on purpose; URLs and URL paths (`/health/live`); names with placeholders (`<pid>`, `*`, `$PORT`).
"""

from __future__ import annotations

import os
import re
from functools import cache
from pathlib import Path

import pytest

from tools.harness import REPO_ROOT

DOCS = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
# The top-level folders of the repo: a backticked path starting with one of them is a repo path.
TOP_LEVEL = ("src/", "wsgi/", "tests/", "tools/", "docs/", "deploy/", "scripts/", ".ci/")
# Written by runs, git-ignored: named in the docs as where to look, absent from a clean clone.
GENERATED = ("tools/results/", "data/", "test-artifacts/")
# Files the service writes at run time under names the docs give.
RUNTIME_FILES = frozenset({"history.json"})
# A bare file name (no folder) is a repo file when it has one of these endings.
FILE_ENDINGS = (".py", ".md", ".cfg", ".toml", ".yml", ".yaml", ".txt", ".html", ".json", ".conf")
PLACEHOLDER = re.compile(r"[<>*$:?=@{}\[\]()|,]")
TICKED = re.compile(r"`([^`\s]+)`")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
SKIPPED_DIRS = frozenset({".git", "__pycache__", "data", "test-artifacts", "results", "node_modules"})


@cache
def tree() -> frozenset[str]:
    """Every file and folder of the checkout, as repo-relative POSIX paths (folders with a trailing slash)."""
    found: set[str] = set()
    for folder, dirs, files in os.walk(REPO_ROOT):
        dirs[:] = [d for d in dirs if d not in SKIPPED_DIRS and not d.startswith((".venv", ".mypy", ".ruff"))]
        base = Path(folder).relative_to(REPO_ROOT).as_posix()
        prefix = "" if base == "." else base + "/"
        found.update(prefix + d + "/" for d in dirs)
        found.update(prefix + f for f in files)
    return frozenset(found)


def is_repo_path(text: str) -> bool:
    if PLACEHOLDER.search(text) or text.startswith("/") or text.startswith(GENERATED) or text in RUNTIME_FILES:
        return False
    if text.startswith(TOP_LEVEL):
        return True
    if "/" not in text:
        return text.endswith(FILE_ENDINGS)
    # A module path (api/chat.py, offline/places.py, runtime/): a folder of ours, then a file or a folder.
    return text.endswith((*FILE_ENDINGS, "/"))


def exists(text: str) -> bool:
    """At the repo root, or as the tail of a repo path (`api/chat.py` is src/travel_agent/api/chat.py)."""
    paths = tree()
    if text in paths or text + "/" in paths:
        return True
    tail = "/" + text
    return any(path.endswith(tail) or path.endswith(tail + "/") for path in paths)


def named_paths(doc: Path) -> list[str]:
    text = doc.read_text(encoding="utf-8")
    return sorted({match for match in TICKED.findall(text) if is_repo_path(match)})


def linked_paths(doc: Path) -> list[str]:
    targets = (target.split("#", 1)[0] for target in LINK.findall(doc.read_text(encoding="utf-8")))
    return sorted({target for target in targets if target and "://" not in target and not target.startswith("mailto:")})


@pytest.mark.parametrize("doc", DOCS, ids=lambda doc: doc.relative_to(REPO_ROOT).as_posix())
def test_every_backticked_repo_path_exists(doc: Path) -> None:
    missing = [path for path in named_paths(doc) if not exists(path)]
    where = doc.relative_to(REPO_ROOT).as_posix()
    assert not missing, f"{where} names paths that are not in the tree: " + ", ".join(missing)


@pytest.mark.parametrize("doc", DOCS, ids=lambda doc: doc.relative_to(REPO_ROOT).as_posix())
def test_every_relative_link_resolves(doc: Path) -> None:
    missing = [target for target in linked_paths(doc) if not (doc.parent / target).exists()]
    where = doc.relative_to(REPO_ROOT).as_posix()
    assert not missing, f"{where} links to files that are not in the tree: " + ", ".join(missing)


def test_the_checker_sees_what_it_must() -> None:
    # The rules above decide what is checked; a rule that quietly matched nothing would pass every doc.
    assert is_repo_path("src/travel_agent/config.py") and is_repo_path("api/chat.py") and is_repo_path("errors.py")
    assert is_repo_path("scripts/test") and is_repo_path("runtime/")
    assert not is_repo_path("/health/live") and not is_repo_path("application/json")
    assert not is_repo_path("tools/results/chaos/") and not is_repo_path("errors-<pid>.json")
    assert exists("api/chat.py") and exists("scripts/test") and exists("errors.py") and exists("runtime/")
    assert not exists("api/no_such_module.py") and not exists("tools/no_such_tool/")
    readme = named_paths(REPO_ROOT / "README.md")
    assert "scripts/run" in readme and "gunicorn.conf.py" in readme
